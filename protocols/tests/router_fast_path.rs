//! The router's per-frame shortcuts change nothing a router does:
//!
//! - IPv4 remembers how it forwarded the last destination (not local, not a broadcast,
//!   its route, next hop and MTU): every datagram of a mixed sequence (other routes,
//!   local delivery, broadcasts, TTL expiry, fragmentation, DF) leaves exactly as it
//!   leaves a fresh router that saw none of the datagrams before it;
//! - ARP remembers the neighbour it last resolved: a changed MAC is used from the next
//!   packet on, an entry expired since it was remembered is resolved again, and
//!   negative advice still forgets it;
//! - Ethernet's send-only `tx` port frames as `upper` does, and `push_fixed` writes the
//!   bytes `push_onto` does.

use std::net::{IpAddr, Ipv4Addr};

use vipe_protocols::arp::{Arp, ArpConfig, ArpPort};
use vipe_protocols::ethernet::{Ethernet, EthernetPort};
use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port, REVALIDATE_NEXT_HOP, Route};
use vipe_protocols::wire::arp::ArpPacketView;
use vipe_protocols::wire::ipv4::{FLAG_DF, Ipv4HeaderView};
use vipe_protocols::wire::{ArpPacket, EthernetHeader, Ipv4Header};
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options};

/// Records what arrives on its port.
#[protocol]
#[derive(Default)]
struct Sink {
    got: Vec<Vec<u8>>,
}

#[protocol]
impl Sink {
    #[on_packet(port = "any")]
    fn any(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        self.got.push(pkt.data().to_vec());
    }
}

const R0: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 7);

/// A router on three devices (the third with a 576-byte MTU), a route to 10.1/16 via
/// 10.0.1.254 and a default route via 10.0.0.254, UDP delivered to a sink; datagrams
/// arrive on interface 0's `link` port (as from Ethernet) by their own device.
struct Router {
    node: Node,
    input: DeviceId,
    outputs: [DeviceId; 3],
    sink: Handle<Sink>,
}

fn router() -> Router {
    let iface = |addr, mtu| Interface {
        addr,
        prefix_len: 24,
        mtu,
    };
    let config = Ipv4Config::router(
        vec![iface(R0, 1500), iface(R1, 1500), iface(R2, 576)],
        vec![
            Route {
                prefix: Ipv4Addr::new(10, 1, 0, 0),
                prefix_len: 16,
                next_hop: Some(Ipv4Addr::new(10, 0, 1, 254)),
                iface: 1,
            },
            Route {
                prefix: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
                next_hop: Some(Ipv4Addr::new(10, 0, 0, 254)),
                iface: 0,
            },
        ],
    );
    let mut node = Node::new(NodeId(0));
    let ip = node.add(Ipv4::new(config));
    let sink = node.add(Sink::default());
    let outputs = [0u8, 1, 2].map(|i| {
        let dev = node.add_device(&format!("out{i}"), DeviceKind::Frame);
        node.attach(dev, ip.port(Ipv4Port::Lower(i))).unwrap();
        dev
    });
    let input = node.add_device("in0", DeviceKind::Frame);
    node.attach(input, ip.port(Ipv4Port::Link(0))).unwrap();
    node.connect(ip.port(Ipv4Port::Upper(17)), sink.port(SinkPort::Any))
        .unwrap();
    node.start(Instant::ZERO);
    Router {
        node,
        input,
        outputs,
        sink,
    }
}

fn datagram(dst: Ipv4Addr, ttl: u8, flags: u8, len: usize) -> Vec<u8> {
    let h = Ipv4Header {
        version: 4,
        ihl: 0,
        tos: 0,
        total_len: 0,
        ident: 77,
        flags,
        frag_offset: 0,
        ttl,
        protocol: 17,
        checksum: 0,
        src: SRC.octets(),
        dst: dst.octets(),
        options: Options::EMPTY,
    };
    let mut buf = vec![0x5a; len];
    h.emit(&mut buf).unwrap();
    buf
}

/// What a router did with one datagram: (interface, next hop, bytes) per packet sent,
/// with the identification and checksum of the router's own datagrams (ICMP errors) set
/// to zero, as they depend on how many it sent before; and what reached the sink.
type Outcome = (Vec<(usize, Option<IpAddr>, Vec<u8>)>, Vec<Vec<u8>>);

fn feed(r: &mut Router, input: &[u8]) -> Outcome {
    let Router {
        node,
        outputs,
        sink,
        ..
    } = r;
    let before = node.protocol(*sink).unwrap().got.len();
    node.handle_input(Instant::ZERO, r.input, Packet::from_slice(input));
    let sent = std::iter::from_fn(|| node.poll_transmit())
        .map(|t| {
            let mut bytes = t.packet.data().to_vec();
            let ours = Ipv4HeaderView::parse(&bytes[..])
                .map(|h| [R0, R1, R2].contains(&Ipv4Addr::from(h.src())))
                .unwrap_or(false);
            if ours {
                bytes[4..6].fill(0);
                bytes[10..12].fill(0);
            }
            let dev = outputs.iter().position(|&d| d == t.device).unwrap();
            (dev, t.packet.meta().next_hop, bytes)
        })
        .collect();
    let delivered = node.protocol(*sink).unwrap().got[before..].to_vec();
    (sent, delivered)
}

