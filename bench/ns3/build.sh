#!/usr/bin/env bash
# Builds an ns-3 reference benchmark into ${OUT_DIR:-/tmp/vipe-bench}/ns3_<program> and
# prints the binary's path on stdout (bench/sim-vs-ns3.sh and bench/vipe-vs-ns3.sh rely
# on that). Programs: event_chain (the default; scheduler only), udp_echo (CSMA,
# Internet stack, echo applications) and sim_scale (bench/sim-scale-vs-ns3.sh: nodes,
# applications and packets, datagrams as scheduled events).
# Needs the Debian package libns3-dev (and libgsl-dev, which its .pc files name).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT_DIR:-/tmp/vipe-bench}
CXX=${CXX:-g++}
prog=${1:-event_chain}
case "$prog" in
  event_chain) modules="core" ;;
  udp_echo) modules="core network csma internet applications traffic-control" ;;
  sim_scale) modules="core network" ;;
  *) echo "build.sh: unknown program '$prog' (event_chain, udp_echo or sim_scale)" >&2; exit 2 ;;
esac

# Debian puts the headers in /usr/include/ns3/*.h; upstream installs use ns3.37/ns3/*.h.
inc=
for d in /usr/include /usr/include/ns3.37 /usr/local/include /usr/local/include/ns3.37; do
  if [ -e "$d/ns3/simulator.h" ]; then inc=$d; break; fi
done
if [ -z "$inc" ]; then
  echo "build.sh: ns-3 headers (ns3/simulator.h) not found; install the Debian package libns3-dev (apt-get install libns3-dev libgsl-dev)" >&2
  exit 1
fi

# Prefer pkg-config; Debian's .pc files emit a bogus "-I/usr\;", so drop tokens with ';'.
pcs=$(printf 'ns3-%s ' $modules)
# shellcheck disable=SC2086
if flags=$(pkg-config --cflags --libs $pcs 2>/dev/null); then
  flags=$(printf '%s\n' $flags | grep -v ';' | tr '\n' ' ')
else
  lib=$(ls /usr/lib/x86_64-linux-gnu/libns3*core.so /usr/lib/libns3*core.so /usr/local/lib/libns3*core.so 2>/dev/null | head -1 || true)
  if [ -z "$lib" ]; then
    echo "build.sh: libns3-core not found; install the Debian package libns3-dev" >&2
    exit 1
  fi
  name=$(basename "$lib" .so)
  flags="-L$(dirname "$lib")"
  for m in $modules; do flags="$flags -l${name#lib}"; flags=${flags%core}$m; done
  [ "$inc" = /usr/include ] || flags="-I$inc $flags"
fi

mkdir -p "$out"
# Libraries after the source, so --as-needed linkers keep them.
# shellcheck disable=SC2086
"$CXX" -O2 -std=c++17 "$here/$prog.cc" -o "$out/ns3_$prog" $flags
chmod +x "$out/ns3_$prog"
echo "$out/ns3_$prog"
