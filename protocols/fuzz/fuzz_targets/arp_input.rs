//! Fuzzes ARP's input handlers: a sequence of packets (2-byte length prefix; the top bit
//! picks the ARP side or the IPv4 side, where the next 4 bytes are the next hop), with
//! time advancing so retries and expiry run. Nothing may panic.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use vipe_protocols::arp::{Arp, ArpConfig, ArpPort};
use vipe_rt::prelude::*;

fuzz_target!(|data: &[u8]| {
    let mut node = Node::new(NodeId(0));
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 1], vec![Ipv4Addr::new(10, 0, 0, 1)]);
    config.queue_limit = 4;
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let ip = node.add_device("ip", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.attach(ip, arp.port(ArpPort::Ip)).unwrap();
    node.start(Instant::ZERO);
    let mut rest = data;
    let mut t = Instant::ZERO;
    while rest.len() >= 2 {
        let head = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(head & 0x7fff).min(rest.len() - 2);
        let body = &rest[2..2 + len];
        t += Duration::from_millis(700);
        node.handle_timeout(t);
        if head >> 15 == 0 {
            node.handle_input(t, wire, Packet::from_slice(body));
        } else if body.len() >= 4 {
            let mut pkt = Packet::from_slice(&body[4..]);
            pkt.meta_mut().next_hop = Some(IpAddr::V4(Ipv4Addr::new(body[0], body[1], body[2], body[3])));
            node.handle_input(t, ip, pkt);
        }
        while node.poll_transmit().is_some() {}
        rest = &rest[2 + len..];
    }
    node.handle_timeout(t + Duration::from_secs(600));
    assert!(node.faults().is_empty(), "{:?}", node.faults());
});
