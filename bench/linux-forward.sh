#!/usr/bin/env bash
# The platform-overhead benchmark of the Linux platform (issue #4): packets/s forwarded
# between two network namespaces by
#   vipe    the VIPE IPv4 router (`router`, built for Linux) on two TAP devices,
#   hand    a minimal hand-written forwarder on the same two TAP devices, batching the
#           same way (bench/tools/src/bin/tap_forward.rs), and
#   kernel  the kernel itself, forwarding in a third namespace joined by veth pairs
#           (a reference line: same endpoints, no TAP, no user space),
# for IPv4 packets of 64, 512 and 1500 bytes sent by `udp-blast` in namespace A to a
# socket in namespace B that never reads (B's kernel drops them after counting).
# The forwarder runs on CPU 1, the load generator on CPU 0. The rate is what reached
# B's interface (rx_packets) over the load's duration; median of REPEAT runs. Beside it,
# the forwarder's CPU time (user + system, from /proc/PID/stat) per forwarded packet over
# the load, which moves far less than the rate with what else the machine runs.
#
# Needs root (namespaces, TAP). Usage: bench/linux-forward.sh
# Environment: SIZES ("64 512 1500"), RUN_SECONDS (5), REPEAT (3).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"64 512 1500"}
RUN_SECONDS=${RUN_SECONDS:-5}
REPEAT=${REPEAT:-3}
if [ "$(id -u)" != 0 ]; then
  echo "linux-forward.sh needs root (network namespaces and TAP devices)" >&2
  exit 1
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/linux-bench}
cargo build -q --release -p vipe-bench-tools
cargo build -q --release -p vipe-examples --no-default-features --features linux --bin router
bin=$CARGO_TARGET_DIR/release

A=vfwdA B=vfwdB R=vfwdR
MAC_A=02:00:00:00:aa:01 MAC_B=02:00:00:00:bb:01  # the kernels' interfaces
GW_A=02:00:00:00:ee:00 GW_B=02:00:00:00:ee:01    # the forwarder's (VIPE router's MACs)

cleanup() {
  for ns in $A $B $R; do ip netns del $ns 2>/dev/null || true; done
  pkill -f "$bin/router --tap vfa0" 2>/dev/null || true
  pkill -f "$bin/tap_forward" 2>/dev/null || true
}
trap cleanup EXIT

fresh_namespaces() {
  cleanup
  for ns in "$@"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
}

# $1 ns, $2 interface, $3 MAC, $4 address/24, $5 gateway, $6 gateway MAC (or "")
endpoint() {
  ip link set "$2" netns "$1" 2>/dev/null || true
  ip -n "$1" link set "$2" address "$3"
  ip -n "$1" addr add "$4" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" route add default via "$5"
  [ -z "$6" ] || ip -n "$1" neigh replace "$5" lladdr "$6" dev "$2" nud permanent
}

counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

TICK_NS=$((1000000000 / $(getconf CLK_TCK)))
# User and system clock ticks of process $1, as "user sys".
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

# Runs the load once; prints packets/s that reached B's interface $1.
measure() {
  ip netns exec $B python3 -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,4096); s.bind(("10.78.2.1",9)); time.sleep(600)' &
  local sink=$!
  sleep 0.2
  # Warm up: resolves the forwarder's neighbours (VIPE ARPs for B) and checks the path.
  ip netns exec $A ping -c 2 -i 0.2 -W 1 -q 10.78.2.1 >/dev/null
  local before after
  before=$(counter $B "$1" rx_packets)
  ip netns exec $A taskset -c 0 "$bin/udp_blast" --dst 10.78.2.1:9 --size "$size" --seconds "$RUN_SECONDS" >/dev/null
  sleep 0.1
  after=$(counter $B "$1" rx_packets)
  kill $sink 2>/dev/null || true
  echo $(( (after - before) / RUN_SECONDS ))
}

