#include "consensus/internal/bug_injection.h"

#ifdef CREDLEDGER_RAFT_BUG_INJECTION
namespace consensus::internal {
namespace {
RaftBug g_injected_bug = RaftBug::kNone;
}  // namespace

void set_injected_bug(RaftBug bug) { g_injected_bug = bug; }
RaftBug injected_bug() { return g_injected_bug; }

}  // namespace consensus::internal
#endif
