#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds the br-tun demo (examples/br_tun_demo,
# the Neutron tunnel bridge pipeline on real packets) and runs it.
#   bash scripts/demo.sh [arguments passed to br_tun_demo]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-debian.sh

build=build/release
cmake --preset release
targets=$(cmake --build "$build" --target help)
if ! grep -q '^br_tun_demo:' <<<"$targets"; then
  echo "demo.sh: this checkout has no br_tun_demo target (examples/br_tun_demo is not there yet)" >&2
  exit 1
fi
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target br_tun_demo
exec "$build/examples/br_tun_demo/br_tun_demo" "$@"
