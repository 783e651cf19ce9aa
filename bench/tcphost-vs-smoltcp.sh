#!/usr/bin/env bash
# Goodput of VIPE TCP (the `tcphost` example, release build, on a TAP device) and of
# smoltcp (its own `benchmark` example, built from its crates.io package at run time)
# against the Linux kernel's TCP, both directions, on the same host in the same run,
# interleaved: round i runs smoltcp reader, VIPE send, smoltcp writer, VIPE receive.
#
#   VIPE sends:     kernel `curl -o /dev/null` downloads BYTES from `tcphost --http-root`
#   VIPE receives:  `tcphost --fetch` (body discarded) from a kernel HTTP/1.0 responder
#                   (python3, writing zeros from a 1 MiB buffer)
#   smoltcp reader: smoltcp sends 10^9 bytes, its in-process kernel client reads them
#   smoltcp writer: the kernel client writes 10^9 bytes, smoltcp receives them
#
# Every peer runs in one network namespace behind one TAP device. The data are discarded
# on both sides in all four, as smoltcp's benchmark does (byte equality is checked by
# examples/tests/tcp_linux.rs). Usage (root): bench/tcphost-vs-smoltcp.sh [ROUNDS]
# VIPE_OFFLOAD=1 runs tcphost with --offload (TAP offloads: TCP segmentation offload on
# what VIPE sends, 64 KB segments from the kernel on what it receives).
# Needs: cargo, curl, python3, ip. smoltcp is fetched by cargo (from crates.io) into a
# temporary project and built in $SMOL_DIR (default: a directory under /tmp that is
# kept between runs, so the second run does not rebuild it).
set -euo pipefail
ROUNDS=${1:-5}
SMOL_VERSION=0.14.0
BYTES=1000000000  # what smoltcp's benchmark moves (its AMOUNT)
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p vipe-examples --no-default-features --features linux --bin tcphost
VIPE=${VIPE_BIN:-$CARGO_TARGET_DIR/release/tcphost}  # VIPE_BIN: another build to compare
OFFLOAD=()
if [ "${VIPE_OFFLOAD:-0}" = 1 ]; then OFFLOAD=(--offload); fi

# smoltcp's benchmark example from its published package.
SMOL_DIR=${SMOL_DIR:-/tmp/vipe-smoltcp-bench-$SMOL_VERSION}
SMOL=$SMOL_DIR/target/release/examples/benchmark
if [ ! -x "$SMOL" ]; then
  mkdir -p "$SMOL_DIR/fetch/src"
  cat > "$SMOL_DIR/fetch/Cargo.toml" <<EOF
[package]
name = "fetch-smoltcp"
version = "0.0.0"
edition = "2021"
[dependencies]
smoltcp = "=$SMOL_VERSION"
EOF
  touch "$SMOL_DIR/fetch/src/lib.rs"
  (cd "$SMOL_DIR/fetch" && cargo fetch -q)
  SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/smoltcp-$SMOL_VERSION | head -1)
  rm -rf "$SMOL_DIR/smoltcp"
  cp -r "$SRC" "$SMOL_DIR/smoltcp"
  (cd "$SMOL_DIR/smoltcp" && CARGO_TARGET_DIR="$SMOL_DIR/target" \
    cargo build -q --release --example benchmark)
fi

