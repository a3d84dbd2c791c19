#!/usr/bin/env bash
# credledger against the machine's limits and against etcd, in one run, on 127.0.0.1.
#
#   bench/run.sh            the full run (5-7 minutes on 2 cores with the build): 1,000,000 events
#   bench/run.sh --quick    the same steps at 60,000 events (about a minute plus the build)
#
# Steps, all in one run on this machine:
#   1. limits    Ed25519 verifications/s of 300-byte messages on 1 thread and on all cores, and
#                fdatasync/s of 4 KiB appends in the state directory (credbench limits);
#   2. credledger, 3 nodes over mutual TLS (deploy/local-cluster.sh), fsync on, every node
#                verifying every signature: Submit of pre-signed ~300-byte events with 64 and 256
#                clients (one event per call, like an etcd put) and in calls of 100 events from 16
#                clients, LOCAL and LINEARIZABLE status queries at 256 clients, CheckSubjects
#                with 1,000 subjects per call; then filled to 1,000,000 events: peak RSS of each
#                node, restart of one node to serving queries, and `credaudit verify` of an
#                export of the whole chain;
#   3. etcd, 3 members (Debian's etcd-server, default durability, mutual TLS with the same
#                certificates) driven by the same credbench through etcd's KV API: puts with 64 and 256 clients, serializable and
#                linearizable single-key ranges at 256 clients, same value size and key count;
#   4. the table and the ratios the targets are stated in (docs/PERFORMANCE.md).
#
# Environment:
#   CREDLEDGER_BENCH_DIR        state and results (default /tmp/credledger-bench; wiped first)
#   CREDLEDGER_BENCH_BUILD_DIR  Release build directory (default <repo>/build-release)
#   CREDLEDGER_SKIP_DEPS=1      do not install Debian packages
#
# The run holds /tmp/credledger-build.lock from start to end, so that builds of other checkouts
# on the machine wait instead of stealing cycles from the measurement.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${CREDLEDGER_BENCH_DIR:-/tmp/credledger-bench}
build_dir=${CREDLEDGER_BENCH_BUILD_DIR:-$repo/build-release}
mode=full
case "${1:-}" in
  "") ;;
  --quick) mode=quick ;;
  -h | --help)
    sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [--quick]" >&2
    exit 2
    ;;
esac

if [ $mode = full ]; then
  limit_seconds=3 query_seconds=10 events_64=100000 events_256=200000 events_batched=200000
  total_events=1000000
else
  limit_seconds=1 query_seconds=3 events_64=10000 events_256=20000 events_batched=20000
  total_events=60000
fi
# Writes spread over a million subjects (keys), so that each ends with a few events, as real
# subjects do; reads pick among the first 10,000, which every run writes.
readonly clients_low=64 clients_high=256 write_subjects=1000000 read_subjects=10000 value_bytes=300

say() { printf '\n==> %s\n' "$*" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}
now_ms() { date +%s%3N; }

exec 9>/tmp/credledger-build.lock
if ! flock -n 9; then
  say "waiting for /tmp/credledger-build.lock (a build or another benchmark is running)"
  flock 9
fi
run_started=$(now_ms)

# ---- set-up ----------------------------------------------------------------------------------

if [ "${CREDLEDGER_SKIP_DEPS:-0}" != 1 ]; then
  say "checking Debian packages (credledger's, plus etcd-server, etcd-client, jq)"
  "$repo/deploy/install-deps.sh" etcd-server etcd-client jq
fi
command -v etcd >/dev/null || die "etcd is not installed (Debian package etcd-server)"
command -v jq >/dev/null || die "jq is not installed"

say "building Release binaries in $build_dir"
cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCREDLEDGER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target credd credctl credaudit credbench >/dev/null ||
  die "the build failed; run: cmake --build $build_dir"
credbench=$build_dir/tools/credbench
credctl=$build_dir/tools/credctl
credaudit=$build_dir/tools/credaudit
credd=$build_dir/node/credd

