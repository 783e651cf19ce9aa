//! Fuzzes IPv4's input handler in router mode: a sequence of packets (each prefixed by a
//! 2-byte length; the top bit picks the interface) then time runs on so reassembly
//! timeouts fire. Nothing may panic (a handler panic is a reported fault, which fails
//! the target too).
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use vipe_protocols::icmp::{Icmp, IcmpPort};
use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port, Route};
use vipe_rt::prelude::*;

fuzz_target!(|data: &[u8]| {
    let mut node = Node::new(NodeId(0));
    let config = Ipv4Config::router(
        vec![
            Interface { addr: Ipv4Addr::new(10, 0, 0, 1), prefix_len: 24, mtu: 576 },
            Interface { addr: Ipv4Addr::new(10, 0, 1, 1), prefix_len: 24, mtu: 1500 },
        ],
        vec![Route { prefix: Ipv4Addr::UNSPECIFIED, prefix_len: 0, next_hop: Some(Ipv4Addr::new(10, 0, 1, 254)), iface: 1 }],
    );
    let ip = node.add(Ipv4::new(config));
    let icmp = node.add(Icmp::new());
    node.connect(ip.port(Ipv4Port::Upper(1)), icmp.port(IcmpPort::Ip)).unwrap();
    let devs = [node.add_device("if0", DeviceKind::Frame), node.add_device("if1", DeviceKind::Frame)];
    node.attach(devs[0], ip.port(Ipv4Port::Lower(0))).unwrap();
    node.attach(devs[1], ip.port(Ipv4Port::Lower(1))).unwrap();
    node.start(Instant::ZERO);
    let mut rest = data;
    let mut t = 0;
    while rest.len() >= 2 {
        let head = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(head & 0x7fff).min(rest.len() - 2);
        let dev = devs[usize::from(head >> 15)];
        t += 1;
        node.handle_input(Instant::from_millis(t), dev, Packet::from_slice(&rest[2..2 + len]));
        while node.poll_transmit().is_some() {}
        rest = &rest[2 + len..];
    }
    node.handle_timeout(Instant::from_secs(120));
    while node.poll_transmit().is_some() {}
    assert!(node.faults().is_empty(), "{:?}", node.faults());
});
