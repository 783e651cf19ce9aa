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
fn ethernet_frames_and_pads_what_its_upper_port_sends() {
    let mut node = Node::new(NodeId(0));
    let eth = node.add(Ethernet::new([2, 0, 0, 0, 0, 2]));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let upper = node.add_device("upper", DeviceKind::Frame);
    node.attach(wire, eth.port(EthernetPort::Lower)).unwrap();
    node.attach(upper, eth.port(EthernetPort::Upper(0x0800)))
        .unwrap();
    node.start(Instant::ZERO);
    let mut frames = Vec::new();
    for len in [20, 100] {
        let mut pkt = Packet::from_slice(&vec![7u8; len]);
        pkt.meta_mut().link_dst = Some(MAC1);
        node.handle_input(Instant::ZERO, upper, pkt);
        let out: Vec<_> = std::iter::from_fn(|| node.poll_transmit()).collect();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].device, wire);
        frames.push(out[0].packet.data().to_vec());
    }
    let header = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
    assert_eq!(frames[0].len(), 60, "padded");
    assert_eq!(&frames[0][..14], &header);
    assert_eq!(&frames[0][14..34], &[7; 20]);
    assert_eq!(&frames[0][34..], &[0; 26]);
    assert_eq!(frames[1].len(), 114);
    assert_eq!(&frames[1][..14], &header);
    // No link-layer destination: dropped and counted.
    node.handle_input(Instant::ZERO, upper, Packet::from_slice(&[1; 20]));
    assert!(node.poll_transmit().is_none());
    assert_eq!(node.stats().drops_for("no link-layer destination"), 1);
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

mod stack_router {
    //! `stack::router` (received IPv4 straight from Ethernet; ARP notifying IPv4, which
    //! frames forwarded datagrams to resolved neighbours itself) sends exactly the frames
    //! of a router wired the old way, every IPv4 packet through ARP both ways.