rm -rf -- "$out"
mkdir -p "$out/results"
cluster=$out/cluster
etcd_pids=()
cleanup() {
  CREDLEDGER_LOCAL_DIR=$cluster "$repo/deploy/local-cluster.sh" stop >/dev/null 2>&1 || true
  local pid
  for pid in "${etcd_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${etcd_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# result NAME: credbench's one-line JSON on stdin, kept as results/NAME.json and echoed.
result() {
  local line
  line=$(tail -n 1)
  [ -n "$line" ] || die "no result for $1"
  printf '%s\n' "$line" >"$out/results/$1.json"
  printf '    %s\n' "$line" >&2
}
get() { jq -r "$2" "$out/results/$1.json"; }

# peak_rss_mib PID: the process's peak resident set (VmHWM) in MiB.
peak_rss_mib() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# ---- 1. the machine --------------------------------------------------------------------------

say "1. limits of this machine ($(nproc) cores)"
"$credbench" limits -o json --dir "$out" --seconds "$limit_seconds" | result limits

# ---- 2. credledger ---------------------------------------------------------------------------

say "2. credledger: 3 nodes over mutual TLS (deploy/local-cluster.sh; log in $out/cluster.log)"
CREDLEDGER_LOCAL_DIR=$cluster CREDLEDGER_BUILD_DIR=$build_dir CREDLEDGER_SKIP_DEPS=1 \
  CREDLEDGER_SKIP_BUILD=1 CREDLEDGER_BASE_PORT=17001 CREDLEDGER_METRICS_BASE_PORT=19101 \
  "$repo/deploy/local-cluster.sh" start >"$out/cluster.log" 2>&1 ||
  die "the cluster did not start; see $out/cluster.log"
# shellcheck disable=SC1091
source "$cluster/ports.env" # ports=(...) metrics=(...)
endpoints=127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}
tls() { echo --cacert "$cluster/tls/ca.crt" --cert "$cluster/tls/$1.crt" --key-pem "$cluster/tls/$1.key"; }
# shellcheck disable=SC2046
bench_as() {
  local who=$1
  shift
  "$credbench" "$@" -o json --endpoints "$endpoints" $(tls "$who")
}
submit() { # submit NAME CLIENTS EVENTS [EVENTS_PER_CALL]
  bench_as agency-samr submit --key "$cluster/keys/samr.key" --clients "$2" --events "$3" \
    --batch "${4:-1}" --subjects $write_subjects | result "$1"
}

say "   submit, $clients_low clients, $events_64 events"
submit submit_64 $clients_low $events_64
say "   submit, $clients_high clients, $events_256 events"
submit submit_256 $clients_high $events_256
say "   submit in calls of 100 events (an agency's batch upload), 16 clients, $events_batched events"
submit submit_batched 16 $events_batched 100
say "   status queries, $clients_high clients, ${query_seconds}s each"
bench_as relying-bank query --clients $clients_high --seconds $query_seconds \
  --subjects $read_subjects | result query_local
bench_as relying-bank query --clients $clients_high --seconds $query_seconds --linearizable \
  --subjects $read_subjects | result query_linearizable
say "   CheckSubjects, 1,000 subjects per call, 8 clients"
bench_as relying-bank check --clients 8 --seconds $query_seconds --subjects-per-call 1000 \
  --subjects $read_subjects | result check_local

filled=$((events_64 + events_256 + events_batched))
if [ $filled -lt $total_events ]; then
  say "   filling the ledger to $total_events events ($((total_events - filled)) more, 16 clients x 100 per call)"
  submit fill 16 $((total_events - filled)) 100
fi

node_pid() { cat "$cluster/node-$1/credd.pid"; }
rss=()
for id in 1 2 3; do rss+=("$(peak_rss_mib "$(node_pid $id)")"); done
say "   peak RSS of the nodes at $total_events events: ${rss[*]} MiB"

say "   credaudit verify of an export of the whole chain"
"$credctl" --endpoints "$endpoints" --cacert "$cluster/tls/ca.crt" \
  --cert "$cluster/tls/auditor-audit-office.crt" --key "$cluster/tls/auditor-audit-office.key" \
  --timeout-ms 600000 export --out "$out/chain.bin" --force >/dev/null
"$credaudit" verify -o json --quiet --genesis "$cluster/genesis.json" --chain "$out/chain.bin" \
  --work-dir "$out" | jq -c . | result audit
rm -f "$out/chain.bin"

say "   restart of node 3 with $total_events events: exec to the first answered status query"
pid=$(node_pid 3)
kill -TERM "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
t0=$(now_ms)
nohup "$credd" --config "$cluster/node-3/node.toml" >>"$cluster/node-3/credd.log" 2>&1 </dev/null &
echo $! >"$cluster/node-3/credd.pid"
until "$credctl" --endpoints "127.0.0.1:${ports[2]}" --cacert "$cluster/tls/ca.crt" \
  --timeout-ms 500 status 91350100M000100Y43 >/dev/null 2>&1; do
  kill -0 "$(node_pid 3)" 2>/dev/null || die "node 3 exited during restart; see $cluster/node-3/credd.log"
  [ $(($(now_ms) - t0)) -lt 120000 ] || die "node 3 did not serve within 120 s of its restart"
  sleep 0.02
