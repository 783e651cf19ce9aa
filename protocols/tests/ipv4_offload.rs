//! IPv4 and offloaded (TSO) datagrams in a router node: forwarded whole when the segments
//! they stand for fit the egress MTU, cut into ordinary segments (then fragmented, or
//! refused with DF) when they do not.

use std::net::Ipv4Addr;

use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::wire::{ArpPacket, EthernetHeader, Ipv4Header, TcpHeader};
use vipe_rt::gso::{GsoKind, Offload};
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options, checksum};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// A router (10.0.1.1 on d0, 10.0.2.1 on d1 with `mtu`) that knows A's and B's MACs.
fn router(mtu: usize) -> (Node, DeviceId, DeviceId) {
    let mut node = Node::new(NodeId(0));
    let d0 = node.add_device("eth0", DeviceKind::Frame);
    let d1 = node.add_device("eth1", DeviceKind::Frame);
    let iface = |addr, mtu| Interface {
        addr,
        prefix_len: 24,
        mtu,
    };
    stack::router(
        &mut node,
        &[
            (d0, mac(1), iface(Ipv4Addr::new(10, 0, 1, 1), 1500)),
            (d1, mac(2), iface(Ipv4Addr::new(10, 0, 2, 1), mtu)),
        ],
        vec![],
    )
    .unwrap();
    node.start(Instant::ZERO);
    // A and B announce themselves, so the router knows both MACs.
    for (dev, host, host_mac, router_mac, router_ip) in [
        (d0, A, mac(0xa), mac(1), [10, 0, 1, 1]),
        (d1, B, mac(0xb), mac(2), [10, 0, 2, 1]),
    ] {
        let mut arp = vec![0u8; 14 + 28];
        ArpPacket {
            htype: 1,
            ptype: 0x0800,
            hlen: 6,
            plen: 4,
            oper: 2,
            sha: host_mac,
            spa: host.octets(),
            tha: router_mac,
            tpa: router_ip,
        }
        .emit(&mut arp[14..])
        .unwrap();
        EthernetHeader {
            dst: router_mac,
            src: host_mac,
            ethertype: 0x0806,
        }
        .emit(&mut arp)
        .unwrap();
        node.handle_input(Instant::ZERO, dev, Packet::from_slice(&arp));
    }
    while node.poll_transmit().is_some() {}
    (node, d0, d1)
}

/// A TSO frame from A to B as a Linux TAP hands it over: 3000 payload bytes, MSS 1448,
/// partial TCP checksum.
fn tso_frame(node: &Node, df: bool) -> Packet {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    let mut buf = vec![0u8; 14 + 20 + 32];
    buf.extend_from_slice(&payload);
    TcpHeader {
        src_port: 40_000,
        dst_port: 80,
        seq: 1000,
        ack: 1,
        data_offset: 8,
        reserved: 0,
        flags: 0x18,
        window: 1000,
        checksum: 0,
        urgent: 0,
        options: Options::from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap(),
    }
    .emit(&mut buf[34..])
    .unwrap();
    let pseudo = checksum::fold(checksum::pseudo_header_v4(
        A.octets(),
        B.octets(),
        6,
        (32 + payload.len()) as u16,
    ));
    buf[34 + 16..34 + 18].copy_from_slice(&pseudo.to_be_bytes());
    Ipv4Header {
        version: 4,
        ihl: 5,
        tos: 0,
        total_len: 0,
        ident: 0x100,
        flags: if df { 0b010 } else { 0 },
        frag_offset: 0,
        ttl: 64,
        protocol: 6,
        checksum: 0,
        src: A.octets(),
        dst: B.octets(),
        options: Options::EMPTY,
    }
    .emit(&mut buf[14..])
    .unwrap();
    EthernetHeader {
        dst: mac(1),
        src: mac(0xa),
        ethertype: 0x0800,
    }
    .emit(&mut buf)
    .unwrap();
    let mut pkt = node.pool().alloc_with_headroom(64);
    pkt.put_slice(&buf);
    let base = pkt.headroom() as u32;
    pkt.meta_mut().offload = Offload {
        gso: GsoKind::Tcp,
        gso_size: 1448,
        csum_partial: true,
        csum_start: base + 34,
        csum_offset: 16,
        net_start: base + 14,
    };
    pkt
}

