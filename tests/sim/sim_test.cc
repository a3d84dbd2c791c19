// Runs the cluster simulator (simulator.h) over a fixed budget of seeds for clusters of 1, 3, 5
// and 7 voters, with every fault on, and fails with the seed and replay command of the first
// violation. The seed ranges are split into several TEST_CASEs so ctest runs them in parallel;
// the whole budget is sized to about two CPU-minutes on a slow 2-core machine.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sim/simulator.h"

namespace {

void run_seeds(int nodes, uint64_t first_seed, uint64_t count,
               sim::Profile profile = sim::Profile::kMixed) {
  for (uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    sim::Options o;
    o.seed = seed;
    o.nodes = nodes;
    o.profile = profile;
    sim::Result r = sim::run(o);
    if (!r.ok) {
      FAIL(sim::describe(o) << ": " << r.violation << "\n  replay: credledger_sim --seed " << seed
                            << " --nodes " << nodes
                            << (profile == sim::Profile::kLeaderChurn ? " --profile churn" : "")
                            << " --verbose");
    }
  }
  SUCCEED("ran " << count << " seeds");
}

}  // namespace

// Budget: 6,900 seeds of 1,000 chaos ticks plus the heal phase, about 3 ms each on one core
// (measured: ~20 CPU-seconds in total, ~10 s wall-clock over 2 cores).
TEST_CASE("sim: 1 node - mixed faults", "[sim]") { run_seeds(1, 1, 500); }
TEST_CASE("sim: 3 nodes - mixed faults - seeds 1..", "[sim]") { run_seeds(3, 1, 1000); }
TEST_CASE("sim: 3 nodes - mixed faults - seeds 100001..", "[sim]") { run_seeds(3, 100001, 1000); }
TEST_CASE("sim: 5 nodes - mixed faults - seeds 1..", "[sim]") { run_seeds(5, 1, 800); }
TEST_CASE("sim: 5 nodes - mixed faults - seeds 100001..", "[sim]") { run_seeds(5, 100001, 800); }
TEST_CASE("sim: 7 nodes - mixed faults - seeds 1..", "[sim]") { run_seeds(7, 1, 600); }
TEST_CASE("sim: 7 nodes - mixed faults - seeds 100001..", "[sim]") { run_seeds(7, 100001, 600); }
TEST_CASE("sim: 3 nodes - leader churn", "[sim]") {
  run_seeds(3, 1, 800, sim::Profile::kLeaderChurn);
}
TEST_CASE("sim: 5 nodes - leader churn", "[sim]") {
  run_seeds(5, 1, 800, sim::Profile::kLeaderChurn);
}

TEST_CASE("same seed replays the same run", "[sim]") {
  sim::Options o;
  o.seed = 42;
  o.nodes = 5;
  sim::Result a = sim::run(o);
  sim::Result b = sim::run(o);
  REQUIRE(a.ok);
  CHECK(a.ticks == b.ticks);
  CHECK(a.messages_delivered == b.messages_delivered);
  CHECK(a.entries_committed == b.entries_committed);
  CHECK(a.reads_served == b.reads_served);
  CHECK(a.crashes == b.crashes);
  CHECK(a.elections == b.elections);
}
