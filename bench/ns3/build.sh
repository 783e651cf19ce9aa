#!/usr/bin/env bash
# Builds the ns-3 reference benchmark into ${OUT_DIR:-/tmp/vipe-bench}/ns3_event_chain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT_DIR:-/tmp/vipe-bench}
mkdir -p "$out"
if [ ! -e /usr/include/ns3/core-module.h ] && [ ! -e /usr/include/ns3.37/ns3/core-module.h ]; then
  echo "ns-3 headers not found: install the Debian package libns3-dev (apt-get install libns3-dev)" >&2
  exit 1
fi
flags=$(pkg-config --cflags --libs ns3-core 2>/dev/null || echo "-I/usr/include -lns3-core")
g++ -O2 -std=c++17 "$here/event_chain.cc" -o "$out/ns3_event_chain" $flags
echo "$out/ns3_event_chain"
