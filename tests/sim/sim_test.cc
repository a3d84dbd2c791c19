// Runs the cluster simulator (simulator.h) over a fixed budget of seeds for clusters of 1, 3, 5
// and 7 voters, with every fault on, and fails with the seed and replay command of the first
// violation. The seed ranges are split into several TEST_CASEs so ctest runs them in parallel;
// the whole budget is sized to about two CPU-minutes on a slow 2-core machine.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sim/simulator.h"

namespace {

void run_seeds(int nodes, uint64_t first_seed, uint64_t count) {
  for (uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    sim::Options o;
    o.seed = seed;
    o.nodes = nodes;
    sim::Result r = sim::run(o);
    if (!r.ok) {
      FAIL(sim::describe(o) << ": " << r.violation << "\n  replay: credledger_sim --seed " << seed
                            << " --nodes " << nodes << " --verbose");
    }
  }
  SUCCEED("ran " << count << " seeds");
}

}  // namespace

TEST_CASE("one node: every seed safe and live", "[sim]") { run_seeds(1, 1, 200); }
TEST_CASE("three nodes, seeds 1..", "[sim]") { run_seeds(3, 1, 400); }
TEST_CASE("three nodes, seeds 10001..", "[sim]") { run_seeds(3, 10001, 400); }
TEST_CASE("five nodes, seeds 1..", "[sim]") { run_seeds(5, 1, 300); }
TEST_CASE("five nodes, seeds 10001..", "[sim]") { run_seeds(5, 10001, 300); }
TEST_CASE("seven nodes, seeds 1..", "[sim]") { run_seeds(7, 1, 300); }
TEST_CASE("seven nodes, seeds 10001..", "[sim]") { run_seeds(7, 10001, 300); }

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
