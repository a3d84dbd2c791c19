// A deterministic simulation of a Raft cluster in one process.
//
// Every fault comes from one seed: message delay (reordering), loss and duplication, symmetric
// and asymmetric partitions that come and go, crashes (also in the middle of handling a Ready)
// and restarts in which only what the harness persisted survives, clients proposing and reading,
// membership changes, leadership transfers and log compaction with catch-up. After every step
// the cores' own invariants and the cluster checkers (checkers.h) run. A run has a chaos phase
// and then a heal phase that checks liveness: with the network healed and every node up, a
// leader must commit a new proposal on every member within a bounded number of ticks.
//
// Same options (seed included) give the same run, so a failure replays from its seed:
//   credledger_sim --seed N [--nodes K] [--verbose]
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sim {

// Fault profiles. kMixed draws every fault rate from the seed (calm to hostile runs) and turns
// on every feature. kLeaderChurn crashes and restarts leaders quickly under a heavy proposal load,
// so logs diverge under successive leaders, the situation of the Raft paper's Figure 8.
enum class Profile { kMixed, kLeaderChurn };

struct Options {
  uint64_t seed = 1;
  int nodes = 3;               // initial voters: 1, 3, 5 or 7
  int spare_nodes = 2;         // running non-members that membership changes may add
  uint64_t chaos_ticks = 1000;  // ticks of faults before the heal phase
  uint64_t heal_ticks_max = 400;  // liveness bound after healing
  bool faults = true;             // network faults, crashes, partitions
  bool membership_changes = true;
  bool compaction = true;
  bool reads = true;
  bool transfers = true;
  Profile profile = Profile::kMixed;
  bool verbose = false;           // print every event to stderr
};

struct Result {
  bool ok = true;
  std::string violation;  // first broken property, with the tick it was seen at
  uint64_t ticks = 0;
  uint64_t messages_delivered = 0;
  uint64_t entries_committed = 0;
  uint64_t reads_served = 0;
  uint64_t crashes = 0;
  uint64_t elections = 0;
  uint64_t membership_changes = 0;
  uint64_t catch_ups = 0;
};

// Runs one simulation. Never aborts on a safety violation found by the checkers or by a core's
// check_invariants(); it reports it in Result. (A LEDGER_ASSERT inside the core still aborts.)
Result run(const Options& options);

// "seed=N nodes=K ..." for failure messages, so the exact run can be replayed.
std::string describe(const Options& options);

}  // namespace sim
