#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and running credledger need.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
# Extra package names given as arguments are installed too (bench/run.sh adds etcd and jq).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librocksdb-dev libsodium-dev libboost-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  catch2 libbenchmark-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  openssl
  clang libclang-rt-14-dev
)
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