    use super::*;
    use vipe_protocols::icmp::{Icmp, IcmpPort};
    use vipe_protocols::stack;
    use vipe_protocols::wire::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4};

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
    const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
    const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

    fn mac(n: u8) -> [u8; 6] {
        [2, 0, 0, 0, 0, n]
    }

    fn iface(addr: Ipv4Addr) -> Interface {
        Interface {
            addr,
            prefix_len: 24,
            mtu: 1500,
        }
    }

    fn build(new_wiring: bool) -> (Node, [DeviceId; 2]) {
        let mut node = Node::new(NodeId(0));
        let devs = [0, 1].map(|i| node.add_device(&format!("eth{i}"), DeviceKind::Frame));
        let ifaces = [(devs[0], mac(1), iface(R1)), (devs[1], mac(2), iface(R2))];
        if new_wiring {
            stack::router(&mut node, &ifaces, vec![]).unwrap();
        } else {
            let config = Ipv4Config::router(ifaces.iter().map(|i| i.2).collect(), vec![]);
            let ipv4 = node.add(Ipv4::new(config));
            for (index, (dev, mac, iface)) in ifaces.into_iter().enumerate() {
                let eth = node.add(Ethernet::new(mac));
                let arp = node.add(Arp::new(ArpConfig::new(mac, vec![iface.addr])));
                node.attach(dev, eth.port(EthernetPort::Lower)).unwrap();
                node.connect(
                    eth.port(EthernetPort::Upper(ETHERTYPE_ARP)),
                    arp.port(ArpPort::Arp),
                )
                .unwrap();
                node.connect(
                    eth.port(EthernetPort::Upper(ETHERTYPE_IPV4)),
                    arp.port(ArpPort::Link),
                )
                .unwrap();
                node.connect(
                    arp.port(ArpPort::Ip),
                    ipv4.port(Ipv4Port::Lower(index as u8)),
                )
                .unwrap();
            }
            let icmp = node.add(Icmp::new());
            node.connect(ipv4.port(Ipv4Port::Upper(1)), icmp.port(IcmpPort::Ip))
                .unwrap();
        }
        node.start(Instant::ZERO);
        (node, devs)
    }

    fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut pkt = Packet::from_slice(body);
        EthernetHeader {
            dst,
            src,
            ethertype,
        }
        .push_fixed(&mut pkt);
        pkt.data().to_vec()
    }

    fn udp(ttl: u8) -> Vec<u8> {
        frame(mac(1), mac(0xa), ETHERTYPE_IPV4, &datagram_from(A, B, ttl))
    }

    fn datagram_from(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
        let mut d = datagram(dst, ttl, 0, 120);
        d[12..16].copy_from_slice(&src.octets());
        Ipv4Header::parse_owned(&d)
            .map(|mut h| {
                h.checksum = 0;
                h.emit(&mut d).unwrap();
            })
            .unwrap();
        d
    }

    /// An ARP packet from B (at `b_mac`) to the router's eth1.
    fn arp_from_b(oper: u16, b_mac: [u8; 6]) -> Vec<u8> {
        let arp = ArpPacket {
            htype: 1,
            ptype: 0x0800,
            hlen: 6,
            plen: 4,
            oper,
            sha: b_mac,
            spa: B.octets(),
            tha: if oper == 2 { mac(2) } else { [0; 6] },
            tpa: R2.octets(),
        };
        let mut pkt = Packet::from_slice(&[]);
        arp.push_onto(&mut pkt).unwrap();
        frame(mac(2), b_mac, ETHERTYPE_ARP, pkt.data())
    }

    #[test]
    fn frames_as_the_router_wired_through_arp() {
        let second = |s: f64| Instant::from_nanos((s * 1e9) as u64);
        // (time, device index, frame)
        let steps: Vec<(Instant, usize, Vec<u8>)> = vec![
            (second(0.001), 0, udp(64)), // B unknown: queued, ARP request
            (second(0.002), 1, arp_from_b(2, mac(0xb))),
            (second(0.003), 0, udp(64)),
            (second(0.004), 0, udp(64)),
            (second(0.005), 1, arp_from_b(1, mac(0xc))), // B's MAC changed
            (second(0.006), 0, udp(64)),
            (second(0.007), 0, udp(1)), // time exceeded, to A (unresolved)
            (second(30.0), 0, udp(64)),
            (second(60.5), 0, udp(64)), // B's entry expired (learned at 5 ms)
            (second(60.6), 0, udp(64)),
            (second(60.7), 1, arp_from_b(2, mac(0xb))),
            (second(60.8), 0, udp(64)),
            (second(200.0), 0, udp(64)), // swept
            (second(200.1), 1, arp_from_b(2, mac(0xb))),
            (second(200.2), 0, udp(64)),
        ];
        let mut routers = [build(true), build(false)];
        // Per router, per step: (device index, frame) of each frame sent.
        type Sent = Vec<(usize, Vec<u8>)>;
        let mut outputs: [Vec<Sent>; 2] = Default::default();
        for ((node, devs), out) in routers.iter_mut().zip(&mut outputs) {
            let sent = |node: &mut Node| -> Sent {
                std::iter::from_fn(|| node.poll_transmit())
                    .map(|t| {
                        let dev = devs.iter().position(|&d| d == t.device).unwrap();
                        (dev, t.packet.data().to_vec())
                    })
                    .collect()
            };
            out.push(sent(node)); // announcements
            for (at, dev, frame) in &steps {
                while let Some(deadline) = node.next_deadline().filter(|d| d <= at) {
                    node.handle_timeout(deadline);
                    out.push(sent(node));
                }
                node.handle_input(*at, devs[*dev], Packet::from_slice(frame));
                out.push(sent(node));
            }
        }
        assert_eq!(outputs[0], outputs[1]);
        let frames_to = |m: [u8; 6]| {
            outputs[0]
                .iter()
                .flatten()
                .filter(|(dev, f)| *dev == 1 && f[..6] == m && f[12..14] == [8, 0])
                .count()
        };
        assert_eq!((frames_to(mac(0xb)), frames_to(mac(0xc))), (8, 2));
        let [(new, _), (old, _)] = &routers;
        assert_eq!(new.stats().total_drops(), old.stats().total_drops());
        assert_eq!(new.stats().drops_for("malformed neighbour notice"), 0);
    }
}