fn transmits(node: &mut Node) -> Vec<(DeviceId, Packet)> {
    std::iter::from_fn(|| node.poll_transmit())
        .map(|t| (t.device, t.packet))
        .collect()
}

#[test]
fn a_tso_datagram_whose_segments_fit_is_forwarded_whole() {
    let (mut node, d0, d1) = router(1500);
    let pkt = tso_frame(&node, true);
    node.handle_input(Instant::ZERO, d0, pkt);
    let out = transmits(&mut node);
    assert_eq!(out.len(), 1, "{:?}", node.stats());
    let (dev, frame) = &out[0];
    assert_eq!(*dev, d1);
    assert_eq!(frame.len(), 14 + 20 + 32 + 3000);
    let o = frame.meta().offload;
    assert_eq!(
        (o.gso, o.gso_size, o.csum_partial),
        (GsoKind::Tcp, 1448, true)
    );
    let d = frame.data();
    assert_eq!(&d[..6], &mac(0xb), "to B's MAC");
    assert_eq!(d[14 + 8], 63, "TTL decremented");
    assert!(checksum::verify(&d[14..34]), "IPv4 checksum updated");
    assert_eq!(
        u32::try_from(frame.headroom()).unwrap() + 34,
        o.csum_start,
        "offload positions still point at the TCP header"
    );
}

#[test]
fn a_tso_datagram_is_cut_and_fragmented_for_a_smaller_egress_mtu() {
    let (mut node, d0, d1) = router(1000);
    let pkt = tso_frame(&node, false);
    node.handle_input(Instant::ZERO, d0, pkt);
    let out = transmits(&mut node);
    // Three segments (1448, 1448, 104 payload bytes); the two full ones are fragmented.
    assert_eq!(out.len(), 5, "{:?}", node.stats());
    let mut by_ident: std::collections::BTreeMap<u16, Vec<u8>> = Default::default();
    for (dev, frame) in &out {
        assert_eq!(*dev, d1);
        assert!(!frame.meta().offload.is_active());
        let ip = &frame.data()[14..];
        assert!(ip.len() <= 1000);
        assert!(checksum::verify(&ip[..20]));
        assert_eq!(ip[8], 63);
        let ident = u16::from_be_bytes([ip[4], ip[5]]);
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let offset = usize::from(u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff) * 8;
        let whole = by_ident.entry(ident).or_default();
        whole.resize(whole.len().max(offset + total - 20), 0);
        whole[offset..offset + total - 20].copy_from_slice(&ip[20..total]);
    }
    assert_eq!(
        by_ident.keys().copied().collect::<Vec<_>>(),
        [0x100, 0x101, 0x102]
    );
    let mut payload = Vec::new();
    for (i, tcp) in by_ident.values().enumerate() {
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
        assert_eq!(seq, 1000 + 1448 * i as u32);
        assert_eq!(tcp[13] & 0x08 != 0, i == 2, "PSH only on the last");
        let sum = checksum::add(
            checksum::pseudo_header_v4(A.octets(), B.octets(), 6, tcp.len() as u16),
            tcp,
        );
        assert_eq!(checksum::fold(sum), 0xffff, "TCP checksum of segment {i}");
        payload.extend_from_slice(&tcp[32..]);
    }
    let expected: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(payload, expected);
    assert_eq!(
        node.stats().counter_total("offloaded datagrams segmented"),
        1
    );
}

#[test]
fn a_tso_datagram_with_df_too_big_for_the_egress_gets_frag_needed() {
    let (mut node, d0, d1) = router(1000);
    let pkt = tso_frame(&node, true);
    node.handle_input(Instant::ZERO, d0, pkt);
    let out = transmits(&mut node);
    // The two full segments are refused (ICMP back to A on d0); the short last one fits.
    let to_b: Vec<_> = out.iter().filter(|(d, _)| *d == d1).collect();
    let to_a: Vec<_> = out.iter().filter(|(d, _)| *d == d0).collect();
    assert_eq!(to_b.len(), 1);
    assert!(to_b[0].1.len() <= 14 + 1000);
    assert!(!to_a.is_empty(), "ICMP fragmentation needed sent back");
    for (_, frame) in &to_a {
        let ip = &frame.data()[14..];
        assert_eq!((ip[9], ip[20], ip[21]), (1, 3, 4), "ICMP type 3 code 4");
        assert_eq!(u16::from_be_bytes([ip[26], ip[27]]), 1000, "next-hop MTU");
    }
}
