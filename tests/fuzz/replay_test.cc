// Replays a fuzz target's seed corpus and every crasher ever found (tests/fuzz/corpus/<name>,
// tests/fuzz/regressions/<name>) through its LLVMFuzzerTestOneInput in the ordinary build, so
// that plain `tests/run.sh` keeps them passing without clang. A target's FUZZ_CHECK or a crash
// fails the test; the file being replayed is printed first so the failure names it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_support.h"

namespace {

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (entry.path().filename().string().rfind('.', 0) == 0) continue;  // .gitkeep
    out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t replay(const std::filesystem::path& dir) {
  size_t count = 0;
  for (const auto& path : files_in(dir)) {
    const std::string input = fuzz::read_file(path.string());
    // Printed before running: if the input aborts the process, the last line names it.
    std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), input.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("seed corpus and regressions replay: " CREDLEDGER_FUZZ_NAME, "[fuzz]") {
  const std::filesystem::path root = CREDLEDGER_FUZZ_DIR;
  const size_t corpus = replay(root / "corpus" / CREDLEDGER_FUZZ_NAME);
  const size_t regressions = replay(root / "regressions" / CREDLEDGER_FUZZ_NAME);
  INFO(corpus << " corpus files, " << regressions << " regressions");
  CHECK(corpus > 0);
}
