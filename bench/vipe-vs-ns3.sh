#!/usr/bin/env bash
# One experiment, three ways, same machine, one run: N UDP echoes between two hosts
# (64-byte payloads, one every 100 us, 100 Mb/s link with 6560 ns delay):
#   1. VIPE stacks in VIPE's simulator          (examples/src/bin/echo_bench.rs --platform sim)
#   2. VIPE stacks inside ns-3, on ns-3's CSMA   (examples/src/bin/echo_bench.rs --platform ns3)
#   3. ns-3's own stack and echo applications   (bench/ns3/udp_echo.cc), on the same CSMA,
#      as any ns-3 script sets it up (default FqCoDel queue disc), and without queue disc
# Each is run RUNS times; the fastest run counts. Needs libns3-dev (apt-get install
# libns3-dev libgsl-dev) and g++.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
SIZE=${SIZE:-64}
INTERVAL_US=${INTERVAL_US:-100}
RUNS=${RUNS:-3}
target=${CARGO_TARGET_DIR:-target}

native=$(bench/ns3/build.sh udp_echo)
cargo build -q --release -p vipe-examples --no-default-features --features ns3 --bin echo_bench
vipe="$target/release/echo_bench"

# Runs a command RUNS times; prints the output line of the fastest run.
best() {
  local best_line="" best_secs=""
  for _ in $(seq "$RUNS"); do
    line=$("$@" || true) # a run that lost echoes still reports its figures
    secs=$(sed -E 's/.* seconds=([0-9.]+).*/\1/' <<<"$line")
    if [ -z "$best_secs" ] || awk -v a="$secs" -v b="$best_secs" 'BEGIN { exit !(a < b) }'; then
      best_secs=$secs best_line=$line
    fi
  done
  echo "$best_line"
}

field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<"$2"; }

sim=$(best "$vipe" --platform sim --count "$N" --size "$SIZE" --interval-us "$INTERVAL_US")
ns3=$(best "$vipe" --platform ns3 --count "$N" --size "$SIZE" --interval-us "$INTERVAL_US")
nat=$(best "$native" "$N" "$SIZE" "$INTERVAL_US")
raw=$(best "$native" "$N" "$SIZE" "$INTERVAL_US" noqdisc)
echo "$sim"
echo "$ns3"
echo "$nat"
echo "$raw"
echo
echo "| run | echoes | events | wall time | events/s |"
echo "|---|---|---|---|---|"
for line in "$sim" "$ns3" "$nat" "$raw"; do
  printf '| %s | %s | %s | %s s | %s |\n' "${line%% *}" "$(field echoes "$line")" \
    "$(field events "$line")" "$(field seconds "$line")" "$(field events_per_sec "$line")"
done
awk -v a="$(field seconds "$ns3")" -v b="$(field seconds "$nat")" -v c="$(field seconds "$raw")" \
  'BEGIN { printf "\nVIPE on ns-3 / native ns-3 (wall time): %.2fx, %.2fx without queue disc (goal <= 1.05x)\n", a / b, a / c }'
