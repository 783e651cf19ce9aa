#!/usr/bin/env bash
# Instructions per forwarded frame (user space only): a VIPE router node vs the
# hand-written forwarder's per-frame work, both from a pool packet holding the frame to
# the frame ready to write (examples/examples/router_icount.rs), counted by callgrind
# (difference between N2 and N1 frames, so start-up cancels out).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p vipe-examples --example router_icount
bin=$CARGO_TARGET_DIR/release/examples/router_icount
N1=${N1:-100000}
N2=${N2:-300000}
count() {
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
  grep -E '^summary:|^totals:' "$out" | head -1 | awk '{print $2}'
  rm -f "$out"
}
printf '%-8s %s\n' mode instr/frame
for m in vipe hand; do
  a=$(count "$m" "$N1"); b=$(count "$m" "$N2")
  printf '%-8s %s\n' "$m" "$(echo "scale=1; ($b - $a) / ($N2 - $N1)" | bc)"
done
