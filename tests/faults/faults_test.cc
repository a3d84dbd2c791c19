// The fault-injection harness (issue #7) within the test budget: four fixed seeds, 3 and 5
// nodes, 15 s of faults each (kill -9, pauses, isolation, one-way partitions, splits, link cuts)
// under concurrent submits and reads, then the after-healing checks and credaudit on every node.
// Odd seeds compact the Raft log every 64 entries, so that returning nodes catch up by block
// sync. Long runs use the standalone credledger_faults binary and tests/faults/soak.sh.
#include <catch2/catch.hpp>
#include <iostream>

#include "tests/faults/harness.h"

namespace faults {
namespace {

void run_and_check(uint64_t seed, size_t nodes, int64_t seconds) {
  RunOptions options;
  options.seed = seed;
  options.nodes = nodes;
  options.fault_seconds = seconds;
  INFO("fault run seed " << seed << ", " << nodes << " nodes, " << seconds << " s");
  const RunReport report = run_faults(options);
  std::cout << report.summary() << "\n" << std::flush;
  INFO(report.failure);
  CHECK(report.ok());
  // The run must have exercised something: faults, acknowledged writes and checked reads.
  CHECK(report.faults_applied >= 3);
  CHECK(report.check.stats.acknowledged_events > 0);
  CHECK(report.check.stats.linearizable_reads_checked > 0);
  CHECK(report.audits_passed == nodes);
}

}  // namespace

TEST_CASE("fault run: 3 nodes, seed 1", "[integration][faults]") { run_and_check(1, 3, 15); }

TEST_CASE("fault run: 5 nodes, seed 2", "[integration][faults]") { run_and_check(2, 5, 15); }

TEST_CASE("fault run: 3 nodes, seed 3", "[integration][faults]") { run_and_check(3, 3, 15); }

TEST_CASE("fault run: 5 nodes, seed 5", "[integration][faults]") { run_and_check(5, 5, 15); }

}  // namespace faults
