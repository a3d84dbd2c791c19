// One fault-injection run against a real cluster (issue #7).
//
// run_faults starts a 3- or 5-node credd cluster on 127.0.0.1 (tests/integration/cluster.h)
// whose every directed peer link i -> j goes through its own proxy (proxy.h). Several clients
// submit signed events about their own subjects and read subjects back (LINEARIZABLE and
// LOCAL), spread over every node, while the calling thread applies the seeded fault schedule
// (schedule.h): kill -9 and restart, SIGSTOP/SIGCONT longer than the election timeout,
// isolation of a node (often the leader), one-way partitions, splits and single-link cuts,
// refusing or blackholing. Every operation is recorded with start, end and outcome (history.h).
//
// After the schedule the harness heals everything (links pass, paused nodes continue, killed
// nodes restart), lets the load run on briefly, then requires progress (a probe submit commits),
// waits until every node has applied the same index, and checks (checker.h) the history against
// every node's chain and head. Each node's view must then list exactly the chain's accepted
// events for every subject, and its event index must place a sample of events as the chain does.
// Each node's chain is then exported with `credctl export`, its latest quorum checkpoint fetched
// with `credctl checkpoint`, and both verified by the `credaudit verify` binary. A failure report
// names the seed, the fault schedule as applied and the offending operations.
//
// Threads: call from the thread that owns the test (it forks the credd processes).
// Catch2: the cluster harness REQUIREs its own set-up steps, so call inside a Catch2 test case.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/faults/checker.h"
#include "tests/faults/schedule.h"

namespace faults {

struct RunOptions {
  uint64_t seed = 1;
  size_t nodes = 3;
  // How long faults are started for; healing, convergence and the checks come after.
  int64_t fault_seconds = 15;
  size_t clients = 0;  // 0: two per node
  uint64_t tick_ms = 50;
  uint64_t election_ticks = 10;
  bool verbose = false;  // print each fault as it is applied and healed
};

// Whether the run compacts the Raft log aggressively (every few dozen entries), so that a node
// back from a crash, pause or partition catches up by block sync rather than from the log:
// every other seed does.
bool compacts_aggressively(uint64_t seed);

struct RunReport {
  RunOptions options;
  std::vector<AppliedFault> faults;
  std::array<uint64_t, kFaultKinds> applied_by_kind{};
  uint64_t faults_applied = 0;
  uint64_t operations = 0;
  uint64_t submits = 0, submits_ok = 0;
  uint64_t reads_linearizable = 0, reads_linearizable_ok = 0;
  uint64_t reads_local = 0, reads_local_ok = 0;
  uint64_t audits_passed = 0;
  uint64_t view_subjects_checked = 0;  // per node, after convergence
  uint64_t events_looked_up = 0;       // per node, after convergence
  double wall_seconds = 0;
  uint64_t final_term = 0;  // Raft term once healed: how many elections the faults caused  // the
                            // whole run: start-up, faults, healing, checks, audits
  CheckResult check;        // the audit failures and unexpected exits are in check.violations too
  std::string cluster_dir;  // kept when the run failed
  // Seed, schedule as applied, violations and offending operations; empty when ok().
  std::string failure;

  bool ok() const { return check.ok(); }
  // One paragraph: seed, faults by kind, operations, acknowledged events, result.
  std::string summary() const;
};

RunReport run_faults(const RunOptions& options);

}  // namespace faults
