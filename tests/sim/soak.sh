#!/usr/bin/env bash
# Soaks the Raft cluster simulator with random seeds for as long as asked.
#   tests/sim/soak.sh SECONDS [JOBS]
# Builds credledger_sim (in BUILD_DIR, default build) and runs JOBS workers (default: nproc), each
# on its own random seed range, every fourth seed per cluster size 1/3/5/7 and every third seed
# with leader churn. Stops at the first violation and prints the command that replays it.
set -euo pipefail
seconds=${1:?usage: tests/sim/soak.sh SECONDS [JOBS]}
jobs=${2:-$(nproc)}
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build_dir" --target credledger_sim >/dev/null
sim="$build_dir/tests/sim/credledger_sim"

pids=()
logs=()
for ((i = 0; i < jobs; i++)); do
  # 2^40 apart: worker ranges never overlap; the base is random so each soak explores new seeds.
  start=$(( (RANDOM * 32768 + RANDOM) * 1024 + i * 1099511627776 ))
  log=$(mktemp)
  logs+=("$log")
  "$sim" --soak-seconds "$seconds" --start-seed "$start" >"$log" 2>&1 &
  pids+=($!)
done
status=0
for ((i = 0; i < jobs; i++)); do
  if ! wait "${pids[$i]}"; then status=1; fi
  cat "${logs[$i]}"
  rm -f "${logs[$i]}"
done
exit $status
