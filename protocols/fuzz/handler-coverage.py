#!/usr/bin/env python3
"""Line coverage of the protocol handlers reached by a fuzz target's corpus.

Runs after `cargo +nightly fuzz coverage TARGET CORPUS` (which leaves
coverage/TARGET/coverage.profdata): asks llvm-cov for per-function line coverage of the
protocol sources and prints one Markdown row per function of vipe-protocols that the
harness can reach (its file is one the target exercises), demangled.

usage: handler-coverage.py TARGET BINARY PROFDATA [FILE ...]
(FILEs relative to protocols/src; by default every protocol file the target drives)
"""
import os
import re
import subprocess
import sys

FILES = {
    "ethernet_input": ["ethernet.rs"],
    "arp_input": ["arp.rs"],
    "ipv4_input": ["ipv4.rs", "icmp.rs"],
    "udp_input": ["udp.rs", "apps/udp_echo.rs"],
    "host_stack": ["ethernet.rs", "arp.rs", "ipv4.rs", "icmp.rs", "udp.rs"],
    "router_stack": ["ethernet.rs", "arp.rs", "ipv4.rs", "icmp.rs"],
}


def llvm_cov():
    sysroot = subprocess.check_output(["rustc", "+nightly", "--print", "sysroot"], text=True).strip()
    host = re.search(r"host: (\S+)", subprocess.check_output(["rustc", "+nightly", "-vV"], text=True)).group(1)
    return os.path.join(sysroot, "lib", "rustlib", host, "bin", "llvm-cov")


def tail_ident(s):
    """The identifier a v0-mangled symbol ends with (`...<len><ident>`), and the rest."""
    for k in range(1, len(s)):
        ident, before = s[-k:], s[:-k]
        # The length's digits may follow an identifier ending in digits (`4Ipv410...`).
        if before.endswith(str(k)) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident):
            return ident, before[: -len(str(k))]
    return None, s


def demangle(name):
    """`Type::function` of a Rust symbol (v0: _R..., legacy: _ZN...E); None for closures."""
    if name.startswith("_RNC"):
        return None
    if name.startswith("_R"):
        fn, rest = tail_ident(name)
        ty, _ = tail_ident(rest)
        return f"{ty}::{fn}" if ty else fn
    m = re.match(r"_ZN(.*)E$", name)
    if not m:
        return name
    rest, parts = m.group(1), []
    while rest and rest[0].isdigit():
        n = int(re.match(r"\d+", rest).group(0))
        rest = rest[len(str(n)):]
        parts.append(rest[:n])
        rest = rest[n:]
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    s = "::".join(parts)
    for a, b in [("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$C$", ","), ("..", "::"), ("$RF$", "&")]:
        s = s.replace(a, b)
    return s


def main():
    target, binary, profdata = sys.argv[1:4]
    files = sys.argv[4:] or FILES[target]
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src"))
    out = subprocess.check_output(
        [llvm_cov(), "report", "--show-functions", binary, f"-instr-profile={profdata}"]
        + [os.path.join(root, f) for f in files],
        text=True,
    )
    print(f"| file | function | lines | covered |")
    print(f"|---|---|---|---|")
    current = None
    held = None  # a name too long for its column: its numbers are on the next line
    for line in out.splitlines():
        if line.startswith("File '"):
            current = os.path.relpath(line.split("'")[1], root)
            continue
        cols = line.split()
        if len(cols) == 1 and cols[0].startswith("_"):
            held = cols[0]
            continue
        if held and cols and not cols[0].startswith("_"):
            cols = [held] + cols
        held = None
        # Name Regions Miss Cover Lines Miss Cover Branches Miss Cover
        if current and len(cols) >= 7 and cols[0].startswith("_"):
            short = demangle(cols[0])
            lines, missed, cover = cols[4], cols[5], cols[6]
            if short is None or "{closure" in short:
                continue
            short = "::".join(short.split("::")[-2:])
            print(f"| {current} | `{short}` | {lines} | {cover} |")


main()
