// credledger_faults: one fault-injection run of any length, for soak runs and replays.
//
//   credledger_faults --seed N [--seconds S] [--nodes 3|5] [--clients C] [--verbose]
//
// Prints one summary line (faults by kind, operations, acknowledged events, PASS or FAIL) and,
// on a failure, the seed, the fault schedule as applied and the offending operations; exits
// non-zero on a failure. The run is a Catch2 test case (the cluster harness asserts with
// Catch2), started here with its own options.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "tests/faults/harness.h"

namespace {

faults::RunOptions g_options;
bool g_passed = false;

int usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " --seed N [--seconds S] [--nodes 3|5] [--clients C] [--verbose]\n";
  return 2;
}

}  // namespace

TEST_CASE("standalone fault run", "[.standalone]") {
  INFO("seed " << g_options.seed);
  const faults::RunReport report = faults::run_faults(g_options);
  std::cout << report.summary() << "\n" << std::flush;
  if (!report.ok()) std::cerr << report.failure << std::flush;
  g_passed = report.ok();
  CHECK(report.ok());
}

int main(int argc, char** argv) {
  bool have_seed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--verbose") {
      g_options.verbose = true;
    } else if (arg == "--seed" && (v = value())) {
      g_options.seed = std::strtoull(v, nullptr, 10);
      have_seed = true;
    } else if (arg == "--seconds" && (v = value())) {
      g_options.fault_seconds = std::strtoll(v, nullptr, 10);
    } else if (arg == "--nodes" && (v = value())) {
      g_options.nodes = std::strtoull(v, nullptr, 10);
    } else if (arg == "--clients" && (v = value())) {
      g_options.clients = std::strtoull(v, nullptr, 10);
    } else {
      return usage(argv[0]);
    }
  }
  if (!have_seed || (g_options.nodes != 3 && g_options.nodes != 5) ||
      g_options.fault_seconds <= 0) {
    return usage(argv[0]);
  }
  Catch::Session session;
  const char* catch_argv[] = {argv[0], "standalone fault run"};
  if (session.applyCommandLine(2, catch_argv) != 0) return 2;
  const int failed = session.run();
  return failed == 0 && g_passed ? 0 : 1;
}
