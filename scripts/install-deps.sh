#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking
# HORAO needs. Idempotent: when everything is present it changes nothing and
# does not touch the network. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config git
  libboost1.81-dev libhiredis-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libssl-dev libsystemd-dev libgoogle-perftools-dev
  catch2 librapidcheck-dev
  redis-server redis-tools
  python3 python3-pytest python3-requests python3-websockets
  curl procps iproute2
  clang libclang-rt-14-dev
  wrk nginx-light
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
# The redis-server package may try to start a system service; tests start
# their own servers on free ports, so a failure to start it does not matter.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
