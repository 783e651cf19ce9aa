#!/usr/bin/env bash
# Instructions per event, generated dispatch vs direct call, counted by callgrind so the
# ratio is stable whatever else the machine does. Per-event cost is the difference
# between runs of N2 and N1 events divided by N2 - N1 (start-up cost cancels out).
# `dispatch`: packets to the first declared port; `last-dispatch`: to the last one.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 1; }
cargo build -q --release -p vipe-rt --example dispatch_icount
bin=${CARGO_TARGET_DIR:-target}/release/examples/dispatch_icount
N1=${N1:-100000}
N2=${N2:-300000}
count() { # mode n -> total instructions
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
  grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}'
  rm -f "$out"
}
per_event() { # mode
  local a b
  a=$(count "$1" "$N1"); b=$(count "$1" "$N2")
  echo "scale=3; ($b - $a) / ($N2 - $N1)" | bc
}
printf '%-16s %12s\n' mode instr/event
for pair in "dispatch direct" "last-dispatch last-direct" "timer-dispatch timer-direct"; do
  set -- $pair
  gen=$(per_event "$1"); dir=$(per_event "$2")
  printf '%-16s %12s\n' "$1" "$gen" "$2" "$dir"
  echo "ratio $1 / $2 = $(echo "scale=4; $gen / $dir" | bc)"
done
