#!/usr/bin/env bash
# TCP throughput (iperf3) between two kernels in network namespaces A (10.78.1.1) and
# B (10.78.2.1), through
#   vipe      the VIPE IPv4 router (`router`, built for Linux) on two plain TAP devices,
#   vipe-gso  the same router with TAP offloads (`--offload`: virtio-net header, checksum,
#             TSO/USO; 64 KB segments forwarded whole),
#   kernel    the kernel forwarding in a third namespace joined by veth pairs,
# both directions (A→B, and B→A with iperf3 -R) and with 1 and 4 streams. The router runs
# on CPU 1, both iperf3 ends on CPU 0 (the kernel's forwarding runs in softirq wherever
# the packets are handled). Modes are interleaved run by run; the median of REPEAT runs
# is printed, in Gbit/s, with the ratio to the kernel.
#
# Needs root and iperf3 (apt-get install iperf3; installed here if missing).
# Environment: SECONDS_PER_RUN (5), REPEAT (3), STREAMS ("1 4"), MODES ("vipe vipe-gso kernel").
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
RUN=${SECONDS_PER_RUN:-5}
REPEAT=${REPEAT:-3}
STREAMS=${STREAMS:-"1 4"}
MODES=${MODES:-"vipe vipe-gso kernel"}
if [ "$(id -u)" != 0 ]; then
  echo "linux-iperf.sh needs root (network namespaces and TAP devices)" >&2
  exit 1
fi
command -v iperf3 >/dev/null || apt-get install -y -qq iperf3 >/dev/null
command -v iperf3 >/dev/null || { echo "needs iperf3: apt-get install iperf3" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/linux-bench}
cargo build -q --release -p vipe-examples --no-default-features --features linux --bin router
bin=$CARGO_TARGET_DIR/release

A=vipfA B=vipfB R=vipfR
MAC_A=02:00:00:00:aa:01 MAC_B=02:00:00:00:bb:01
router_pid=

cleanup() {
  [ -z "$router_pid" ] || { kill -TERM "$router_pid" 2>/dev/null || true; wait "$router_pid" 2>/dev/null || true; }
  router_pid=
  for ns in $A $B $R; do ip netns del $ns 2>/dev/null || true; done
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

# $1 ns, $2 interface, $3 MAC, $4 address/24, $5 gateway
endpoint() {
  ip link set "$2" netns "$1" 2>/dev/null || true
  ip -n "$1" link set "$2" address "$3"
  ip -n "$1" addr add "$4" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" route add default via "$5"
}

setup() { # $1 mode
  case $1 in
    vipe | vipe-gso)
      fresh_namespaces $A $B
      local flag=
      [ "$1" = vipe-gso ] && flag=--offload
      taskset -c 1 "$bin/router" --tap vipa0 --tap vipb0 --seconds 100000 $flag >/tmp/vipe-iperf-router.out 2>&1 &
      router_pid=$!
      for _ in $(seq 50); do ip link show vipb0 >/dev/null 2>&1 && break; sleep 0.1; done
      endpoint $A vipa0 $MAC_A 10.78.1.1/24 10.78.1.2
      endpoint $B vipb0 $MAC_B 10.78.2.1/24 10.78.2.2
      ;;
    kernel)
      fresh_namespaces $A $B $R
      ip link add vipa0 netns $A type veth peer name vkr0 netns $R
      ip link add vipb0 netns $B type veth peer name vkr1 netns $R
      ip -n $R addr add 10.78.1.2/24 dev vkr0
      ip -n $R addr add 10.78.2.2/24 dev vkr1
      ip -n $R link set vkr0 up
      ip -n $R link set vkr1 up
      ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
      endpoint $A vipa0 $MAC_A 10.78.1.1/24 10.78.1.2
      endpoint $B vipb0 $MAC_B 10.78.2.1/24 10.78.2.2
      ;;
  esac
  ip netns exec $A ping -c 2 -i 0.2 -W 1 -q 10.78.2.1 >/dev/null
}

# $1 streams, $2 "" or -R; prints Gbit/s received
measure() {
  ip netns exec $B taskset -c 0 iperf3 -s -B 10.78.2.1 -1 >/dev/null 2>&1 &
  local server=$!
  sleep 0.3
  local json
  json=$(ip netns exec $A taskset -c 0 iperf3 -c 10.78.2.1 -t "$RUN" -P "$1" $2 -J 2>/dev/null || true)
  wait $server 2>/dev/null || true
  python3 -c 'import json,sys
try:
    print("%.2f" % (json.loads(sys.stdin.read())["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception:
    print("0")' <<<"$json"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A results
for rep in $(seq "$REPEAT"); do
  for mode in $MODES; do
    setup "$mode"
    for streams in $STREAMS; do
      for dir in fwd rev; do
        flag=
        [ $dir = rev ] && flag=-R
        g=$(measure "$streams" "$flag")
        results[$mode,$streams,$dir]="${results[$mode,$streams,$dir]:-} $g"
        echo "  run $rep: $mode P=$streams $dir: $g Gbit/s" >&2
      done
    done
    cleanup
  done
done

header="| direction | streams |"
sep="|---|---|"
for mode in $MODES; do header="$header $mode (Gbit/s) |"; sep="$sep---|"; done
for mode in $MODES; do [ "$mode" = kernel ] || { header="$header $mode / kernel |"; sep="$sep---|"; }; done
echo "$header"
echo "$sep"
for dir in fwd rev; do
  for streams in $STREAMS; do
    line="| $([ $dir = fwd ] && echo 'A → B' || echo 'B → A (-R)') | $streams |"
    declare -A med=()
    for mode in $MODES; do
      # shellcheck disable=SC2086
      med[$mode]=$(median ${results[$mode,$streams,$dir]})
      line="$line ${med[$mode]} |"
    done
    for mode in $MODES; do
      [ "$mode" = kernel ] && continue
      if [ -n "${med[kernel]:-}" ]; then
        line="$line $(awk -v a="${med[$mode]}" -v b="${med[kernel]}" 'BEGIN { printf (b > 0 ? "**%.2f**" : "-"), a / (b > 0 ? b : 1) }') |"
      else
        line="$line - |"
      fi
    done
    echo "$line"
    unset med
  done
done
