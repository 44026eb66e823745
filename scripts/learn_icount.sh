#!/bin/bash
# Instructions per learn of br-tun's learn into table 20 (1K MACs held),
# counted by callgrind: learn_icount runs 100 and 200 bursts of 32; the
# difference of the two totals, over 3200 learns, is the learns alone.
#   scripts/learn_icount.sh [BUILD_DIR]     (default build/release)
# Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
build=${1:-build/release}
bin=$build/bench/learn_icount
[ -x "$bin" ] || { echo "no $bin: build the benches first (cmake --build $build)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 2; }
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
for mode in relearn relearn_burst new new_burst; do
    a=$(count 100 "$mode")
    b=$(count 200 "$mode")
    awk -v m="$mode" -v a="$a" -v b="$b" 'BEGIN { printf "%-14s %6.1f instructions a learn\n", m, (b - a) / 3200 }'
done
