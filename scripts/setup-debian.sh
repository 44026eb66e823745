#!/usr/bin/env bash
# Installs every Debian 12 package flowpipe's build, tests, examples and
# benchmarks need.  Idempotent: when everything is installed already it does
# nothing (no apt-get update, no network).  Runs as root, or re-runs itself
# under sudo.  Works in a container without systemd: openvswitch-switch's
# postinst would start services, so invoke-rc.d is told not to (policy-rc.d).
set -euo pipefail

packages=(
  # compilers and build tools
  build-essential g++ clang cmake ninja-build pkg-config git
  clang-format clang-tidy
  # the library's own dependencies (headers only)
  libboost-dev libxsimd-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libabsl-dev
  # libFuzzer (the fuzz preset)
  libfuzzer-14-dev libclang-rt-14-dev
  # peers and drivers used by benchmarks and examples
  libdpdk-dev dpdk-dev libpcap-dev libxdp-dev libbpf-dev
  # Open vSwitch, the reference for semantics (used as an oracle by tests, driven by python3)
  openvswitch-switch python3
  # network namespaces, veth pairs, ping, captures and a control-socket client for the examples
  iproute2 iputils-ping tcpdump socat
)

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=CI bash "$0" "$@"
  fi
  echo "setup-debian.sh: run as root (sudo is not installed)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup-debian.sh: all ${#packages[@]} packages are installed"
  exit 0
fi
echo "setup-debian.sh: installing ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
apt-get update

# Check every missing package exists before installing any, so a typo or a
# missing archive component is named, not buried in apt's output.
for p in "${missing[@]}"; do
  candidate=$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')
  if [[ -z $candidate || $candidate == "(none)" ]]; then
    echo "setup-debian.sh: package $p is not available from the configured archives" >&2
    exit 1
  fi
done

# Keep services from starting during the install (no systemd in containers):
# invoke-rc.d asks /usr/sbin/policy-rc.d, and exit status 101 means "no".
# Only a policy-rc.d we create is removed again.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# Every package the build needs is listed above, so recommends are not needed.
apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"
echo "setup-debian.sh: done"
