// credledger_sim: runs the cluster simulator outside ctest, to replay one failing seed (with
// --verbose for an event trace) or to soak many random seeds for a wall-clock budget.
//   credledger_sim --seed N [--nodes K] [--chaos-ticks T] [--profile churn] [--verbose]
//   credledger_sim --soak-seconds S [--start-seed N]
// Exit status 1 on the first violation, printing the command that replays it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/sim/simulator.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: credledger_sim --seed N [--nodes K] [--chaos-ticks T] [--profile churn] "
               "[--verbose]\n"
               "       credledger_sim --soak-seconds S [--start-seed N]\n");
  return 2;
}

bool report(const sim::Options& o, const sim::Result& r) {
  if (r.ok) return true;
  std::printf("VIOLATION %s\n  %s\n  replay: credledger_sim --seed %llu --nodes %d --chaos-ticks %llu "
              "%s--verbose\n",
              sim::describe(o).c_str(), r.violation.c_str(), (unsigned long long)o.seed, o.nodes,
              (unsigned long long)o.chaos_ticks,
              o.profile == sim::Profile::kLeaderChurn ? "--profile churn " : "");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  sim::Options o;
  bool have_seed = false;
  double soak_seconds = 0;
  uint64_t start_seed = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--seed" && (v = next())) {
      o.seed = std::strtoull(v, nullptr, 10);
      have_seed = true;
    } else if (a == "--nodes" && (v = next())) {
      o.nodes = std::atoi(v);
    } else if (a == "--chaos-ticks" && (v = next())) {
      o.chaos_ticks = std::strtoull(v, nullptr, 10);
    } else if (a == "--soak-seconds" && (v = next())) {
      soak_seconds = std::atof(v);
    } else if (a == "--start-seed" && (v = next())) {
      start_seed = std::strtoull(v, nullptr, 10);
    } else if (a == "--profile" && (v = next())) {
      if (std::string(v) == "churn") {
        o.profile = sim::Profile::kLeaderChurn;
      } else if (std::string(v) != "mixed") {
        return usage();
      }
    } else if (a == "--verbose") {
      o.verbose = true;
    } else {
      return usage();
    }
  }
  if (have_seed) {
    sim::Result r = sim::run(o);
    if (!report(o, r)) return 1;
    std::printf("ok %s: ticks=%llu delivered=%llu committed=%llu reads=%llu crashes=%llu "
                "elections=%llu membership_changes=%llu catch_ups=%llu\n",
                sim::describe(o).c_str(), (unsigned long long)r.ticks,
                (unsigned long long)r.messages_delivered, (unsigned long long)r.entries_committed,
                (unsigned long long)r.reads_served, (unsigned long long)r.crashes,
                (unsigned long long)r.elections, (unsigned long long)r.membership_changes,
                (unsigned long long)r.catch_ups);
    return 0;
  }
  if (soak_seconds <= 0) return usage();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(soak_seconds * 1000));
  const int sizes[] = {1, 3, 5, 7};
  uint64_t runs = 0;
  for (uint64_t seed = start_seed; std::chrono::steady_clock::now() < deadline; ++seed) {
    sim::Options s;
    s.seed = seed;
    s.nodes = sizes[seed % 4];
    // Every third seed churns leaders (profile kLeaderChurn); the rest mix every fault.
    if (seed % 3 == 0) s.profile = sim::Profile::kLeaderChurn;
    sim::Result r = sim::run(s);
    ++runs;
    if (!report(s, r)) return 1;
  }
  std::printf("soak ok: %llu seeds from %llu\n", (unsigned long long)runs,
              (unsigned long long)start_seed);
  return 0;
}