#[test]
fn every_datagram_leaves_as_from_a_fresh_router() {
    let on_link = Ipv4Addr::new(10, 0, 1, 5);
    let far = Ipv4Addr::new(10, 1, 2, 3);
    let internet = Ipv4Addr::new(192, 0, 2, 9);
    let small_mtu = Ipv4Addr::new(10, 0, 2, 9);
    let inputs = [
        datagram(on_link, 64, 0, 100),
        datagram(on_link, 64, 0, 100),
        datagram(on_link, 1, 0, 100), // TTL expiry after a cached forward
        datagram(far, 64, 0, 100),
        datagram(on_link, 9, 0, 100),
        datagram(Ipv4Addr::new(10, 0, 1, 255), 64, 0, 100), // directed broadcast: ours
        datagram(on_link, 64, 0, 100),
        datagram(Ipv4Addr::new(239, 1, 2, 3), 64, 0, 100), // multicast: not forwarded
        datagram(on_link, 64, 0, 100),
        datagram(R1, 64, 0, 100), // local
        datagram(R1, 64, 0, 100),
        datagram(on_link, 64, 0, 100),
        datagram(internet, 64, 0, 100),
        datagram(internet, 64, 0, 100),
        datagram(small_mtu, 64, 0, 1000), // fragmented
        datagram(small_mtu, 64, 0, 1000),
        datagram(small_mtu, 64, FLAG_DF, 1000), // fragmentation needed
        datagram(small_mtu, 64, FLAG_DF, 1000),
        datagram(Ipv4Addr::BROADCAST, 64, 0, 100),
        datagram(far, 0, 0, 100),
        datagram(far, 64, 0, 100),
    ];
    let mut r = router();
    for (i, input) in inputs.iter().enumerate() {
        let expected = feed(&mut router(), input);
        let got = feed(&mut r, input);
        assert_eq!(got, expected, "datagram {i}");
    }
    // The sequence did exercise each path.
    let stats = r.node.stats();
    assert_eq!(stats.counter_total("datagrams forwarded"), 14);
    assert_eq!(stats.counter_total("datagrams delivered"), 4);
    assert_eq!(stats.drops_for("ttl expired in transit"), 2);
    assert_eq!(stats.drops_for("broadcast not forwarded"), 1);
    assert_eq!(stats.drops_for("fragmentation needed but DF set"), 2);
    assert_eq!(stats.counter_total("fragments sent"), 4);
}

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC2: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const LIFETIME: Duration = Duration::from_secs(10);

struct ArpNode {
    node: Node,
    arp: Handle<Arp>,
    wire: DeviceId,
    link: DeviceId,
    ip: DeviceId,
}

fn arp_node() -> ArpNode {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    config.entry_lifetime = LIFETIME;
    let mut node = Node::new(NodeId(0));
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let link = node.add_device("link", DeviceKind::Frame);
    let ip = node.add_device("ip", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.attach(link, arp.port(ArpPort::Link)).unwrap();
    node.attach(ip, arp.port(ArpPort::Ip)).unwrap();
    node.start(Instant::ZERO);
    ArpNode {
        node,
        arp,
        wire,
        link,
        ip,
    }
}

impl ArpNode {
    /// PEER, at `mac`, asks for us at `ms`: learned (or relearned).
    fn peer_asks(&mut self, ms: u64, mac: [u8; 6]) {
        let req = ArpPacket {
            htype: 1,
            ptype: 0x0800,
            hlen: 6,
            plen: 4,
            oper: 1,
            sha: mac,
            spa: PEER.octets(),
            tha: [0; 6],
            tpa: ME.octets(),
        };
        let mut frame = Packet::from_slice(&[]);
        req.push_onto(&mut frame).unwrap();
        self.node
            .handle_input(Instant::from_millis(ms), self.wire, frame);
        self.sent(); // our reply
    }

    /// Sends a datagram to PEER at `ms`; returns what left, by device.
    fn send(&mut self, ms: u64, mark: u32) -> Vec<(DeviceId, Packet)> {
        let mut pkt = Packet::from_slice(&[0x45; 20]);
        pkt.meta_mut().next_hop = Some(IpAddr::V4(PEER));
        pkt.meta_mut().mark = mark;
        self.node
            .handle_input(Instant::from_millis(ms), self.ip, pkt);
        self.sent()
    }

    fn sent(&mut self) -> Vec<(DeviceId, Packet)> {
        std::iter::from_fn(|| self.node.poll_transmit())
            .map(|t| (t.device, t.packet))
            .collect()
    }

    /// Asserts that `out` is one datagram to the link, for `mac`.
    fn assert_sent_to(&self, out: &[(DeviceId, Packet)], mac: [u8; 6]) {
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].0, out[0].1.meta().link_dst), (self.link, Some(mac)));
    }

    /// Asserts that `out` is one ARP request for PEER.
    fn assert_request(&self, out: &[(DeviceId, Packet)]) {
        assert_eq!(out.len(), 1, "only the request");
        assert_eq!(out[0].0, self.wire);
        let asked = ArpPacketView::parse(out[0].1.data()).unwrap();
        assert_eq!((asked.oper(), asked.tpa()), (1, PEER.octets()));
    }
}

