#!/usr/bin/env bash
# Generates a small consortium CA and the TLS certificates of a credledger cluster with openssl.
#
#   deploy/gen-certs.sh DIR [NODE_ID...]        (default node ids: 1 2 3)
#
# Writes into DIR:
#   ca.crt, ca.key                 the consortium CA (ECDSA P-256, 10 years)
#   node-<id>.crt, node-<id>.key   one per node: CN "node:<id>", SAN IP:127.0.0.1 and
#                                  DNS:localhost, usable as server and as client (mutual TLS
#                                  between nodes)
#   <role>-<name>.crt/.key         client certificates whose CN is the caller's role
#                                  ("<role>:<name>", see node/auth.h): agency:samr, agency:sta,
#                                  agency:court, auditor:audit-office, relying:bank, operator:ops
#
# Private keys are mode 0600. Idempotent: a file that already exists is kept, so re-running after
# adding a node id only creates that node's certificate. Certificates are for a local or test
# consortium; a production consortium issues them from its own PKI.
set -euo pipefail

readonly days=3650

usage() {
  echo "usage: $0 DIR [NODE_ID...]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
dir=$1
shift
node_ids=("$@")
[ ${#node_ids[@]} -gt 0 ] || node_ids=(1 2 3)
for id in "${node_ids[@]}"; do
  [[ $id =~ ^[1-9][0-9]*$ ]] || { echo "gen-certs: node id '$id' is not a positive integer" >&2; exit 2; }
done

command -v openssl >/dev/null || { echo "gen-certs: openssl is not installed" >&2; exit 3; }

mkdir -p "$dir"
chmod 0755 "$dir"
umask 077  # keys are created 0600; certificates are chmod'ed 0644 below
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

new_key() {  # new_key FILE
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 0600 "$1"
}

ca_crt=$dir/ca.crt
ca_key=$dir/ca.key
if [ -s "$ca_crt" ] && [ -s "$ca_key" ]; then
  echo "gen-certs: keeping existing CA $ca_crt"
else
  if [ -e "$ca_crt" ] || [ -e "$ca_key" ]; then
    echo "gen-certs: $ca_crt or $ca_key exists without the other; remove it or both" >&2
    exit 3
  fi
  new_key "$ca_key"
  openssl req -x509 -new -key "$ca_key" -sha256 -days "$days" \
    -subj "/O=credledger consortium/CN=credledger consortium CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$ca_crt"
  chmod 0644 "$ca_crt"
  echo "gen-certs: created consortium CA $ca_crt"
fi

# issue BASENAME CN EXTENDED_KEY_USAGE [SAN]
issue() {
  local base=$1 cn=$2 eku=$3 san=${4:-}
  local crt=$dir/$base.crt key=$dir/$base.key
  if [ -s "$crt" ] && [ -s "$key" ]; then
    echo "gen-certs: keeping existing $crt ($cn)"
    return
  fi
  [ -s "$key" ] || new_key "$key"
  local ext=$tmp/$base.ext
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyAgreement"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid,issuer"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$ext"
  openssl req -new -key "$key" -subj "/O=credledger consortium/CN=$cn" -out "$tmp/$base.csr"
  openssl x509 -req -in "$tmp/$base.csr" -CA "$ca_crt" -CAkey "$ca_key" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -sha256 -days "$days" -extfile "$ext" -out "$crt" 2>/dev/null
  chmod 0644 "$crt"
  openssl verify -CAfile "$ca_crt" "$crt" >/dev/null
  echo "gen-certs: created $crt ($cn)"
}

for id in "${node_ids[@]}"; do
  issue "node-$id" "node:$id" "serverAuth,clientAuth" "IP:127.0.0.1,DNS:localhost"
done

for caller in agency:samr agency:sta agency:court auditor:audit-office relying:bank operator:ops; do
  issue "${caller%%:*}-${caller#*:}" "$caller" "clientAuth"
done
