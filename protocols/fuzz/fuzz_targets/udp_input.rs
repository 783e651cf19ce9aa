//! Fuzzes UDP's handlers (datagrams from IPv4, ICMP errors, payloads from applications) with UDP echo applications: the input is a sequence of frames, repaired (lengths and
//! checksums) when a frame asks, with the clock moving between them; the body is
//! `vipe_fuzz_harness::udp_input`, which the corpus replay test (`cargo test -p
//! vipe-fuzz-harness`) also runs on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vipe_fuzz_harness::udp_input(data));
