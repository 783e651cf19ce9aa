#!/usr/bin/env bash
# VIPE's simulator beside ns-3's scheduler, same workloads, same machine, one run.
# Needs libns3-dev (apt-get install libns3-dev libgsl-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000000}
ns3=$(bench/ns3/build.sh)
cargo build -q --release -p vipe-platforms --bench sim_events
vipe=$(ls -t target/release/deps/sim_events-* | grep -v '\.d$' | head -1)
for w in "chain 1" "chain 1000" "pingpong 1"; do
  "$ns3" $w "$N" map
  "$vipe" $w "$N"
done
