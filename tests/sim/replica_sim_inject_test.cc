// Proves the replica simulator catches node-level bugs, as sim_bug_injection_test does for the
// Raft core: for each bug compiled into the test-only ledger and replica
// (-DCREDLEDGER_REPLICA_BUG_INJECTION, base/replica_bugs.h) it runs seeds until a checker
// reports a violation, within a bounded seed budget, and checks that the same seed without the
// bug stays clean. Runs are deterministic, so the test cannot flake.
#include <catch2/catch.hpp>

#include <string>

#include "base/replica_bugs.h"
#include "tests/sim/replica_sim.h"

using base::ReplicaBug;

namespace {

replica_sim::Options options_for(uint64_t seed) {
  replica_sim::Options o;
  o.seed = seed;
  o.nodes = 3;
  return o;
}

void expect_found(ReplicaBug bug, uint64_t budget) {
  base::set_injected_replica_bug(bug);
  std::string violation;
  uint64_t seed = 1;
  for (; seed <= budget && violation.empty(); ++seed) {
    const replica_sim::Result r = replica_sim::run(options_for(seed));
    if (!r.ok) violation = replica_sim::describe(options_for(seed)) + ": " + r.violation;
  }
  base::set_injected_replica_bug(ReplicaBug::kNone);
  INFO("bug " << static_cast<int>(bug) << " after " << seed - 1 << " seeds: " << violation);
  REQUIRE_FALSE(violation.empty());
  const replica_sim::Result clean = replica_sim::run(options_for(seed - 1));
  INFO("the same seed without the bug: " << clean.violation);
  CHECK(clean.ok);
}

}  // namespace

TEST_CASE("inject: block sync moves the applied cursor back", "[sim]") {
  expect_found(ReplicaBug::kSyncCursorMovesBack, 40);
}

TEST_CASE("inject: receipt sent before its block is committed", "[sim]") {
  expect_found(ReplicaBug::kReceiptBeforeCommit, 20);
}

TEST_CASE("inject: duplicate check looks only at the batch", "[sim]") {
  expect_found(ReplicaBug::kDuplicateCheckBatchOnly, 20);
}
