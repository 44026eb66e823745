#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds flowpipe (the `release` preset) and runs
# every test.  Idempotent: a second run only rebuilds what changed.
#   sudo bash scripts/test.sh
# Environment: JOBS (build parallelism, default nproc), TEST_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-debian.sh

build=build/release
jobs=${JOBS:-$(nproc)}
cmake --preset release
# -k 0: report every target that fails to build, not just the first.
cmake --build "$build" -j "$jobs" -- -k 0
ctest --test-dir "$build" --output-on-failure -j "${TEST_JOBS:-2}"
