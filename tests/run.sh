#!/usr/bin/env bash
# Builds credledger once and runs every test with ctest in parallel.
#   tests/run.sh                 all tests (unit, sim, integration, fuzz labels)
#   tests/run.sh -L unit         only tests with that ctest label (any ctest arguments pass through)
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo),
#              SANITIZE=1 for an ASan+UBSan build (in its own build directory).
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
