// The seeded random fault schedule of a run, and the record of what was actually applied.
//
// plan_faults draws, from the seed alone, when each fault starts, how long it lasts, its kind
// and how its target is chosen ("the leader" or "a node", and for partitions which sides). The
// targets themselves are resolved when the fault starts, from the same seeded generator and the
// cluster's state at that moment (who leads, who is already down), so two runs of a seed apply
// the same sequence of kinds and timings but may hit different node ids: real processes are not
// deterministic. The applied record (AppliedFault) is what a failure report prints.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace faults {

enum class FaultKind {
  kKill,       // kill -9, restarted when the fault ends
  kPause,      // SIGSTOP, SIGCONT when the fault ends (longer than the election timeout)
  kIsolate,    // every link to and from one node cut
  kOneWayOut,  // a node's links to every other node cut, theirs to it intact
  kOneWayIn,   // every other node's links to one node cut, its own intact
  kSplit,      // the nodes split in two groups (a minority and a majority), both ways
  kLinkCut,    // one directed link cut, or both directions between two nodes
  kKillAll,    // kill -9 of every node at once (a power cut), all restarted when it ends
};
const char* fault_kind_name(FaultKind kind);
constexpr size_t kFaultKinds = 8;

struct PlannedFault {
  FaultKind kind = FaultKind::kKill;
  bool target_leader = false;  // the node to hit is the leader at the time, else any node
  int64_t start_ms = 0;        // from the start of the fault phase
  int64_t duration_ms = 0;
  bool blackhole = false;  // partitions: silent links rather than refused connections
  bool both_ways = false;  // kLinkCut: cut the reverse link too
};

struct ScheduleOptions {
  size_t nodes = 3;
  int64_t phase_ms = 15000;           // faults start within this time
  int64_t election_timeout_ms = 500;  // pauses last longer than this
};

std::vector<PlannedFault> plan_faults(uint64_t seed, const ScheduleOptions& options);

struct AppliedFault {
  size_t index = 0;  // into the plan
  PlannedFault plan;
  std::vector<uint64_t> nodes;                       // hit (kills, pause) or isolated side
  std::vector<std::pair<uint64_t, uint64_t>> links;  // directed links cut
  int64_t applied_us = -1;                           // on the History clock
  int64_t healed_us = -1;
  std::string note;  // why a fault was skipped, or what it did
};

std::string describe(const AppliedFault& fault);

// The generator that resolves targets at run time: seeded from the run's seed, so that a
// replay makes the same choices where the cluster is in the same state.
std::mt19937_64 target_rng(uint64_t seed);

}  // namespace faults