# $1: vipe | hand
run_tap() {
  fresh_namespaces $A $B
  local seconds=$((RUN_SECONDS + 30))
  if [ "$1" = vipe ]; then
    taskset -c 1 "$bin/router" --tap vfa0 --tap vfb0 --seconds $seconds >/tmp/vfwd-router.out 2>&1 &
  else
    taskset -c 1 "$bin/tap_forward" --tap vfa0 vfb0 --peer-mac $MAC_A $MAC_B --seconds $seconds >/tmp/vfwd-router.out 2>&1 &
  fi
  local fwd=$!
  for _ in $(seq 50); do ip link show vfb0 >/dev/null 2>&1 && break; sleep 0.1; done
  endpoint $A vfa0 $MAC_A 10.78.1.1/24 10.78.1.2 $GW_A
  endpoint $B vfb0 $MAC_B 10.78.2.1/24 10.78.2.2 $GW_B
  local t0 t1 rate
  t0=$(cpu_ticks $fwd)
  rate=$(measure vfb0)
  t1=$(cpu_ticks $fwd)
  kill -TERM $fwd 2>/dev/null || true
  wait $fwd 2>/dev/null || true
  # The user/system split goes to stderr: the two forwarders' system time per packet is
  # about the same, so the difference between them is user space.
  awk -v a="$t0" -v b="$t1" -v ns=$TICK_NS -v n=$((rate * RUN_SECONDS)) -v who="$1" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    if (n > 0) printf "    %s: user %.0f + system %.0f CPU ns/packet\n", who, (y[1] - x[1]) * ns / n, (y[2] - x[2]) * ns / n
  }' >&2
  # packets/s, then CPU ns per forwarded packet
  echo "$rate $(awk -v a="$t0" -v b="$t1" -v ns=$TICK_NS -v n=$((rate * RUN_SECONDS)) 'BEGIN { split(a, x, " "); split(b, y, " "); if (n > 0) printf "%.0f", (y[1] + y[2] - x[1] - x[2]) * ns / n; else print 0 }')"
}

run_kernel() {
  fresh_namespaces $A $B $R
  ip link add vka0 netns $A type veth peer name vkr0 netns $R
  ip link add vkb0 netns $B type veth peer name vkr1 netns $R
  ip -n $R addr add 10.78.1.2/24 dev vkr0
  ip -n $R addr add 10.78.2.2/24 dev vkr1
  ip -n $R link set vkr0 up
  ip -n $R link set vkr1 up
  ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
  endpoint $A vka0 $MAC_A 10.78.1.1/24 10.78.1.2 ""
  endpoint $B vkb0 $MAC_B 10.78.2.1/24 10.78.2.2 ""
  measure vkb0
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| IPv4 packet | VIPE router (pkt/s) | hand-written (pkt/s) | VIPE / hand | kernel veth (pkt/s) | CPU ns/packet VIPE | hand | hand / VIPE |"
echo "|---|---|---|---|---|---|---|---|"
for size in $SIZES; do
  v=() h=() k=() vc=() hc=()
  for _ in $(seq "$REPEAT"); do
    out=$(run_tap vipe); v+=("${out% *}"); vc+=("${out#* }")
    out=$(run_tap hand); h+=("${out% *}"); hc+=("${out#* }")
    k+=("$(run_kernel)")
  done
  vm=$(median "${v[@]}") hm=$(median "${h[@]}") km=$(median "${k[@]}")
  vcm=$(median "${vc[@]}") hcm=$(median "${hc[@]}")
  ratio=$(awk -v a="$vm" -v b="$hm" 'BEGIN { printf "%.3f", a / b }')
  cratio=$(awk -v a="$hcm" -v b="$vcm" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
  echo "| $size B | $vm | $hm | **$ratio** | $km | $vcm | $hcm | **$cratio** |"
  echo "  runs: vipe ${v[*]} / hand ${h[*]} / kernel ${k[*]}; CPU ns/packet vipe ${vc[*]} / hand ${hc[*]}" >&2
done
