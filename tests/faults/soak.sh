#!/usr/bin/env bash
# Soaks a real credd cluster with fault runs of random seeds for as long as asked.
#   tests/faults/soak.sh SECONDS [RUN_SECONDS]
# Builds credledger_faults (in BUILD_DIR, default build) and runs one fault run after another,
# each RUN_SECONDS (default 60) of faults on a fresh cluster, 3, 3, 5, 5, ... nodes (odd seeds
# compact the Raft log every 64 entries, so each size runs with and without compaction), until
# SECONDS have passed or a run fails. Every run's summary line goes to stdout; a failure prints
# the seed, the fault schedule and the offending operations, and the command that replays it.
# Runs one cluster at a time: start it under flock /tmp/credledger-build.lock on a shared host.
set -euo pipefail
seconds=${1:?usage: tests/faults/soak.sh SECONDS [RUN_SECONDS]}
run_seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build_dir" --target credledger_faults credd credctl credaudit >/dev/null
faults="$build_dir/tests/faults/credledger_faults"

summaries=$(mktemp)
trap 'rm -f "$summaries"' EXIT
# Totals over every run's summary line: faults by kind, operations, acknowledged events.
totals() {
  sum() { grep -oE "[0-9]+ $1" "$summaries" | awk '{ s += $1 } END { print s + 0 }'; }
  kinds=$(grep -oE 'faults applied \([^)]*\)' "$summaries" | sed -e 's/faults applied (//' -e 's/)//' |
    tr ',' '\n' | awk 'NF == 2 { by[$1] += $2 } END { for (k in by) printf "%s %d, ", k, by[k] }')
  echo "soak totals: $(grep -c PASS "$summaries" || true) runs passed, $(sum 'faults applied') faults" \
    "(${kinds%, }), $(sum operations) operations, $(sum 'acknowledged events') acknowledged events," \
    "$(sum 'linearizable reads checked') linearizable reads checked"
}

end=$((SECONDS + seconds))
seed=$(( (RANDOM * 32768 + RANDOM) % 1000000000 + 1 ))
runs=0
while [ $SECONDS -lt $end ]; do
  # 3, 3, 5, 5, ...: seeds go up by one and odd seeds compact the log, so each cluster size is
  # run both with and without compaction.
  nodes=$(( (runs / 2) % 2 == 0 ? 3 : 5 ))
  if ! "$faults" --seed "$seed" --nodes "$nodes" --seconds "$run_seconds" | tee -a "$summaries"; then
    totals
    echo "soak: run $((runs + 1)) failed; replay: $faults --seed $seed --nodes $nodes --seconds $run_seconds"
    exit 1
  fi
  runs=$((runs + 1))
  seed=$((seed + 1))
done
totals
echo "soak: $runs runs passed in $SECONDS s"