done
restart_ms=$(($(now_ms) - t0))
say "   node 3 served its first query ${restart_ms} ms after exec"

CREDLEDGER_LOCAL_DIR=$cluster "$repo/deploy/local-cluster.sh" stop >/dev/null 2>&1

# ---- 3. etcd ---------------------------------------------------------------------------------

say "3. etcd $(etcd --version | sed -n 's/^etcd Version: //p'): 3 members, default durability, mutual TLS"
free_port() { # free_port START: the first port at or above START nothing listens on
  local port=$1
  while [ -n "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; do port=$((port + 1)); done
  echo "$port"
}
client_ports=() peer_ports=()
port=22379
for i in 1 2 3; do
  port=$(free_port $port)
  client_ports+=("$port")
  port=$(free_port $((port + 1)))
  peer_ports+=("$port")
  port=$((port + 1))
done
# Secured like the credledger nodes: mutual TLS on client and peer links, with the same CA and
# node certificates (their SAN is 127.0.0.1), so both systems pay for TLS alike.
tlsdir=$cluster/tls
initial=e1=https://127.0.0.1:${peer_ports[0]},e2=https://127.0.0.1:${peer_ports[1]},e3=https://127.0.0.1:${peer_ports[2]}
for i in 0 1 2; do
  c=https://127.0.0.1:${client_ports[$i]} p=https://127.0.0.1:${peer_ports[$i]}
  crt=$tlsdir/node-$((i + 1)).crt key=$tlsdir/node-$((i + 1)).key
  etcd --name "e$((i + 1))" --data-dir "$out/etcd/e$((i + 1))" \
    --listen-client-urls "$c" --advertise-client-urls "$c" \
    --listen-peer-urls "$p" --initial-advertise-peer-urls "$p" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token credbench \
    --cert-file "$crt" --key-file "$key" --trusted-ca-file "$tlsdir/ca.crt" --client-cert-auth \
    --peer-cert-file "$crt" --peer-key-file "$key" --peer-trusted-ca-file "$tlsdir/ca.crt" \
    --peer-client-cert-auth \
    --logger zap --log-level warn >"$out/etcd-e$((i + 1)).log" 2>&1 </dev/null &
  etcd_pids+=($!)
done
etcd_endpoints=127.0.0.1:${client_ports[0]},127.0.0.1:${client_ports[1]},127.0.0.1:${client_ports[2]}
etcd_tls=(--cacert "$tlsdir/ca.crt" --cert "$tlsdir/relying-bank.crt")
deadline=$((SECONDS + 60))
until ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" "${etcd_tls[@]}" \
  --key "$tlsdir/relying-bank.key" endpoint health >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || die "etcd did not become healthy; see $out/etcd-e*.log"
  sleep 0.2
done
etcd_bench() {
  "$credbench" "$@" -o json --endpoints "$etcd_endpoints" "${etcd_tls[@]}" \
    --key-pem "$tlsdir/relying-bank.key"
}
say "   put, $clients_low clients, $events_64 puts of ${value_bytes}-byte values"
etcd_bench etcd-put --clients $clients_low --events $events_64 --value-bytes $value_bytes \
  --subjects $write_subjects | result etcd_put_64
say "   put, $clients_high clients, $events_256 puts"
etcd_bench etcd-put --clients $clients_high --events $events_256 --value-bytes $value_bytes \
  --subjects $write_subjects | result etcd_put_256
say "   range, $clients_high clients, ${query_seconds}s each"
etcd_bench etcd-range --clients $clients_high --seconds $query_seconds --subjects $read_subjects |
  result etcd_range_serializable
etcd_bench etcd-range --clients $clients_high --seconds $query_seconds --linearizable \
  --subjects $read_subjects | result etcd_range_linearizable
etcd_rss=()
for pid in "${etcd_pids[@]}"; do etcd_rss+=("$(peak_rss_mib "$pid")"); done

# ---- 4. the table ----------------------------------------------------------------------------

run_seconds=$((($(now_ms) - run_started) / 1000))
verify_all=$(get limits .verify_per_s_all_cores)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r + 0 >= t + 0 ? "met" : "MISSED") }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
int() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
row() { printf '| %-56s | %12s | %9s | %9s | %9s |\n' "$@"; }
lat_row() { # lat_row LABEL RESULT RATE_FIELD
  row "$1" "$(int "$(get "$2" "$3")")" "$(ms "$(get "$2" .latency_us_p50)")" \
    "$(ms "$(get "$2" .latency_us_p95)")" "$(ms "$(get "$2" .latency_us_p99)")"
}
ev256=$(get submit_256 .events_per_s)
put256=$(get etcd_put_256 .puts_per_s)
local_q=$(get query_local .queries_per_s)
lin_q=$(get query_linearizable .queries_per_s)
ser_r=$(get etcd_range_serializable .ranges_per_s)
lin_r=$(get etcd_range_linearizable .ranges_per_s)
audit_rate=$(get audit .events_per_s)
p99_ours=$(get submit_64 .latency_us_p99)
p99_etcd=$(get etcd_put_64 .latency_us_p99)
max_rss=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n 1)

