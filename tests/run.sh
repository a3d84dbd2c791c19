#!/usr/bin/env bash
# Builds credledger once and runs every test with ctest in parallel.
#   tests/run.sh                 all tests (unit, sim, integration, fuzz labels)
#   tests/run.sh -L unit         only tests with that ctest label (any ctest arguments pass through)
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo),
#              SANITIZE=1 for an ASan+UBSan build (in its own build directory),
#              FUZZ_SECONDS: after ctest, tests/fuzz/run.sh builds the libFuzzer targets with
#              clang (build-fuzz) and runs each this many seconds (default 20: about 5 minutes
#              with its build on 2 cores); 0 skips it. When ctest arguments are given (e.g.
#              -L unit) the fuzz step runs only if FUZZ_SECONDS is set explicitly.
#              The ordinary build always replays the fuzz corpora and regressions (label fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

deploy/install-deps.sh

build_type=${BUILD_TYPE:-RelWithDebInfo}
sanitize=OFF
build_dir=${BUILD_DIR:-build}
if [ "${SANITIZE:-0}" = "1" ]; then
  sanitize=ON
  build_dir=${BUILD_DIR:-build-asan}
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  -DCREDLEDGER_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

jobs=$(nproc)
cd "$build_dir"
ctest --output-on-failure --timeout 900 -j "$jobs" "$@"
cd "$root"

if [ $# -gt 0 ] && [ -z "${FUZZ_SECONDS:-}" ]; then exit 0; fi
if [ "${FUZZ_SECONDS:-20}" != "0" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} tests/fuzz/run.sh
fi