NS=vipe-smol-$$
TAP=vts$$
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; ip netns del $NS 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/www"
head -c $BYTES /dev/zero > "$DIR/www/big.bin"
# The kernel peer VIPE fetches from: an HTTP/1.0 responder that writes BYTES zero bytes
# from one 1 MiB buffer, as smoltcp's benchmark client writes (python3 -m http.server
# would also read a file, a second copy per byte that smoltcp's client does not make).
ZERO_SERVER=$PWD/bench/zero-http-server.py  # the kernel-side responder (after the cd above)
mbps() { python3 -c "print(round($1*8/$2/1e6))"; }
# CPU seconds (user + system) a live process has used so far.
cpu_of() { python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
# CPU seconds (user + system) of a command /usr/bin/time measured into file $1.
cpu_in() { python3 -c "u,s=open('$1').read().split()[-2:]; print(float(u)+float(s))"; }

fresh_ns() {
  ip netns del $NS 2>/dev/null || true
  ip netns add $NS
  ip netns exec $NS ip link set lo up
}

# A TAP that a VIPE process created moves into the namespace.
vipe_tap() {
  for _ in $(seq 50); do ip link show "$TAP" >/dev/null 2>&1 && break; sleep 0.1; done
  ip link set "$TAP" netns $NS
  ip netns exec $NS ip addr add 10.80.0.1/24 dev "$TAP"
  ip netns exec $NS ip link set "$TAP" up
}

smoltcp() { # MODE -> Mbit/s
  fresh_ns
  ip netns exec $NS ip tuntap add name "$TAP" mode tap
  ip netns exec $NS ip addr add 192.168.69.100/24 dev "$TAP"
  ip netns exec $NS ip link set "$TAP" up
  # Its client thread connects at once and may beat the first listen() (refused, the
  # example panics): try again, up to three times.
  local out=
  for _ in 1 2 3; do
    out=$(ip netns exec $NS /usr/bin/time -f '%U %S' -o "$DIR/time.txt" timeout 30 "$SMOL" --tap "$TAP" "$1" 2>/dev/null) && [ -n "$out" ] && break
  done
  echo "$(python3 -c "print(round(float('$out'.split()[1])*1000))") $(cpu_in "$DIR/time.txt")"
}

vipe_send() {
  fresh_ns
  "$VIPE" "${OFFLOAD[@]}" --tap "$TAP" --ip 10.80.0.2/24 --http-root "$DIR/www" --port 8080 --seconds 600 &
  local server=$!
  vipe_tap
  sleep 0.3
  local out bytes secs
  local before
  before=$(cpu_of $server)
  out=$(ip netns exec $NS /usr/bin/time -f '%U %S' -o "$DIR/time.txt" curl -sS -o /dev/null -w '%{size_download} %{time_total}' http://10.80.0.2:8080/big.bin)
  read -r bytes secs <<<"$out"
  local vipe_cpu
  vipe_cpu=$(python3 -c "print($(cpu_of $server) - $before)")
  kill $server; wait $server 2>/dev/null || true
  [ "$bytes" = $BYTES ] || { echo "VIPE send: got $bytes bytes" >&2; exit 1; }
  echo "$(mbps "$bytes" "$secs") $(python3 -c "print($vipe_cpu + $(cpu_in "$DIR/time.txt"))")"
}

vipe_recv() {
  fresh_ns
  ip netns exec $NS /usr/bin/time -f '%U %S' -o "$DIR/peer.txt" python3 "$ZERO_SERVER" $BYTES >/dev/null 2>&1 &
  local server=$!
  sleep 0.3
  /usr/bin/time -f '%U %S' -o "$DIR/time.txt" \
    "$VIPE" "${OFFLOAD[@]}" --tap "$TAP" --ip 10.80.0.2/24 --fetch http://10.80.0.1:8000/big.bin --seconds 600 >"$DIR/fetch.txt" &
  local client=$!
  vipe_tap
  wait $client
  wait $server  # the responder ends after one response
  local peer_cpu
  peer_cpu=$(cpu_in "$DIR/peer.txt")
  # "fetched N bytes in S s from the handshake (R Mbit/s)"
  grep -q "fetched $BYTES bytes" "$DIR/fetch.txt" || { cat "$DIR/fetch.txt" >&2; exit 1; }
  echo "$(sed -E 's/.*\(([0-9.]+) Mbit\/s\).*/\1/' "$DIR/fetch.txt" | python3 -c "print(round(float(input())))") $(python3 -c "print($peer_cpu + $(cpu_in "$DIR/time.txt"))")"
}

echo "tcphost options: ${OFFLOAD[*]:-(none)}"
echo "Goodput (Mbit/s), and CPU seconds per 10^9 bytes: the stack's process plus its kernel peer's"
echo "round | smoltcp sends  VIPE sends  ratio | smoltcp receives  VIPE receives  ratio | CPU s/GB: smoltcp-s VIPE-s smoltcp-r VIPE-r"
ROWS=()
for i in $(seq "$ROUNDS"); do
  read -r a ca <<<"$(smoltcp reader)"; read -r b cb <<<"$(vipe_send)"
  read -r c cc <<<"$(smoltcp writer)"; read -r d cd <<<"$(vipe_recv)"
  ROWS+=("$a $b $c $d $ca $cb $cc $cd")
  python3 -c "a,b,c,d,ca,cb,cc,cd=map(float,'$a $b $c $d $ca $cb $cc $cd'.split()); g=$BYTES/1e9
print(f'{$i:5d} | {a:13.0f}  {b:10.0f}  {b/a:5.2f} | {c:16.0f}  {d:13.0f}  {d/c:5.2f} | {ca/g:17.2f} {cb/g:6.2f} {cc/g:9.2f} {cd/g:6.2f}')"
done
python3 - "$BYTES" "${ROWS[@]}" <<'EOF'
import statistics as st, sys
g = float(sys.argv[1]) / 1e9
rows = [[float(x) for x in r.split()] for r in sys.argv[2:]]
col = lambda i: [r[i] for r in rows]
m = st.median
r1 = m([r[1] / r[0] for r in rows]); r2 = m([r[3] / r[2] for r in rows])
c1 = m([r[5] / r[4] for r in rows]); c2 = m([r[7] / r[6] for r in rows])
print(f"median| {m(col(0)):13.0f}  {m(col(1)):10.0f}  {r1:5.2f} | {m(col(2)):16.0f}  {m(col(3)):13.0f}  {r2:5.2f} | "
      f"{m(col(4))/g:17.2f} {m(col(5))/g:6.2f} {m(col(6))/g:9.2f} {m(col(7))/g:6.2f}")
print(f"CPU per byte, VIPE / smoltcp (median of the rounds' ratios): sends {c1:.2f}, receives {c2:.2f}")
EOF
