#!/usr/bin/env bash
# Goodput of the `tcphost` example (VIPE TCP on a TAP device, release build) against the
# Linux kernel's TCP in a network namespace, both directions:
#   kernel curl  <- tcphost --http-root    (VIPE sends)
#   tcphost --fetch <- python3 http.server (VIPE receives)
# Usage (root): bench/tcphost-kernel.sh [MB] [LOSS_PERCENT]
# Loss is applied on the kernel's egress (tc netem, or nftables where netem is missing).
set -euo pipefail
MB=${1:-200}
LOSS=${2:-0}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p vipe-examples --no-default-features --features linux --bin tcphost
BIN=$CARGO_TARGET_DIR/release/tcphost
NS=vipe-bench-$$
TAP=vtb$$
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; ip netns del $NS 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/www"
head -c $((MB * 1024 * 1024)) /dev/urandom > "$DIR/www/big.bin"
ip netns add $NS

kernel_side() {
  for _ in $(seq 50); do ip link show "$TAP" >/dev/null 2>&1 && break; sleep 0.1; done
  ip link set "$TAP" netns $NS
  ip netns exec $NS ip addr add 10.80.0.1/24 dev "$TAP"
  ip netns exec $NS ip link set "$TAP" up
  ip netns exec $NS ip link set lo up
  if [ "$LOSS" != 0 ]; then
    ip netns exec $NS tc qdisc add dev "$TAP" root netem loss "$LOSS%" 2>/dev/null || {
      ip netns exec $NS nft add table inet vipe
      ip netns exec $NS nft "add chain inet vipe out { type filter hook output priority 0 ; }"
      ip netns exec $NS nft "add rule inet vipe out oifname \"$TAP\" numgen random mod 100 < $LOSS drop"
    }
  fi
}

# VIPE sends: kernel curl downloads from tcphost.
"$BIN" --tap "$TAP" --ip 10.80.0.2/24 --http-root "$DIR/www" --port 8080 --seconds 600 &
SERVER=$!
kernel_side
sleep 0.5
OUT=$(ip netns exec $NS curl -sS -o "$DIR/curl.out" -w '%{size_download} %{time_total}' http://10.80.0.2:8080/big.bin)
read -r BYTES SECS <<<"$OUT"
cmp -s "$DIR/www/big.bin" "$DIR/curl.out" && SAME=equal || SAME=DIFFERENT
echo "VIPE -> kernel curl: $BYTES bytes in $SECS s = $(python3 -c "print(round($BYTES*8/$SECS/1e6))") Mbit/s, bytes $SAME (loss $LOSS%)"
kill $SERVER; wait $SERVER 2>/dev/null || true
ip netns del $NS; ip netns add $NS

# VIPE receives: tcphost fetches from the kernel's python3 http.server (it retries its SYN
# until the namespace side is up; the rate it prints counts from the handshake).
"$BIN" --tap "$TAP" --ip 10.80.0.2/24 --fetch http://10.80.0.1:8000/big.bin --out "$DIR/vipe.out" --seconds 600 &
CLIENT=$!
kernel_side
ip netns exec $NS python3 -m http.server 8000 --bind 10.80.0.1 --directory "$DIR/www" >/dev/null 2>&1 &
wait $CLIENT
cmp -s "$DIR/www/big.bin" "$DIR/vipe.out" && echo "kernel -> VIPE fetch: bytes equal" || echo "kernel -> VIPE fetch: bytes DIFFERENT"
