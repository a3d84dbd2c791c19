#include "tests/faults/schedule.h"

#include <algorithm>
#include <sstream>

namespace faults {

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kKill:
      return "kill-9";
    case FaultKind::kPause:
      return "pause";
    case FaultKind::kIsolate:
      return "isolate";
    case FaultKind::kOneWayOut:
      return "one-way-out";
    case FaultKind::kOneWayIn:
      return "one-way-in";
    case FaultKind::kSplit:
      return "split";
    case FaultKind::kLinkCut:
      return "link-cut";
    case FaultKind::kKillAll:
      return "kill-9-all";
  }
  return "?";
}

std::vector<PlannedFault> plan_faults(uint64_t seed, const ScheduleOptions& options) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  // Weights per kind, in FaultKind order: crashes and leader isolation are the ones that find
  // bugs in commit and catch-up paths, so they come most often.
  const int weights[kFaultKinds] = {22, 16, 18, 10, 10, 12, 12, 4};
  std::discrete_distribution<int> kind_of(std::begin(weights), std::end(weights));
  const int64_t election = options.election_timeout_ms;

  std::vector<PlannedFault> plan;
  int64_t t = uniform(300, 1000);
  while (t < options.phase_ms) {
    PlannedFault f;
    f.kind = static_cast<FaultKind>(kind_of(rng));
    f.start_ms = t;
    f.target_leader = uniform(0, 99) < 65;
    f.blackhole = uniform(0, 1) == 1;
    f.both_ways = uniform(0, 1) == 1;
    switch (f.kind) {
      case FaultKind::kKill:
      case FaultKind::kKillAll:
        f.duration_ms = uniform(200, 3000);
        break;
      case FaultKind::kPause:
        f.duration_ms = uniform(election * 6 / 5, election * 6);
        break;
      default:
        f.duration_ms = uniform(election, 4000);
        break;
    }
    plan.push_back(f);
    // Mostly one fault at a time, with a quiet gap; sometimes the next one starts while this
    // one is still on, so that faults overlap (a crash during a partition, ...).
    if (uniform(0, 99) < 25) {
      t += uniform(100, std::max<int64_t>(101, f.duration_ms));
    } else {
      t += f.duration_ms + uniform(200, 1500);
    }
  }
  return plan;
}

std::string describe(const AppliedFault& f) {
  std::ostringstream o;
  o << "fault " << f.index << " " << fault_kind_name(f.plan.kind)
    << (f.plan.target_leader && f.plan.kind != FaultKind::kKillAll ? " (leader)" : "")
    << " planned at " << f.plan.start_ms << " ms for " << f.plan.duration_ms << " ms";
  if (f.plan.kind != FaultKind::kKill && f.plan.kind != FaultKind::kPause &&
      f.plan.kind != FaultKind::kKillAll) {
    o << (f.plan.blackhole ? " blackhole" : " refuse");
  }
  if (!f.nodes.empty()) {
    o << " nodes";
    for (uint64_t n : f.nodes) o << " " << n;
  }
  if (!f.links.empty()) {
    o << " links";
    for (const auto& [a, b] : f.links) o << " " << a << "->" << b;
  }
  if (f.applied_us >= 0) o << "; applied at " << f.applied_us / 1000 << " ms";
  if (f.healed_us >= 0) o << ", healed at " << f.healed_us / 1000 << " ms";
  if (!f.note.empty()) o << "; " << f.note;
  return o.str();
}

std::mt19937_64 target_rng(uint64_t seed) { return std::mt19937_64(seed ^ 0x9e3779b97f4a7c15ull); }

}  // namespace faults
