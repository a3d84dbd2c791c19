#!/usr/bin/env bash
# A three-node credledger cluster on 127.0.0.1, over mutual TLS, with sample credit events.
#
#   deploy/local-cluster.sh [start]   install deps, build, set up, start, submit samples, show
#   deploy/local-cluster.sh status    show the cluster and the sample subject again
#   deploy/local-cluster.sh stop      stop the nodes (SIGTERM, then SIGKILL after a timeout)
#   deploy/local-cluster.sh clean     stop the nodes and remove the state directory
#
# Environment:
#   CREDLEDGER_LOCAL_DIR           state directory (default /tmp/credledger-local)
#   CREDLEDGER_BASE_PORT           first gRPC port to try (default 7001)
#   CREDLEDGER_METRICS_BASE_PORT   first metrics port to try (default 9101)
#   CREDLEDGER_BUILD_DIR           CMake build directory (default <repo>/build)
#   CREDLEDGER_SKIP_DEPS=1         do not run deploy/install-deps.sh
#   CREDLEDGER_SKIP_BUILD=1        use the binaries already in the build directory
#
# The state directory holds everything: agency keys (keys/), the genesis file, the consortium CA
# and certificates (tls/), one config, data directory, log and pid file per node, the signed
# sample events (events/), and one environment file per caller of the demo (env/: operator,
# agency-samr, agency-sta, agency-court, relying-bank, auditor, public) that sets
# CREDLEDGER_ENDPOINTS, CREDLEDGER_CACERT, CREDLEDGER_CERT and CREDLEDGER_KEY for credctl and
# credaudit: after `source <state>/env/operator.env`, `credctl cluster status` just works.
# Running "start" again reuses all of it: nodes that are running are left alone, stopped ones
# are restarted, and the sample events are resubmitted byte for byte, which the ledger answers
# with their original receipts instead of appending them twice.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${CREDLEDGER_LOCAL_DIR:-/tmp/credledger-local}
base_port=${CREDLEDGER_BASE_PORT:-7001}
metrics_base_port=${CREDLEDGER_METRICS_BASE_PORT:-9101}
build_dir=${CREDLEDGER_BUILD_DIR:-$repo/build}
credd=$build_dir/node/credd
credctl=$build_dir/tools/credctl
credaudit=$build_dir/tools/credaudit
node_ids=(1 2 3)
declare -A node_agency=([1]=samr [2]=sta [3]=court)
readonly stop_timeout_s=20 leader_timeout_s=60

# Sample subjects (valid GB 32100-2015 codes; `credctl uscc check` confirms).
readonly developer=91350100M000100Y43       # a Fuzhou real-estate developer
readonly electronics=914403001922038216     # a Shenzhen electronics manufacturer
readonly trading=91110105802247363A         # a Beijing trading company

say() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
  printf 'local-cluster: error: %s\n' "$*" >&2
  exit 1
}

# ---- processes -------------------------------------------------------------------------------

# The pid in a node's pid file if that process is alive and is our credd with our config.
node_pid() {
  local id=$1 file=$state/node-$1/credd.pid pid
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "credd --config $state/node-$id/node.toml" ||
    return 1
  echo "$pid"
}

