//! Regression tests for the crashes the fuzz targets found (`docs/FUZZING.md`); each
//! crashing input is also kept in its target's corpus, which the corpus replay test
//! (`cargo test -p vipe-fuzz-harness`) runs.

use std::net::Ipv4Addr;

use vipe_protocols::udp::{Udp, UdpPort};
use vipe_rt::prelude::*;
use vipe_rt::testing::Harness;

/// `udp_input`: an ICMP message shorter than the ICMP header on UDP's `icmp` port
/// panicked (slicing past its end); it is now dropped with a counted reason.
#[test]
fn a_short_icmp_message_on_udps_icmp_port_is_dropped_not_a_panic() {
    let mut h = Harness::new(Udp::new(Ipv4Addr::new(10, 0, 0, 2)));
    for len in 0..8 {
        h.deliver(UdpPort::Icmp, Packet::from_slice(&[3; 8][..len]));
    }
    assert_eq!(h.stats().drops_for("ICMP error quotes too little"), 8);
}
