//! Negative advice reaching ARP (RFC 1122 2.3.2.1 and 3.3.1.4): a datagram marked
//! `REVALIDATE_NEXT_HOP` (IPv4 marks the next one to a next hop TCP advised against,
//! RFC 9293 MUST-20) makes ARP forget that hop's cache entry and resolve it again
//! before sending; an unmarked datagram uses the cache.

use std::net::{IpAddr, Ipv4Addr};

use vipe_protocols::arp::{Arp, ArpConfig, ArpPort};
use vipe_protocols::ipv4::REVALIDATE_NEXT_HOP;
use vipe_protocols::wire::ArpPacket;
use vipe_protocols::wire::arp::ArpPacketView;
use vipe_rt::prelude::*;

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

#[test]
fn a_revalidate_mark_makes_arp_resolve_the_next_hop_again() {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    let mut node = Node::new(NodeId(0));
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let link = node.add_device("link", DeviceKind::Frame);
    let ip = node.add_device("ip", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.attach(link, arp.port(ArpPort::Link)).unwrap();
    node.attach(ip, arp.port(ArpPort::Ip)).unwrap();
    node.start(Instant::ZERO);
    // PEER asks for us: learned.
    let req = ArpPacket {
        htype: 1,
        ptype: 0x0800,
        hlen: 6,
        plen: 4,
        oper: 1,
        sha: PEER_MAC,
        spa: PEER.octets(),
        tha: [0; 6],
        tpa: ME.octets(),
    };
    let mut frame = Packet::from_slice(&[]);
    req.push_onto(&mut frame).unwrap();
    node.handle_input(Instant::from_millis(1), wire, frame);
    let sent = |node: &mut Node| -> Vec<(DeviceId, Packet)> {
        std::iter::from_fn(|| node.poll_transmit())
            .map(|t| (t.device, t.packet))
            .collect()
    };
    sent(&mut node); // our reply
    let datagram = |mark: u32| {
        let mut pkt = Packet::from_slice(&[0x45; 20]);
        pkt.meta_mut().next_hop = Some(IpAddr::V4(PEER));
        pkt.meta_mut().mark = mark;
        pkt
    };
    node.handle_input(Instant::from_millis(2), ip, datagram(0));
    let out = sent(&mut node);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.meta().link_dst), (link, Some(PEER_MAC)));
    // Marked: no frame to the link; an ARP request for PEER instead.
    node.handle_input(Instant::from_millis(3), ip, datagram(REVALIDATE_NEXT_HOP));
    let out = sent(&mut node);
    assert_eq!(out.len(), 1, "only the request");
    assert_eq!(out[0].0, wire);
    let asked = ArpPacketView::parse(out[0].1.data()).unwrap();
    assert_eq!((asked.oper(), asked.tpa()), (1, PEER.octets()));
    assert_eq!(node.protocol(arp).unwrap().pending_len(), 1);
}
