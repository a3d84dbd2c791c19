// Runs the replica simulator (replica_sim.h) over a fixed budget of seeds, 3 and 5 nodes with
// every fault on, and fails with the seed of the first violation. Each seed runs real replicas
// on RocksDB in /dev/shm (about a second of CPU each on a slow 2-core machine), so the budget
// is small and split into TEST_CASEs that ctest runs in parallel; tests/sim/soak.sh-style long
// runs use the same entry point with more seeds.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sim/replica_sim.h"

namespace {

void run_seeds(int nodes, uint64_t first_seed, uint64_t count) {
  for (uint64_t seed = first_seed; seed < first_seed + count; ++seed) {
    replica_sim::Options o;
    o.seed = seed;
    o.nodes = nodes;
    const replica_sim::Result r = replica_sim::run(o);
    INFO(replica_sim::describe(o) << ": " << r.violation);
    REQUIRE(r.ok);
    // A run that acknowledged nothing tested nothing.
    CHECK(r.events_acknowledged > 0);
  }
}

}  // namespace

TEST_CASE("replica sim: 3 nodes - seeds 1..", "[sim]") { run_seeds(3, 1, 12); }
TEST_CASE("replica sim: 5 nodes - seeds 1..", "[sim]") { run_seeds(5, 1, 8); }

TEST_CASE("replica sim: the same seed replays the same run", "[sim]") {
  replica_sim::Options o;
  o.seed = 7;
  const replica_sim::Result a = replica_sim::run(o);
  const replica_sim::Result b = replica_sim::run(o);
  REQUIRE(a.ok);
  CHECK(a.ticks == b.ticks);
  CHECK(a.events_acknowledged == b.events_acknowledged);
  CHECK(a.blocks == b.blocks);
  CHECK(a.crashes == b.crashes);
  CHECK(a.block_syncs == b.block_syncs);
}

TEST_CASE("replica sim: a run exercises crashes, block syncs and compaction", "[sim]") {
  uint64_t crashes = 0, syncs = 0, cut = 0, acked = 0;
  for (uint64_t seed = 101; seed < 104; ++seed) {
    replica_sim::Options o;
    o.seed = seed;
    const replica_sim::Result r = replica_sim::run(o);
    INFO(replica_sim::describe(o) << ": " << r.violation);
    REQUIRE(r.ok);
    crashes += r.crashes;
    syncs += r.block_syncs;
    cut += r.block_syncs_cut;
    acked += r.events_acknowledged;
  }
  CHECK(crashes > 0);
  CHECK(syncs > 0);
  CHECK(cut > 0);
  CHECK(acked > 100);
}
