#!/usr/bin/env bash
# Builds the ns-3 reference benchmark into ${OUT_DIR:-/tmp/vipe-bench}/ns3_event_chain
# and prints the binary's path on stdout (bench/sim-vs-ns3.sh relies on that).
# Needs the Debian package libns3-dev (and libgsl-dev, which its .pc files name).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT_DIR:-/tmp/vipe-bench}
CXX=${CXX:-g++}

# Debian puts the headers in /usr/include/ns3/*.h; upstream installs use ns3.37/ns3/*.h.
inc=
for d in /usr/include /usr/include/ns3.37 /usr/local/include /usr/local/include/ns3.37; do
  if [ -e "$d/ns3/simulator.h" ]; then inc=$d; break; fi
done
if [ -z "$inc" ]; then
  echo "build.sh: ns-3 headers (ns3/simulator.h) not found; install the Debian package libns3-dev (apt-get install libns3-dev libgsl-dev)" >&2
  exit 1
fi

# Prefer pkg-config; Debian's ns3-core.pc emits a bogus "-I/usr\;", so drop tokens with ';'.
if flags=$(pkg-config --cflags --libs ns3-core 2>/dev/null); then
  flags=$(printf '%s\n' $flags | grep -v ';' | tr '\n' ' ')
else
  lib=$(ls /usr/lib/x86_64-linux-gnu/libns3*core.so /usr/lib/libns3*core.so /usr/local/lib/libns3*core.so 2>/dev/null | head -1 || true)
  if [ -z "$lib" ]; then
    echo "build.sh: libns3-core not found; install the Debian package libns3-dev" >&2
    exit 1
  fi
  name=$(basename "$lib" .so)
  flags="-L$(dirname "$lib") -l${name#lib}"
  [ "$inc" = /usr/include ] || flags="-I$inc $flags"
fi

mkdir -p "$out"
# Libraries after the source, so --as-needed linkers keep libns3-core.
# shellcheck disable=SC2086
"$CXX" -O2 -std=c++17 "$here/event_chain.cc" -o "$out/ns3_event_chain" $flags
chmod +x "$out/ns3_event_chain"
echo "$out/ns3_event_chain"