{
  echo "credledger bench/run.sh ($mode), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), run took ${run_seconds}s"
  echo
  echo "Machine limits: Ed25519 verify of ${value_bytes}-byte messages" \
    "$(int "$(get limits .verify_per_s_1_thread)")/s on 1 thread," \
    "$(int "$verify_all")/s on $(get limits .cores) threads;" \
    "fdatasync of 4 KiB appends $(int "$(get limits .fdatasync_per_s)")/s"
  echo
  row "measurement" "per second" "p50 ms" "p95 ms" "p99 ms"
  row "--------------------------------------------------------" "-----------:" "-------:" "-------:" "-------:"
  lat_row "credledger submit, $clients_low clients (events)" submit_64 .events_per_s
  lat_row "credledger submit, $clients_high clients (events)" submit_256 .events_per_s
  lat_row "credledger submit, 16 clients x 100 per call (events)" submit_batched .events_per_s
  [ -f "$out/results/fill.json" ] && lat_row "credledger submit, fill to $total_events, x100 (events)" fill .events_per_s
  lat_row "credledger status LOCAL, $clients_high clients" query_local .queries_per_s
  lat_row "credledger status LINEARIZABLE, $clients_high clients" query_linearizable .queries_per_s
  lat_row "credledger CheckSubjects x1000, 8 clients (subjects)" check_local .subjects_per_s
  lat_row "etcd put, $clients_low clients" etcd_put_64 .puts_per_s
  lat_row "etcd put, $clients_high clients" etcd_put_256 .puts_per_s
  lat_row "etcd range serializable, $clients_high clients" etcd_range_serializable .ranges_per_s
  lat_row "etcd range linearizable, $clients_high clients" etcd_range_linearizable .ranges_per_s
  row "credaudit verify, $(get audit .events) events" "$(int "$audit_rate")" "" "" ""
  echo
  echo "Restart of a node holding $total_events events to its first answered query: ${restart_ms} ms"
  echo "Peak RSS at $total_events events: credd ${rss[*]} MiB; etcd members ${etcd_rss[*]} MiB"
  echo
  printf '| %-58s | %7s | %8s | %-6s |\n' "target" "ratio" "needed" "result"
  printf '| %-58s | %7s | %8s | %-6s |\n' "----------------------------------------------------------" "------:" "-------:" "------"
  target() { printf '| %-58s | %7s | %8s | %-6s |\n' "$1" "$2" "$3" "$(verdict "$2" "$3")"; }
  target "events/s / etcd puts/s, $clients_high clients" "$(ratio "$ev256" "$put256")" 1.0
  target "events/s / (all-core verify/s / 3), $clients_high clients" \
    "$(ratio "$ev256" "$(awk -v v="$verify_all" 'BEGIN { print v / 3 }')")" 0.9
  target "the same, calls of 100 events" \
    "$(ratio "$(get submit_batched .events_per_s)" "$(awk -v v="$verify_all" 'BEGIN { print v / 3 }')")" 0.9
  target "etcd put p99 / submit p99, $clients_low clients" "$(ratio "$p99_etcd" "$p99_ours")" 1.0
  target "LOCAL status/s / etcd serializable range/s" "$(ratio "$local_q" "$ser_r")" 3.0
  target "LINEARIZABLE status/s / etcd linearizable range/s" "$(ratio "$lin_q" "$lin_r")" 2.0
  target "credaudit events/s / all-core verify/s" "$(ratio "$audit_rate" "$verify_all")" 0.9
  target "5 s / restart time" "$(ratio 5000 "$restart_ms")" 1.0
  target "1 GiB / largest node peak RSS" "$(ratio 1024 "$max_rss")" 1.0
} | tee "$out/results.md"
echo
echo "results: $out/results.md and $out/results/*.json"
