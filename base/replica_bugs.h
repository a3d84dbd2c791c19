// Node-level bugs that the replica simulator must be able to find (issue #13), the way
// consensus/internal/bug_injection.h holds classic Raft bugs.
//
// Compiled in only by the test-only libraries credledger_ledger_buggy and
// credledger_replica_buggy (tests/sim), built from the same sources with
// -DCREDLEDGER_REPLICA_BUG_INJECTION. Production targets never define it: there REPLICA_BUG(x)
// is the constant false, the code paths fold away, and set_injected_replica_bug() does not exist.
#pragma once

#ifdef CREDLEDGER_REPLICA_BUG_INJECTION
#include <atomic>
#endif

namespace base {

enum class ReplicaBug {
  kNone = 0,
  // After a block sync, the follower sets its applied cursor to the leader's compaction point
  // even when blocks of an earlier, interrupted sync already took it further, so those entries
  // are applied a second time (the fork a 30-minute soak of real processes found in #11).
  kSyncCursorMovesBack,
  // The leader applies and answers its own entries as soon as they are appended to its log,
  // before a quorum holds them: a receipt is sent for a block that may never be committed.
  kReceiptBeforeCommit,
  // The state machine's duplicate check looks only at the block being applied, not at the
  // ledger, so an event retried through another leader is accepted twice.
  kDuplicateCheckBatchOnly,
};

#ifdef CREDLEDGER_REPLICA_BUG_INJECTION
// The bug every replica and ledger in the process runs with (tests run one simulation at a time).
inline std::atomic<ReplicaBug> injected_replica_bug_value{ReplicaBug::kNone};
inline void set_injected_replica_bug(ReplicaBug bug) { injected_replica_bug_value = bug; }
inline ReplicaBug injected_replica_bug() { return injected_replica_bug_value.load(); }
#define REPLICA_BUG(name) (::base::injected_replica_bug() == ::base::ReplicaBug::name)
#else
#define REPLICA_BUG(name) false
#endif

}  // namespace base