stop_nodes() {
  local id pid any=0 waited
  declare -A pids=()
  for id in "${node_ids[@]}"; do
    if pid=$(node_pid "$id"); then
      pids[$id]=$pid
      any=1
      kill -TERM "$pid" 2>/dev/null || true
      info "node $id (pid $pid): SIGTERM"
    fi
    # A stale pid file (process gone or pid reused by something else) is only removed.
    [ -n "${pids[$id]:-}" ] || rm -f "$state/node-$id/credd.pid"
  done
  if [ $any -eq 0 ]; then
    info "no node of $state is running"
    return 0
  fi
  for id in "${!pids[@]}"; do
    pid=${pids[$id]}
    waited=0
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt $((stop_timeout_s * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      info "node $id (pid $pid) still running after ${stop_timeout_s}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    else
      info "node $id stopped"
    fi
    rm -f "$state/node-$id/credd.pid"
  done
}

# ---- ports -----------------------------------------------------------------------------------

port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    # Any socket on the port but one in TIME-WAIT (which does not stop a listener binding it).
    [ -n "$(ss -Htan exclude time-wait "sport = :$port" 2>/dev/null)" ] && return 0
  fi
  # Falls back to a connect; a listener answers.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# pick_ports START COUNT: COUNT free ports at or above START, space-separated.
pick_ports() {
  local port=$1 count=$2 picked=()
  while [ ${#picked[@]} -lt "$count" ]; do
    [ "$port" -le 65535 ] || die "no free port at or above $1"
    port_in_use "$port" || picked+=("$port")
    port=$((port + 1))
  done
  echo "${picked[*]}"
}

# ---- steps -----------------------------------------------------------------------------------

install_deps() {
  if [ "${CREDLEDGER_SKIP_DEPS:-0}" = 1 ]; then
    info "CREDLEDGER_SKIP_DEPS=1: not checking packages"
    return
  fi
  say "checking Debian packages (deploy/install-deps.sh)"
  "$repo/deploy/install-deps.sh"
}

build() {
  if [ "${CREDLEDGER_SKIP_BUILD:-0}" = 1 ]; then
    info "CREDLEDGER_SKIP_BUILD=1: using $credd and $credctl"
  else
    say "building credd and credctl in $build_dir"
    local configure=(cmake -S "$repo" -B "$build_dir")
    # A fresh directory gets an optimised build; an existing one keeps its generator and type.
    if [ ! -f "$build_dir/CMakeCache.txt" ]; then
      configure+=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
    fi
    local jobs
    jobs=$(nproc 2>/dev/null || echo 2)
    local cmds="${configure[*]@Q} >/dev/null && cmake --build ${build_dir@Q} -j$jobs --target credd credctl credaudit"
    # Several checkouts may share the machine: builds take turns.
    local lock=()
    command -v flock >/dev/null 2>&1 && lock=(flock /tmp/credledger-build.lock)
    "${lock[@]}" sh -c "$cmds" || die "the build failed (compiler output above)"
  fi
  [ -x "$credd" ] || die "$credd was not built"
  [ -x "$credctl" ] || die "$credctl was not built"
}

make_keys_and_genesis() {
  mkdir -p "$state/keys"
  chmod 0700 "$state/keys"
  say "agency signing keys (Ed25519) in $state/keys"
  local agency
  for agency in samr sta court; do
    if [ -s "$state/keys/$agency.key" ]; then
      info "keeping $state/keys/$agency.key"
    else
      "$credctl" keygen --agency "$agency" --out "$state/keys/$agency.key" | sed 's/^/    /'
    fi
  done

  if [ -s "$state/genesis.json" ]; then
    say "keeping genesis $state/genesis.json"
    return
  fi
  say "consortium genesis (legal-basis catalog and scoring from deploy/catalog.json)"
  # Mandates: which event kinds each agency may issue, in which sectors.
  local enforcement=administrative-penalty,blacklist-entry,blacklist-removal,restoration,correction,objection-ruling
  "$credctl" genesis --id credledger-local \
    --agency "samr=State Administration for Market Regulation" \
    --agency "sta=State Taxation Administration" \
    --agency "court=Supreme People's Court (enforcement)" \
    --key "$state/keys/samr.key" --key "$state/keys/sta.key" --key "$state/keys/court.key" \
    --mandate "samr:$enforcement,commendation,credit-rating:general,real-estate,internet-services,food-and-drug,construction" \
    --mandate "sta:$enforcement,commendation,credit-rating,voluntary-disclosure,credit-commitment:taxation" \
    --mandate "court:blacklist-entry,blacklist-removal,restoration,correction,objection-ruling:general" \
    --catalog "$repo/deploy/catalog.json" \
    --out "$state/genesis.json" | sed 's/^/    /'
}

write_configs() {
  local ports metrics id i
  if [ -s "$state/ports.env" ]; then
    # shellcheck disable=SC1091
    source "$state/ports.env"
    say "reusing ports from $state/ports.env: gRPC ${ports[*]}, metrics ${metrics[*]}"
  else
    read -r -a ports <<<"$(pick_ports "$base_port" 3)"
    read -r -a metrics <<<"$(pick_ports "$metrics_base_port" 3)"
    printf 'ports=(%s)\nmetrics=(%s)\n' "${ports[*]}" "${metrics[*]}" >"$state/ports.env"
    say "free ports on 127.0.0.1: gRPC ${ports[*]}, metrics ${metrics[*]}"
  fi
  endpoints=127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}
  metrics_ports=("${metrics[@]}")
  for i in 0 1 2; do
    id=${node_ids[$i]}
    mkdir -p "$state/node-$id"
    local config=$state/node-$id/node.toml
    [ -s "$config" ] && continue
    cat >"$config" <<EOF
# credd configuration of local node $id (written by deploy/local-cluster.sh).
# deploy/node.example.toml documents every key.
node_id = $id
data_dir = "$state/node-$id/data"
genesis = "$state/genesis.json"
agency_key = "$state/keys/${node_agency[$id]}.key"
listen = "127.0.0.1:${ports[$i]}"
metrics_listen = "127.0.0.1:${metrics[$i]}"
log_level = "info"

[peers]
1 = "127.0.0.1:${ports[0]}"
2 = "127.0.0.1:${ports[1]}"
3 = "127.0.0.1:${ports[2]}"

[tls]
ca = "$state/tls/ca.crt"
cert = "$state/tls/node-$id.crt"
key = "$state/tls/node-$id.key"

[raft]
tick_ms = 100
election_ticks = 10
heartbeat_ticks = 1

[batch]
max_events = 2000
max_delay_us = 2000
EOF
    info "wrote $config"
  done
}

# One file per caller of the demo, to `source`: the endpoints and the TLS files of that role
# (the certificates deploy/gen-certs.sh made; the public has none). Rewritten on every start,
# since the ports may change.
write_env_files() {
  mkdir -p "$state/env"
  local name cert
  for name in operator:operator-ops agency-samr:agency-samr agency-sta:agency-sta \
    agency-court:agency-court relying-bank:relying-bank auditor:auditor-audit-office public:; do
    cert=${name#*:}
    name=${name%%:*}
    {
      printf '# Source this file to call the local cluster as %s (written by deploy/local-cluster.sh):\n' \
        "${cert:-a public caller (TLS without a client certificate)}"
      printf '#   source %q\n' "$state/env/$name.env"
      printf "export CREDLEDGER_ENDPOINTS='%s'\n" "$endpoints"
      printf 'export CREDLEDGER_CACERT=%q\n' "$state/tls/ca.crt"
      if [ -n "$cert" ]; then
        printf 'export CREDLEDGER_CERT=%q\n' "$state/tls/$cert.crt"
        printf 'export CREDLEDGER_KEY=%q\n' "$state/tls/$cert.key"
      else
        printf 'unset CREDLEDGER_CERT CREDLEDGER_KEY\n'
      fi
    } >"$state/env/$name.env"
  done
  info "wrote caller environments in $state/env: $(cd "$state/env" && echo *.env)"
}

start_nodes() {
  say "starting three credd nodes"
  local id pid
  for id in "${node_ids[@]}"; do
    if pid=$(node_pid "$id"); then
      info "node $id already running (pid $pid)"
      continue
    fi
    local dir=$state/node-$id
    nohup "$credd" --config "$dir/node.toml" >>"$dir/credd.log" 2>&1 </dev/null &
    echo $! >"$dir/credd.pid"
    info "node $id: pid $!, listening on $(sed -n 's/^listen = "\(.*\)"/\1/p' "$dir/node.toml"), log $dir/credd.log"
  done
}

wait_for_leader() {
  say "waiting for a leader"
  local deadline=$((SECONDS + leader_timeout_s)) out id
  while :; do
    for id in "${node_ids[@]}"; do
      if ! node_pid "$id" >/dev/null; then
        echo "local-cluster: node $id exited; the end of $state/node-$id/credd.log:" >&2
        tail -n 20 "$state/node-$id/credd.log" >&2 || true
        exit 1
      fi
    done
    if out=$(as_operator -o json --timeout-ms 2000 cluster status 2>/dev/null) &&
      [[ $out =~ \"leader_id\":\ *\"([1-9][0-9]*)\" ]]; then
      info "node ${BASH_REMATCH[1]} is the leader"
      return
    fi
    [ $SECONDS -lt $deadline ] || die "no leader after ${leader_timeout_s}s; see $state/node-*/credd.log"
    sleep 0.5
  done
}

# ---- credctl as the consortium's callers ------------------------------------------------------

# tls_as CERT_BASENAME credctl-args...: calls every node, or only $via when it is set.
tls_as() {
  local who=$1
  shift
  "$credctl" --endpoints "${via:-$endpoints}" --cacert "$state/tls/ca.crt" \
    --cert "$state/tls/$who.crt" --key "$state/tls/$who.key" "$@"
}
as_operator() { tls_as operator-ops "$@"; }
as_bank() { tls_as relying-bank "$@"; }
as_auditor() { tls_as auditor-audit-office "$@"; }
as_public() { "$credctl" --endpoints "$endpoints" --cacert "$state/tls/ca.crt" "$@"; }

# ---- sample events ---------------------------------------------------------------------------

day() { date -u -d "$1" +%F; }  # day "-30 days" -> 2026-02-19

# sign AGENCY EVENT_ID credctl-event-sign-args...: signs once into events/EVENT_ID.json.
sign() {
  local agency=$1 id=$2
  shift 2
  local file=$state/events/$id.json
  [ -s "$file" ] && return
  "$credctl" event sign --key "$state/keys/$agency.key" --event-id "$id" "$@" --out "$file" >/dev/null
}

# submit AGENCY EVENT_ID...: submits over TLS with the agency's certificate.
submit() {
  local agency=$1 files=() id
  shift
  for id in "$@"; do files+=("$state/events/$id.json"); done
  tls_as "agency-$agency" event submit "${files[@]}" | sed 's/^/    /' ||
    die "agency:$agency's sample events were not all accepted (see above)"
}

sample_events() {
  mkdir -p "$state/events"
  # Dates of the decisions; each expiry stays within its legal basis's maximum publicity period.
  local d120 d60 d30 d14 d200
  d120=$(day "-120 days") d60=$(day "-60 days") d30=$(day "-30 days") d14=$(day "-14 days")
  d200=$(day "-200 days")

  say "signing sample events (Ed25519, each with its agency's key) in $state/events"
  # The Fuzhou developer: two market-regulation penalties, the first later restored.
  sign samr samr-2026-pen-0118 --kind administrative-penalty --subject "$developer" \
    --sector general --severity moderate --legal-basis APL-2021-ART9 \
    --document "榕市监罚〔2026〕118号" --effective "$d120" --expires "$(day "$d120 +365 days")" \
    --summary "False advertising of pre-sale flats (Advertising Law art. 28); fine CNY 200,000"
  sign samr samr-2026-pen-0342 --kind administrative-penalty --subject "$developer" \
    --sector real-estate --severity serious --legal-basis APL-2021-ART9-SERIOUS \
    --document "榕市监罚〔2026〕342号" --effective "$d60" --expires "$(day "$d60 +1095 days")" \
    --summary "Sold flats without a pre-sale permit; business licence suspended for 6 months"
  # ...and the real-estate dishonesty blacklist.
  sign samr samr-2026-bl-re-0007 --kind blacklist-entry --subject "$developer" \
    --sector real-estate --legal-basis RE-BL-2025-03 \
    --document "闽市监信〔2026〕7号" --effective "$d60" --expires "$(day "$d60 +1460 days")" \
    --summary "Misappropriated pre-sale escrow funds of 312 buyers; real-estate dishonesty list"
  # Tax bureau: underreported sales revenue.
  sign sta sta-2026-pen-0091 --kind administrative-penalty --subject "$developer" \
    --sector taxation --severity serious --legal-basis TAX-ADMIN-LAW-ART63 \
    --document "榕税稽罚〔2026〕91号" --effective "$d30" --expires "$(day "$d30 +1000 days")" \
    --summary "Underreported sales revenue 2023-2024; back taxes CNY 4.1M and a 0.5x fine"
  sign sta sta-2026-pen-0147 --kind administrative-penalty --subject "$trading" \
    --sector taxation --severity moderate --legal-basis TAX-ADMIN-LAW-ART63 \
    --document "京朝税稽罚〔2026〕147号" --effective "$d14" --expires "$(day "$d14 +730 days")" \
    --summary "False VAT input invoices; back taxes CNY 380,000 and a 1x fine"
  # Court: the developer did not pay a construction contractor as the judgment ordered.
  sign court court-2026-zx-0533 --kind blacklist-entry --subject "$developer" \
    --sector general --legal-basis SPC-DEFAULTER-2017 \
    --document "(2026)闽01执533号" --effective "$d14" --expires "$(day "$d14 +730 days")" \
    --summary "Judgment defaulter: has the means but refused to pay CNY 8.6M owed to a contractor"
  # A commendation (redlist) for the Shenzhen manufacturer.
  sign samr samr-2026-red-0021 --kind commendation --subject "$electronics" \
    --sector general --document "深市监信〔2026〕21号" --effective "$d200" \
    --expires "$(day "$d200 +1095 days")" \
    --summary "Contract-abiding and trustworthy enterprise (守合同重信用), 2025"
  # After the developer corrected its advertising and paid the fine: restoration of the first
  # penalty. Signed now; submitted after the penalty it refers to is on the ledger.
  sign samr samr-2026-rest-0118 --kind restoration --subject "$developer" \
    --refers-to samr-2026-pen-0118 --document "榕市监信修〔2026〕118号" \
    --summary "Rectified the advertising and paid the fine; credit restored ahead of expiry"

  if [ -f "$state/events/.submitted" ]; then
    say "the sample events were submitted before: the ledger answers with the original receipts"
  fi
  say "submitting as agency:samr (market regulator)"
  submit samr samr-2026-pen-0118 samr-2026-pen-0342 samr-2026-bl-re-0007 samr-2026-red-0021
  say "submitting as agency:sta (tax bureau)"
  submit sta sta-2026-pen-0091 sta-2026-pen-0147
  say "submitting as agency:court (judgment defaulters)"
  submit court court-2026-zx-0533
  say "submitting the restoration of samr-2026-pen-0118 as agency:samr"
  submit samr samr-2026-rest-0118
  touch "$state/events/.submitted"
}

# ---- output ----------------------------------------------------------------------------------

show() {
  say "status of $developer as a relying party (relying:bank), with the score explanation"
  as_bank status --linearizable "$developer" | sed 's/^/    /'
  say "the same subject as the public sees it (TLS without a client certificate)"
  as_public status "$developer" | sed 's/^/    /'
  say "screening three bidders as relying:bank (credctl check; exit 1 = someone is blacklisted)"
  printf '%s\n' "# bidders for a public works tender" "$developer" "$electronics" "$trading" \
    >"$state/bidders.txt"
  local rc=0
  as_bank check "$state/bidders.txt" | sed 's/^/    /' || rc=$?
  info "(credctl check exit code: $rc)"
  say "real-estate blacklist (public view)"
  as_public blacklist list --sector real-estate | sed 's/^/    /'
  say "cluster status as operator:ops (source $state/env/operator.env; credctl asks the leader, which knows each follower's lag)"
  # shellcheck disable=SC1091
  (source "$state/env/operator.env" && "$credctl" cluster status) | sed 's/^/    /'
  local leader
  leader=$(as_operator -o json cluster status |
    sed -n 's/^ *"leader_address": *"\([^"]*\)".*/\1/p' | head -n 1)
  say "storage check of the leader (RocksDB checksums and every stored block; exit 1 = damage)"
  via=$leader as_operator storage verify | sed 's/^/    /'
  audit
}

# json_number KEY: the first "KEY": N (or "N") of a JSON document on stdin.
json_number() { sed -n "s/^ *\"$1\": *\"\{0,1\}\([0-9]*\)\"\{0,1\},\{0,1\}\$/\1/p" | head -n 1; }

# An auditor's view: a checkpoint cosigned by a quorum of agencies, an inclusion proof, and the
# whole chain replayed from genesis by credaudit, which trusts nothing the nodes say.
audit() {
  local audit_dir=$state/audit i
  mkdir -p "$audit_dir"
  say "auditing as auditor:audit-office (credaudit trusts nothing the nodes say)"
  # Nodes cosign their head every second; wait for the checkpoint of the current head.
  local head cp_height=
  head=$(as_operator -o json cluster status | json_number height)
  for i in $(seq 1 50); do
    if as_auditor checkpoint --out "$audit_dir/checkpoint.json" --force >/dev/null 2>&1; then
      cp_height=$(json_number height <"$audit_dir/checkpoint.json")
      [ "$cp_height" = "$head" ] && break
    fi
    sleep 0.2
  done
  [ -s "$audit_dir/checkpoint.json" ] || die "no checkpoint was cosigned by a quorum"
  as_auditor checkpoint | sed 's/^/    /'
  as_auditor proof inclusion --event samr-2026-bl-re-0007 --out "$audit_dir/proof.json" --force |
    sed 's/^/    /'
  "$credaudit" inclusion --genesis "$state/genesis.json" --checkpoint "$audit_dir/checkpoint.json" \
    --proof "$audit_dir/proof.json" | sed 's/^/    /'
  as_auditor export --out "$audit_dir/chain.bin" --force | sed 's/^/    /'
  "$credaudit" verify --genesis "$state/genesis.json" --chain "$audit_dir/chain.bin" \
    --checkpoint "$audit_dir/checkpoint.json" | sed 's/^/    /'
}

print_help() {
  local m env=
  [ "$state" = /tmp/credledger-local ] || env="CREDLEDGER_LOCAL_DIR=$state "
  say "the cluster is running (state in $state)"
  cat <<EOF
    gRPC endpoints  $endpoints
    metrics         $(for m in "${metrics_ports[@]}"; do printf 'http://127.0.0.1:%s/metrics ' "$m"; done)
    logs            $state/node-{1,2,3}/credd.log

    Call the cluster as one of its users: source that user's environment file (endpoints,
    CA, certificate and key in CREDLEDGER_* variables; flags still win over them), e.g.
      source $state/env/operator.env       && $credctl cluster status
      source $state/env/relying-bank.env   && $credctl history $developer
      source $state/env/agency-samr.env    && $credctl event submit ev.json
      source $state/env/auditor.env        && $credctl checkpoint --out cp.json
      source $state/env/public.env         && $credctl blacklist list --sector real-estate
    (also agency-sta.env and agency-court.env)

    Stop the nodes:        ${env}$repo/deploy/local-cluster.sh stop
    Stop and delete all:   ${env}$repo/deploy/local-cluster.sh clean
EOF
}

# ---- commands --------------------------------------------------------------------------------

load_endpoints() {
  [ -s "$state/ports.env" ] || die "no cluster in $state; run '$0 start' first"
  local ports metrics
  # shellcheck disable=SC1091
  source "$state/ports.env"
  endpoints=127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}
  metrics_ports=("${metrics[@]}")
}

cmd_start() {
  install_deps
  build
  mkdir -p "$state"
  chmod 0700 "$state"
  make_keys_and_genesis
  say "TLS: consortium CA and certificates (deploy/gen-certs.sh)"
  "$repo/deploy/gen-certs.sh" "$state/tls" "${node_ids[@]}" | sed 's/^/    /'
  write_configs
  write_env_files
  start_nodes
  wait_for_leader
  sample_events
  show
  print_help
}

cmd_status() {
  load_endpoints
  [ -x "$credctl" ] || die "$credctl is not built; run '$0 start'"
  write_env_files
  show
  print_help
}

cmd_stop() {
  say "stopping the nodes of $state"
  [ -d "$state" ] || { info "$state does not exist"; return; }
  stop_nodes
}

cmd_clean() {
  cmd_stop
  # Refuse to delete anything that does not look like our state directory.
  if [ -d "$state" ]; then
    [ -f "$state/genesis.json" ] || [ -d "$state/tls" ] || [ -f "$state/ports.env" ] ||
      [ -z "$(ls -A "$state")" ] ||
      die "$state does not look like a local-cluster state directory; not removing it"
    rm -rf -- "$state"
    info "removed $state"
  fi
}

case "${1:-start}" in
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  clean) cmd_clean ;;
  -h | --help | help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    echo "usage: $0 [start|status|stop|clean]" >&2
    exit 2
    ;;
esac