#[test]
fn arp_uses_a_changed_mac_from_the_next_packet() {
    let mut n = arp_node();
    n.peer_asks(1, MAC1);
    let out = n.send(2, 0);
    n.assert_sent_to(&out, MAC1);
    let out = n.send(3, 0);
    n.assert_sent_to(&out, MAC1);
    n.peer_asks(4, MAC2);
    let out = n.send(5, 0);
    n.assert_sent_to(&out, MAC2);
}

#[test]
fn arp_resolves_again_an_entry_expired_since_its_last_use() {
    let mut n = arp_node();
    n.peer_asks(1, MAC1);
    let out = n.send(2, 0);
    n.assert_sent_to(&out, MAC1);
    // Past the entry's lifetime, before the sweep (every LIFETIME) removes it.
    let late = LIFETIME.as_millis() + 2;
    let out = n.send(late, 0);
    n.assert_request(&out);
    assert_eq!(n.node.protocol(n.arp).unwrap().pending_len(), 1);
}

#[test]
fn arp_forgets_the_remembered_neighbour_on_negative_advice() {
    let mut n = arp_node();
    n.peer_asks(1, MAC1);
    let out = n.send(2, 0);
    n.assert_sent_to(&out, MAC1);
    let out = n.send(3, REVALIDATE_NEXT_HOP);
    n.assert_request(&out);
    // Unmarked, while resolving: queued behind the first, not sent to the old MAC.
    let out = n.send(4, 0);
    assert!(out.is_empty());
    n.peer_asks(5, MAC2);
    // Learning sent both queued datagrams to the new MAC; the next one goes there too.
    let out = n.send(6, 0);
    n.assert_sent_to(&out, MAC2);
}

#[test]
fn ethernet_tx_frames_as_upper_does() {
    let mut node = Node::new(NodeId(0));
    let eth = node.add(Ethernet::new([2, 0, 0, 0, 0, 2]));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let upper = node.add_device("upper", DeviceKind::Frame);
    let tx = node.add_device("tx", DeviceKind::Frame);
    node.attach(wire, eth.port(EthernetPort::Lower)).unwrap();
    node.attach(upper, eth.port(EthernetPort::Upper(0x0800)))
        .unwrap();
    node.attach(tx, eth.port(EthernetPort::Tx(0x0800))).unwrap();
    node.start(Instant::ZERO);
    let mut frames = Vec::new();
    for (dev, len) in [(upper, 20), (tx, 20), (upper, 100), (tx, 100)] {
        let mut pkt = Packet::from_slice(&vec![7u8; len]);
        pkt.meta_mut().link_dst = Some(MAC1);
        node.handle_input(Instant::ZERO, dev, pkt);
        let out: Vec<_> = std::iter::from_fn(|| node.poll_transmit()).collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].device, wire);
        frames.push(out[0].packet.data().to_vec());
    }
    assert_eq!(frames[0], frames[1]);
    assert_eq!(frames[2], frames[3]);
    assert_eq!(frames[0].len(), 60, "padded");
    assert_eq!(
        &frames[2][..14],
        &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]
    );
    // No link-layer destination: dropped, by either port.
    node.handle_input(Instant::ZERO, tx, Packet::from_slice(&[1; 20]));
    assert!(node.poll_transmit().is_none());
}

#[test]
fn push_fixed_writes_what_push_onto_writes() {
    for (i, ethertype) in [0x0800u16, 0x86dd, 0x8100, 0, 0xffff]
        .into_iter()
        .enumerate()
    {
        let header = EthernetHeader {
            dst: [i as u8, 0xff, 3, 4, 5, 0x80],
            src: [9, 8, 7, 6, 5, i as u8],
            ethertype,
        };
        let mut a = Packet::from_slice(&[0xaa; 30]);
        let mut b = Packet::from_slice(&[0xaa; 30]);
        header.push_onto(&mut a).unwrap();
        header.push_fixed(&mut b);
        assert_eq!(a.data(), b.data());
        assert_eq!(
            vipe_protocols::wire::ethernet::EthernetHeaderView::parse(b.data())
                .unwrap()
                .to_owned(),
            header
        );
    }
}
