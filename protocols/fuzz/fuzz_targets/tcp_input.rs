//! Fuzzes TCP's input path through a node: IPv4 → TCP with an HTTP server listening on
//! port 80. The input is a sequence of TCP segments (each prefixed by a 2-byte length;
//! when the top bit is set the harness fixes the TCP checksum, so the state machine is
//! reached, not only the checksum check), delivered as IPv4 datagrams from 10.0.0.2 to
//! 10.0.0.1 one millisecond apart; then time runs on so every timer fires. Nothing may
//! panic, and the node must end with no connection left after TIME-WAIT and timeouts.
#![no_main]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use vipe_protocols::apps::{HttpServer, HttpServerPort, MemoryFiles};
use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port};
use vipe_protocols::tcp::{Tcp, TcpPort, TcpProtocolConfig};
use vipe_protocols::wire::Ipv4Header;
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options, checksum};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let mut node = Node::new(NodeId(0));
    let iface = Interface { addr: ME, prefix_len: 24, mtu: 1500 };
    let ip = node.add(Ipv4::new(Ipv4Config::host(iface, None)));
    let tcp = node.add(Tcp::new(ME, TcpProtocolConfig::default()));
    let mut files = BTreeMap::new();
    files.insert("f".to_string(), vec![7u8; 5000]);
    let http = node.add(HttpServer::new(80, Box::new(MemoryFiles(files))));
    node.connect(ip.port(Ipv4Port::Upper(6)), tcp.port(TcpPort::Ip)).unwrap();
    node.connect(tcp.port(TcpPort::App(1)), http.port(HttpServerPort::Tcp)).unwrap();
    let dev = node.add_device("if0", DeviceKind::Frame);
    node.attach(dev, ip.port(Ipv4Port::Lower(0))).unwrap();
    node.start(Instant::ZERO);
    let mut rest = data;
    let mut t = 0;
    while rest.len() >= 2 {
        let head = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(head & 0x7fff).min(rest.len() - 2).min(1400);
        let mut seg = rest[2..2 + len].to_vec();
        rest = &rest[2 + len..];
        if head & 0x8000 != 0 && seg.len() >= 20 {
            seg[16] = 0;
            seg[17] = 0;
            let pseudo = checksum::pseudo_header_v4(PEER.octets(), ME.octets(), 6, seg.len() as u16);
            let sum = !checksum::fold(checksum::add(pseudo, &seg));
            seg[16..18].copy_from_slice(&sum.to_be_bytes());
        }
        let h = Ipv4Header {
            version: 4, ihl: 0, tos: 0, total_len: 0, ident: 1, flags: 0, frag_offset: 0,
            ttl: 64, protocol: 6, checksum: 0, src: PEER.octets(), dst: ME.octets(),
            options: Options::EMPTY,
        };
        let mut buf = vec![0u8; h.header_len() + seg.len()];
        buf[h.header_len()..].copy_from_slice(&seg);
        h.emit(&mut buf).unwrap();
        t += 1;
        node.handle_input(Instant::from_millis(t), dev, Packet::from_slice(&buf));
        while node.poll_transmit().is_some() {}
    }
    // Let every timer run out: retransmissions give up, TIME-WAIT ends.
    for step in 1..=40 {
        node.handle_timeout(Instant::from_secs(60 * step));
        while node.poll_transmit().is_some() {}
    }
    assert!(node.faults().is_empty(), "{:?}", node.faults());
    assert_eq!(node.protocol(tcp).unwrap().connections(), 0);
});
