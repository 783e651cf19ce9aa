#!/usr/bin/env bash
# Datagrams/s echoed by a UDP echo server on the Linux UDP backend (VIPE's `udp_peer
# --listen`: a DatagramEcho protocol on LinuxPlatform::add_udp, recvmmsg/sendmmsg in
# batches of 32) vs a hand-written recvmmsg/sendmmsg echo with the same batch and buffer
# sizes (bench/tools/src/bin/udp_echo.rs). `udp_blast` (sendmmsg, 64 at a time) floods
# the server with SIZE-byte IPv4 packets over loopback in a fresh network namespace for
# RUN_SECONDS; the server runs on CPU 1, the load on CPU 0; the rate is what the server
# echoed divided by RUN_SECONDS. Runs alternate (vipe, hand, vipe, hand ...); medians and
# the ratio are printed. Beside the rate, the server's CPU time (user + system, GNU time)
# per echoed datagram: on a loaded machine the rate follows how much CPU the server gets,
# the CPU time per datagram much less.
#
# Needs root (namespace). Environment: SIZES ("64 512"), RUN_SECONDS (4), REPEAT (3).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"64 512"}
RUN_SECONDS=${RUN_SECONDS:-4}
REPEAT=${REPEAT:-3}
[ "$(id -u)" = 0 ] || { echo "linux-udp-echo.sh needs root (a network namespace)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/linux-bench}
cargo build -q --release -p vipe-bench-tools
cargo build -q --release -p vipe-examples --no-default-features --features linux --bin udp_peer
bin=$CARGO_TARGET_DIR/release
NS=vudpecho
cleanup() { ip netns del $NS 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $NS
ip -n $NS link set lo up

run() { # $1 vipe|hand, $2 size -> "datagrams/s CPU-ns-per-datagram"
  local out=/tmp/vudpecho-$1.out cpu=/tmp/vudpecho-$1.cpu secs=$((RUN_SECONDS + 2))
  local server_bin=$bin/udp_echo
  [ "$1" = vipe ] && server_bin=$bin/udp_peer
  ip netns exec $NS taskset -c 1 /usr/bin/time -f '%U %S' -o "$cpu" \
    "$server_bin" --listen 127.0.0.1:7000 --seconds $secs >"$out" 2>&1 &
  local server=$!
  sleep 0.5
  ip netns exec $NS taskset -c 0 "$bin/udp_blast" --dst 127.0.0.1:7000 --size "$2" --seconds "$RUN_SECONDS" >/dev/null
  wait $server || true
  local n
  n=$(grep -o 'answered [0-9]*' "$out" | awk '{print $2}')
  echo "$(( ${n:-0} / RUN_SECONDS )) $(awk -v n="${n:-0}" '{ if (n > 0) printf "%.0f", ($1 + $2) * 1e9 / n; else print 0 }' "$cpu")"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| IPv4 packet | VIPE UDP backend (datagrams/s) | hand-written recvmmsg/sendmmsg (datagrams/s) | VIPE / hand | CPU ns/datagram VIPE | hand | hand / VIPE |"
echo "|---|---|---|---|---|---|---|"
for size in $SIZES; do
  v=() h=() vc=() hc=()
  for _ in $(seq "$REPEAT"); do
    out=$(run vipe "$size"); v+=("${out% *}"); vc+=("${out#* }")
    out=$(run hand "$size"); h+=("${out% *}"); hc+=("${out#* }")
  done
  vm=$(median "${v[@]}") hm=$(median "${h[@]}") vcm=$(median "${vc[@]}") hcm=$(median "${hc[@]}")
  echo "| $size B | $vm | $hm | **$(awk -v a="$vm" -v b="$hm" 'BEGIN { printf "%.3f", a / b }')** | $vcm | $hcm | **$(awk -v a="$hcm" -v b="$vcm" 'BEGIN { printf "%.3f", a / b }')** |"
  echo "  runs: vipe ${v[*]} / hand ${h[*]}; CPU ns/datagram vipe ${vc[*]} / hand ${hc[*]}" >&2
done
