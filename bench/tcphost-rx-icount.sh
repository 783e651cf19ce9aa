#!/usr/bin/env bash
# Instructions per received segment of VIPE TCP's receive path, counted by valgrind's
# callgrind (repeatable on a loaded machine, unlike wall time): `tcphost --fetch` (body
# discarded) from a kernel HTTP/1.0 responder writing zeros, as in
# bench/tcphost-vs-smoltcp.sh, once for SMALL and once for BIG bytes; the difference of
# the two instruction totals over the difference of their 1448-byte segments (MSS 1460
# less the timestamp option) leaves out start-up and handshake costs. User-space
# instructions of the tcphost process only (the kernel's are not counted).
#
# Usage (root): bench/tcphost-rx-icount.sh [SMALL_BYTES BIG_BYTES]
#   VIPE_BIN=path/to/tcphost   measures another build (default: the release build here)
# Needs: valgrind, python3, ip.
set -euo pipefail
SMALL=${1:-20000000}
BIG=${2:-100000000}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${VIPE_BIN:-}" ]; then
  cargo build -q --release -p vipe-examples --no-default-features --features linux --bin tcphost
fi
VIPE=${VIPE_BIN:-$CARGO_TARGET_DIR/release/tcphost}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
NS=vipe-icount-$$
TAP=vic$$
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; ip netns del $NS 2>/dev/null || true; rm -rf "$DIR"' EXIT
ZERO_SERVER=$PWD/bench/zero-http-server.py  # the kernel-side responder (after the cd above)
# Instructions (Ir) of one fetch of $1 bytes under callgrind.
count() {
  ip netns del $NS 2>/dev/null || true
  ip netns add $NS
  ip netns exec $NS ip link set lo up
  ip netns exec $NS python3 "$ZERO_SERVER" "$1" >/dev/null 2>&1 &
  local server=$!
  sleep 0.3
  valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
    "$VIPE" --tap "$TAP" --ip 10.80.0.2/24 --fetch http://10.80.0.1:8000/big.bin --seconds 900 \
    >"$DIR/fetch.txt" 2>"$DIR/valgrind.txt" &
  local client=$!
  for _ in $(seq 300); do ip link show "$TAP" >/dev/null 2>&1 && break; sleep 0.1; done
  ip link set "$TAP" netns $NS
  ip netns exec $NS ip addr add 10.80.0.1/24 dev "$TAP"
  ip netns exec $NS ip link set "$TAP" up
  wait $client
  wait $server || true
  grep -q "fetched $1 bytes" "$DIR/fetch.txt" || { cat "$DIR/fetch.txt" "$DIR/valgrind.txt" >&2; exit 1; }
  [ -z "${KEEP_CG:-}" ] || cp "$DIR/cg.out" "$KEEP_CG.$1"  # KEEP_CG=PREFIX keeps the profiles
  sed -n 's/^summary: \([0-9]*\).*/\1/p' "$DIR/cg.out"
}
a=$(count "$SMALL")
b=$(count "$BIG")
python3 -c "
small, big, a, b = $SMALL, $BIG, $a, $b
seg = 1448
print(f'Ir: {a} for {small} bytes, {b} for {big} bytes')
print(f'instructions per received 1448-byte segment: {(b - a) / ((big - small) / seg):.0f}')
print(f'instructions per received byte: {(b - a) / (big - small):.2f}')
"