mod notices {
    //! IPv4 acting on ARP's neighbour notices: a datagram forwarded to a notified, unexpired
    //! neighbour leaves by `link(iface)` with its MAC; a changed MAC is used at once; a
    //! forgotten or expired one, or one notified while `link(iface)` leads nowhere, sends
    //! the datagram down `lower(iface)` to ARP.

    use super::*;
    use vipe_protocols::arp::NEIGHBOUR_NOTICE;

    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 5);

    struct Fixture {
        node: Node,
        input: DeviceId,
        lower1: DeviceId,
        link1: Option<DeviceId>,
    }

    fn fixture(link_connected: bool) -> Fixture {
        let iface = |addr| Interface {
            addr,
            prefix_len: 24,
            mtu: 1500,
        };
        let mut node = Node::new(NodeId(0));
        let ip = node.add(Ipv4::new(Ipv4Config::router(
            vec![iface(R0), iface(R1)],
            vec![],
        )));
        let input = node.add_device("in", DeviceKind::Frame);
        let lower1 = node.add_device("lower1", DeviceKind::Frame);
        node.attach(input, ip.port(Ipv4Port::Link(0))).unwrap();
        node.attach(lower1, ip.port(Ipv4Port::Lower(1))).unwrap();
        let link1 = link_connected.then(|| {
            let dev = node.add_device("link1", DeviceKind::Frame);
            node.attach(dev, ip.port(Ipv4Port::Link(1))).unwrap();
            dev
        });
        node.start(Instant::ZERO);
        Fixture {
            node,
            input,
            lower1,
            link1,
        }
    }

    impl Fixture {
        fn notice(&mut self, ms: u64, mac: Option<[u8; 6]>, expires_ms: u64) {
            let expires = Instant::from_millis(expires_ms).as_nanos();
            let mut pkt = Packet::from_slice(&expires.to_be_bytes());
            pkt.meta_mut().mark = NEIGHBOUR_NOTICE;
            pkt.meta_mut().next_hop = Some(IpAddr::V4(B));
            pkt.meta_mut().link_dst = mac;
            self.node
                .handle_input(Instant::from_millis(ms), self.lower1, pkt);
            assert!(self.node.poll_transmit().is_none());
        }

        /// Forwards a datagram to B at `ms`: the device it left by and its `link_dst`.
        fn forward(&mut self, ms: u64) -> (DeviceId, Option<[u8; 6]>) {
            let pkt = Packet::from_slice(&datagram(B, 64, 0, 100));
            self.node
                .handle_input(Instant::from_millis(ms), self.input, pkt);
            let out: Vec<_> = std::iter::from_fn(|| self.node.poll_transmit()).collect();
            assert_eq!(out.len(), 1);
            (out[0].device, out[0].packet.meta().link_dst)
        }
    }

    #[test]
    fn forwarded_datagrams_go_straight_to_notified_neighbours() {
        let mut f = fixture(true);
        let link1 = f.link1.unwrap();
        assert_eq!(f.forward(1), (f.lower1, None));
        f.notice(2, Some(MAC1), 10_000);
        assert_eq!(f.forward(3), (link1, Some(MAC1)));
        assert_eq!(f.forward(4), (link1, Some(MAC1)));
        f.notice(5, Some(MAC2), 10_000);
        assert_eq!(f.forward(6), (link1, Some(MAC2)));
        f.notice(7, None, 0);
        assert_eq!(f.forward(8), (f.lower1, None));
        f.notice(9, Some(MAC1), 10_000);
        assert_eq!(f.forward(10), (link1, Some(MAC1)));
        assert_eq!(f.forward(10_000), (f.lower1, None), "expired");
        // Learned before the first datagram to B: the slow path finds it too.
        let mut f = fixture(true);
        f.notice(1, Some(MAC2), 10_000);
        assert_eq!(f.forward(2), (link1, Some(MAC2)));
        assert_eq!(f.node.stats().total_drops(), 0);
    }

    #[test]
    fn notices_are_ignored_without_a_link_port() {
        let mut f = fixture(false);
        f.notice(1, Some(MAC1), 10_000);
        assert_eq!(f.forward(2), (f.lower1, None));
        assert_eq!(f.node.stats().total_drops(), 0);
    }
}
