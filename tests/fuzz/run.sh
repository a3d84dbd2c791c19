#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, CREDLEDGER_FUZZ=ON, in build-fuzz) and
# runs each for a bounded time over its seed corpus and regressions (tests/fuzz/corpus/<name>,
# tests/fuzz/regressions/<name>). New interesting inputs go to a scratch directory, never into
# the repository. A crash, leak, sanitizer report or FUZZ_CHECK failure fails the run, and the
# crashing input is copied to tests/fuzz/regressions/<name>/ so it is kept (commit it) and
# replayed by the ordinary tests from then on.
#   tests/fuzz/run.sh                  every target
#   tests/fuzz/run.sh event block      only these
# Environment: FUZZ_SECONDS (default 20) per target; FUZZ_BUILD_DIR (default build-fuzz);
#              FUZZ_JOBS (default nproc) build parallelism.
# Callers hold /tmp/credledger-build.lock if they share the machine; this script does not lock.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-20}
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(event block proof checkpoint genesis config api_request)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "fuzz: clang is not installed (deploy/install-deps.sh installs it)" >&2
  exit 1
fi

# -O1: the fuzzers need coverage and sanitizers more than speed, and the build stays short.
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCREDLEDGER_FUZZ=ON >/dev/null
cmake --build "$build_dir" -j "${FUZZ_JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

work=$(mktemp -d "${TMPDIR:-/tmp}/credledger-fuzz-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for name in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/$name
  regressions=tests/fuzz/regressions/$name
  if [ ! -d "$corpus" ]; then
    echo "fuzz: no corpus directory $corpus" >&2
    exit 1
  fi
  mkdir -p "$work/$name/new" "$work/$name/artifacts" "$regressions"
  log=$work/$name/log
  echo "fuzz: $name for ${seconds}s"
  set +e
  # The first directory receives new inputs; the others are only read. TMPDIR keeps the
  # block target's scratch databases in the work directory.
  TMPDIR="$work/$name" "$build_dir/tests/fuzz/fuzz_$name" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" \
    "$work/$name/new" "$corpus" "$regressions" >"$log" 2>&1
  rc=$?
  set -e
  stats=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true)
  execs=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  summary+=("$(printf '%-12s rc=%d exec/s=%s %s' "$name" "$rc" "${execs:-?}" "$stats")")
  crashers=("$work/$name/artifacts"/*)
  if [ $rc -ne 0 ] || [ -e "${crashers[0]}" ]; then
    failed+=("$name")
    tail -60 "$log" >&2
    for f in "$work/$name/artifacts"/*; do
      [ -e "$f" ] || continue
      cp "$f" "$regressions/"
      echo "fuzz: $name crashed; input kept as $regressions/$(basename "$f")" >&2
    done
  fi
done

echo "fuzz: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (crashers saved under tests/fuzz/regressions/)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran without a crash"
