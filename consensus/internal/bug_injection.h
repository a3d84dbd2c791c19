// Classic Raft bugs that the simulator must be able to find (issue #3).
//
// This header is compiled into the test-only library credledger_consensus_buggy, built from the
// same sources with -DCREDLEDGER_RAFT_BUG_INJECTION. The production library credledger_consensus
// never defines it: there RAFT_BUG(x) is the constant false and the code paths fold away, and
// set_injected_bug() does not exist.
#pragma once

namespace consensus::internal {

enum class RaftBug {
  kNone = 0,
  // Leader commits an entry of an earlier term by counting replicas (Raft paper Figure 8).
  kCommitEarlierTermByCount,
  // A voter grants its vote without checking that the candidate's log is up to date (§5.4.1).
  kVoteWithoutLogCheck,
  // The vote is not part of the persisted hard state, so a restarted voter votes twice in a term.
  kVoteNotPersisted,
  // The leader answers ReadIndex with its commit index without confirming it is still leader.
  kReadIndexWithoutHeartbeat,
};

#ifdef CREDLEDGER_RAFT_BUG_INJECTION
// Selects the bug for every Raft in the process (tests run one simulation at a time).
void set_injected_bug(RaftBug bug);
RaftBug injected_bug();
#define RAFT_BUG(name) \
  (::consensus::internal::injected_bug() == ::consensus::internal::RaftBug::name)
#else
#define RAFT_BUG(name) false
#endif

}  // namespace consensus::internal
