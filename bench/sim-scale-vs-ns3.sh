#!/usr/bin/env bash
# The sim-scale workload (issue 10, item 5) in VIPE's simulator and in ns-3, side by side,
# same machine, one run: N nodes, each keeping K datagrams of P bytes in flight to random
# peers, delays exponential with mean 50 ms (K = 0: idle, one periodic 1 s timer per node).
#   VIPE: target/release/sim_scale (examples/src/bin/sim_scale.rs), digest off unless
#         DIGEST=1 (ns-3 hashes nothing)
#   ns-3: bench/ns3/sim_scale.cc — N ns3::Nodes with an Application each, real
#         ns3::Packets, each datagram in flight one Simulator::Schedule'd arrival (no
#         IP/UDP stack or channel: see the program's header for why)
# Events per wall second of the run (set-up excluded) and peak RSS (/usr/bin/time) of
# each process. Simulated seconds shrink as N grows so each run handles ~3-32 M events.
# Needs libns3-dev (apt-get install libns3-dev libgsl-dev) and g++.
#
#   bench/sim-scale-vs-ns3.sh                      # N = 10^3 10^4 10^5 10^6, K = 8
#   SIZES="1000 100000" K=0 bench/sim-scale-vs-ns3.sh
#   SCHEDULER=heap bench/sim-scale-vs-ns3.sh        # ns-3's scheduler: map (default), heap, calendar
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 10000 100000 1000000"}
K=${K:-8}
P=${P:-64}
SEED=${SEED:-1}
SCHEDULER=${SCHEDULER:-map}
target=${CARGO_TARGET_DIR:-target}

ns3=$(bench/ns3/build.sh sim_scale)
cargo build -q --release -p vipe-examples --bin sim_scale
vipe="$target/release/sim_scale"
digest=(--no-digest)
[ "${DIGEST:-0}" = 1 ] && digest=()

# Simulated seconds for N nodes: 20 s at 10^3 down to 0.2 s at 10^6 with K in flight;
# 10 s idle.
sim_seconds() {
  if [ "$K" = 0 ]; then echo 10; return; fi
  awk -v n="$1" 'BEGIN { s = 20000 / n; if (s > 20) s = 20; if (s < 0.2) s = 0.2; print s }'
}

field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<"$2"; }

# Runs a command under /usr/bin/time; prints its output line and its peak RSS in KiB.
measure() {
  local out rss
  out=$( { /usr/bin/time -f "peak_rss_kib=%M" "$@" 2>&1 1>&3 | grep peak_rss_kib; } 3>&1 )
  rss=$(grep -o 'peak_rss_kib=[0-9]*' <<<"$out" | cut -d= -f2)
  echo "$(grep -v peak_rss_kib <<<"$out" | grep -E '(ns3 )?nodes=' | tail -1) peak_rss_kib=$rss"
}

echo "# load: $(uptime | sed 's/.*load average/load average/')"
printf '%-10s %-4s %-7s %-12s %-12s %-12s %-12s %-10s %-10s\n' \
  nodes K sim_s vipe_events ns3_events vipe_ev/s ns3_ev/s vipe_MiB ns3_MiB
for n in $SIZES; do
  s=$(sim_seconds "$n")
  v=$(measure "$vipe" --nodes "$n" --in-flight "$K" --payload "$P" --latency exp:50ms \
        --sim-seconds "$s" --seed "$SEED" "${digest[@]}")
  m=$(measure "$ns3" "$n" "$K" "$P" "$s" "$SEED" "$SCHEDULER")
  printf '%-10s %-4s %-7s %-12s %-12s %-12.0f %-12.0f %-10.0f %-10.0f\n' \
    "$n" "$K" "$s" "$(field events "$v")" "$(field events "$m")" \
    "$(field events_per_s "$v")" "$(field events_per_s "$m")" \
    "$(awk -v k="$(field peak_rss_kib "$v")" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$(field peak_rss_kib "$m")" 'BEGIN { print k / 1024 }')"
done
