//! Fuzzes ARP's handlers with small queue and cache bounds (ARP packets from the link,
//! IPv4 packets to resolve): the input is a sequence of frames, repaired when a frame
//! asks, with the clock moving between them so retries and expiry run; the body is
//! `vipe_fuzz_harness::arp_input`, which the corpus replay test (`cargo test -p
//! vipe-fuzz-harness`) also runs on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vipe_fuzz_harness::arp_input(data));
