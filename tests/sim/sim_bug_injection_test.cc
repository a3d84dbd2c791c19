// Proves the simulator catches classic Raft bugs: for each bug compiled into the test-only core
// (credledger_consensus_buggy, -DCREDLEDGER_RAFT_BUG_INJECTION) it runs seeds until a checker
// reports a violation, within a bounded seed budget, and checks that the bug-free core run on the
// same seed stays clean. Budgets are seeds (each a few milliseconds); the first hit is usually
// far below them, and since runs are deterministic the test cannot flake.
#include <catch2/catch.hpp>

#include <string>

#include "consensus/internal/bug_injection.h"
#include "tests/sim/simulator.h"

using consensus::internal::RaftBug;

namespace {

// Returns the first violation found within `budget` seeds, or "" if none.
sim::Options options_for(uint64_t seed, sim::Profile profile) {
  sim::Options o;
  o.seed = seed;
  o.nodes = seed % 2 == 0 ? 3 : 5;
  o.profile = profile;
  return o;
}

std::string hunt(RaftBug bug, sim::Profile profile, uint64_t budget, uint64_t* seeds_used) {
  consensus::internal::set_injected_bug(bug);
  for (uint64_t seed = 1; seed <= budget; ++seed) {
    sim::Options o = options_for(seed, profile);
    sim::Result r = sim::run(o);
    if (!r.ok) {
      *seeds_used = seed;
      consensus::internal::set_injected_bug(RaftBug::kNone);
      return sim::describe(o) + ": " + r.violation;
    }
  }
  *seeds_used = budget;
  consensus::internal::set_injected_bug(RaftBug::kNone);
  return "";
}

void expect_found(RaftBug bug, sim::Profile profile, uint64_t budget) {
  uint64_t used = 0;
  std::string violation = hunt(bug, profile, budget, &used);
  INFO("bug " << static_cast<int>(bug) << " after " << used << " seeds: " << violation);
  REQUIRE_FALSE(violation.empty());
  // The same seed without the bug is clean: the violation comes from the bug, not the harness.
  CHECK(sim::run(options_for(used, profile)).ok);
}

}  // namespace

TEST_CASE("finds: leader commits an earlier-term entry by counting replicas", "[sim]") {
  expect_found(RaftBug::kCommitEarlierTermByCount, sim::Profile::kLeaderChurn, 3000);
}

TEST_CASE("finds: vote granted without the log up-to-date check", "[sim]") {
  expect_found(RaftBug::kVoteWithoutLogCheck, sim::Profile::kMixed, 500);
}

TEST_CASE("finds: vote not persisted before answering", "[sim]") {
  expect_found(RaftBug::kVoteNotPersisted, sim::Profile::kLeaderChurn, 2000);
}

TEST_CASE("finds: ReadIndex answered without confirming leadership", "[sim]") {
  expect_found(RaftBug::kReadIndexWithoutHeartbeat, sim::Profile::kMixed, 500);
}
