#!/usr/bin/env bash
# Instructions per Ethernet+IPv4+TCP parse for VIPE, etherparse and smoltcp, counted by
# callgrind (difference between N2 and N1 parses, so start-up cancels out).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 1; }
cargo build -q --release -p vipe-protocols --example parse_icount
bin=${CARGO_TARGET_DIR:-target}/release/examples/parse_icount
N1=${N1:-100000}
N2=${N2:-300000}
count() {
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
  grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}'
  rm -f "$out"
}
printf '%-20s %s\n' parser instr/parse
for p in vipe etherparse-layers etherparse-sliced vipe-checksum smoltcp; do
  a=$(count "$p" "$N1"); b=$(count "$p" "$N2")
  printf '%-20s %s\n' "$p" "$(echo "scale=1; ($b - $a) / ($N2 - $N1)" | bc)"
done
