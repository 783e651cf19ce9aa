//! Fuzzes IPv4 in router mode with ICMP above it (routing, forwarding, fragmentation,
//! reassembly and its timeout, ICMP errors): the input is a sequence of datagrams,
//! repaired (lengths and checksums) when a frame asks, with the clock moving between
//! them; the body is `vipe_fuzz_harness::ipv4_input`, which the corpus replay test
//! (`cargo test -p vipe-fuzz-harness`) also runs on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vipe_fuzz_harness::ipv4_input(data));
