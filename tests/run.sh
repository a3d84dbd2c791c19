#!/usr/bin/env bash
# Builds credledger once and runs every test with ctest in parallel.
#   tests/run.sh                 all tests (unit, sim, integration, fuzz labels)
#   tests/run.sh -L unit         only tests with that ctest label (any ctest arguments pass through)
#   SANITIZE=address tests/run.sh
#                                the same under AddressSanitizer + UndefinedBehaviorSanitizer, in
#                                build-asan (the integration tests then run the ASan-built credd)
#   SANITIZE=thread tests/run.sh
#                                the same under ThreadSanitizer, in build-tsan, node processes
#                                included (what is ignored in Debian's uninstrumented gRPC,
#                                abseil and RocksDB, and why: tests/sanitizers/tsan.supp)
# Environment: BUILD_DIR (default build, build-asan or build-tsan), BUILD_TYPE (default
#              RelWithDebInfo),
#              FUZZ_SECONDS: after ctest, tests/fuzz/run.sh builds the libFuzzer targets with
#              clang (build-fuzz) and runs each this many seconds (default 20: about 5 minutes
#              with its build on 2 cores); 0 skips it. When ctest arguments are given (e.g.
#              -L unit) or SANITIZE is set, the fuzz step runs only if FUZZ_SECONDS is set
#              explicitly. The ordinary build always replays the fuzz corpora and regressions
#              (label fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

deploy/install-deps.sh

build_type=${BUILD_TYPE:-RelWithDebInfo}
sanitize=
build_dir=${BUILD_DIR:-build}
case "${SANITIZE:-}" in
  "" | 0) ;;
  1 | address)
    sanitize=address
    build_dir=${BUILD_DIR:-build-asan}
    ;;
  thread)
    sanitize=thread
    build_dir=${BUILD_DIR:-build-tsan}
    ;;
  *)
    echo "tests/run.sh: SANITIZE must be address or thread, not '$SANITIZE'" >&2
    exit 2
    ;;
esac
# A report fails the test that caused it; child processes (credd) inherit these.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:history_size=7:suppressions=$root/tests/sanitizers/tsan.supp}

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  -DCREDLEDGER_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

jobs=$(nproc)
cd "$build_dir"
ctest --output-on-failure --timeout 900 -j "$jobs" "$@"
cd "$root"

if { [ $# -gt 0 ] || [ -n "$sanitize" ]; } && [ -z "${FUZZ_SECONDS:-}" ]; then exit 0; fi
if [ "${FUZZ_SECONDS:-20}" != "0" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} tests/fuzz/run.sh
fi
