//! IPv4 and ARP behaviour driven through a node by hand: longest-prefix routing,
//! fragmentation with option copying, DF and "fragmentation needed", reassembly out of
//! order, its timeout (ICMP time exceeded, code 1) and its memory bound; ARP retries,
//! give-up, queue limits by bytes, the bounded cache and expiry; ICMP errors from the
//! interface the datagram came in on, quoting up to 576 bytes; MTU configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use vipe_protocols::arp::{Arp, ArpConfig, ArpPort};
use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port, MtuError, Route};
use vipe_protocols::wire::arp::ArpPacketView;
use vipe_protocols::wire::icmp::{self, IcmpHeaderView};
use vipe_protocols::wire::ipv4::{FLAG_DF, FLAG_MF, Ipv4HeaderView};
use vipe_protocols::wire::{ArpPacket, Ipv4Header};
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options, Transmit};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

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

fn drain(node: &mut Node) -> Vec<Transmit> {
    std::iter::from_fn(|| node.poll_transmit()).collect()
}

fn counter(node: &Node, name: &str) -> u64 {
    node.stats().counter_total(name)
}

/// A host (or router) with its lower port on device 0 and upper(17) to a sink.
fn ip_node(config: Ipv4Config) -> (Node, DeviceId, Handle<Ipv4>, Handle<Sink>) {
    let mut node = Node::new(NodeId(0));
    let ip = node.add(Ipv4::new(config));
    let sink = node.add(Sink::default());
    let dev = node.add_device("link", DeviceKind::Frame);
    node.attach(dev, ip.port(Ipv4Port::Lower(0))).unwrap();
    node.connect(ip.port(Ipv4Port::Upper(17)), sink.port(SinkPort::Any))
        .unwrap();
    node.start(Instant::ZERO);
    (node, dev, ip, sink)
}

fn datagram(src: Ipv4Addr, dst: Ipv4Addr, ident: u16, payload: &[u8], options: &[u8]) -> Vec<u8> {
    let h = Ipv4Header {
        version: 4,
        ihl: 0,
        tos: 0,
        total_len: 0,
        ident,
        flags: 0,
        frag_offset: 0,
        ttl: 64,
        protocol: 17,
        checksum: 0,
        src: src.octets(),
        dst: dst.octets(),
        options: Options::from_slice(options).unwrap(),
    };
    let mut buf = vec![0u8; h.header_len() + payload.len()];
    buf[h.header_len()..].copy_from_slice(payload);
    h.emit(&mut buf).unwrap();
    buf
}

fn fragments_of(datagram: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    // A router forwards the datagram (TTL - 1) onto a link of the given MTU.
    let mut router = Node::new(NodeId(8));
    let config = Ipv4Config::router(
        vec![
            Interface {
                addr: Ipv4Addr::new(10, 0, 9, 1),
                prefix_len: 24,
                mtu: 9000,
            },
            Interface {
                addr: Ipv4Addr::new(10, 0, 0, 9),
                prefix_len: 24,
                mtu,
            },
        ],
        vec![],
    );
    let r = router.add(Ipv4::new(config));
    let d_in = router.add_device("in", DeviceKind::Frame);
    let d_out = router.add_device("out", DeviceKind::Frame);
    router.attach(d_in, r.port(Ipv4Port::Lower(0))).unwrap();
    router.attach(d_out, r.port(Ipv4Port::Lower(1))).unwrap();
    router.start(Instant::ZERO);
    router.handle_input(Instant::ZERO, d_in, Packet::from_slice(datagram));
    drain(&mut router)
        .into_iter()
        .map(|t| t.packet.data().to_vec())
        .collect()
}

#[test]
fn routes_by_longest_prefix() {
    let config = Ipv4Config::router(
        vec![
            Interface {
                addr: Ipv4Addr::new(10, 0, 0, 1),
                prefix_len: 8,
                mtu: 1500,
            },
            Interface {
                addr: Ipv4Addr::new(192, 168, 1, 1),
                prefix_len: 24,
                mtu: 1500,
            },
        ],
        vec![
            Route {
                prefix: Ipv4Addr::new(10, 1, 0, 0),
                prefix_len: 16,
                next_hop: Some(Ipv4Addr::new(192, 168, 1, 254)),
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
    let ip = Ipv4::new(config);
    assert_eq!(
        ip.route(Ipv4Addr::new(10, 1, 2, 3)).unwrap().iface,
        1,
        "/16 beats /8"
    );
    assert_eq!(
        ip.route(Ipv4Addr::new(10, 2, 2, 3)).unwrap().next_hop,
        None,
        "on-link /8"
    );
    assert_eq!(
        ip.route(Ipv4Addr::new(8, 8, 8, 8)).unwrap().next_hop,
        Some(Ipv4Addr::new(10, 0, 0, 254)),
        "default"
    );
}

#[test]
fn fragments_copy_only_the_options_marked_for_copying() {
    // Record route (type 7, not copied) and a security-style option (type 0x82, copied).
    let options = [0x82, 4, 0xaa, 0xbb, 7, 7, 4, 0, 0, 0, 0, 0];
    let big = datagram(
        PEER,
        Ipv4Addr::new(10, 0, 0, 77),
        5,
        &[0x11; 3000],
        &options,
    );
    let frags = fragments_of(&big, 1500);
    assert_eq!(frags.len(), 3);
    let mut data = Vec::new();
    for (i, f) in frags.iter().enumerate() {
        let v = Ipv4HeaderView::parse(&f[..]).unwrap();
        assert!(v.verify_checksum());
        assert!(f.len() <= 1500);
        assert_eq!(v.flags() & FLAG_MF != 0, i < 2);
        assert_eq!(usize::from(v.frag_offset()) * 8, data.len());
        if i == 0 {
            assert_eq!(
                v.options(),
                &options[..],
                "the first fragment keeps every option"
            );
        } else {
            assert_eq!(
                v.options(),
                &[0x82, 4, 0xaa, 0xbb][..],
                "later ones only the copied option"
            );
        }
        assert_eq!(v.ttl(), 63);
        data.extend_from_slice(v.payload());
    }
    assert_eq!(data, vec![0x11; 3000]);
}

#[test]
fn df_set_and_too_big_gets_fragmentation_needed_with_the_mtu() {
    let mut big = datagram(PEER, Ipv4Addr::new(10, 0, 0, 77), 6, &[0; 2000], &[]);
    {
        let mut v = Ipv4HeaderView::parse(&mut big[..]).unwrap();
        v.set_flags(FLAG_DF);
        v.fill_checksum();
    }
    let out = fragments_of(&big, 1500);
    assert_eq!(out.len(), 1, "only the ICMP error leaves: {out:?}");
    let ip = Ipv4HeaderView::parse(&out[0][..]).unwrap();
    assert_eq!(Ipv4Addr::from(ip.dst()), PEER);
    let icmp = IcmpHeaderView::parse(ip.payload()).unwrap();
    assert_eq!(
        (icmp.icmp_type(), icmp.code()),
        (icmp::DEST_UNREACHABLE, icmp::CODE_FRAG_NEEDED)
    );
    assert_eq!(u16::from_be_bytes([icmp.rest()[2], icmp.rest()[3]]), 1500);
    assert!(icmp.verify_checksum());
}

#[test]
fn out_of_order_fragments_reassemble() {
    let big = datagram(
        PEER,
        ME,
        7,
        &(0..4000u32).map(|i| i as u8).collect::<Vec<_>>(),
        &[],
    );
    let mut frags = fragments_of(&big, 576);
    assert!(frags.len() > 7);
    frags.reverse();
    frags.swap(1, 4);
    let (mut node, dev, ip, sink) = ip_node(Ipv4Config::host(
        Interface {
            addr: ME,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    ));
    for f in &frags {
        node.handle_input(Instant::from_millis(1), dev, Packet::from_slice(f));
    }
    let got = &node.protocol(sink).unwrap().got;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0], (0..4000u32).map(|i| i as u8).collect::<Vec<_>>());
    assert_eq!(node.protocol(ip).unwrap().reassemblies(), 0);
    // A duplicate of an already delivered datagram starts a new reassembly that times out.
    node.handle_input(Instant::from_millis(2), dev, Packet::from_slice(&frags[0]));
    assert_eq!(node.protocol(ip).unwrap().reassemblies(), 1);
}

#[test]
fn an_incomplete_datagram_times_out_with_icmp_time_exceeded() {
    let big = datagram(PEER, ME, 8, &[3; 3000], &[]);
    let frags = fragments_of(&big, 1500);
    let (mut node, dev, ip, sink) = ip_node(Ipv4Config::host(
        Interface {
            addr: ME,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    ));
    node.handle_input(Instant::ZERO, dev, Packet::from_slice(&frags[0]));
    node.handle_input(Instant::ZERO, dev, Packet::from_slice(&frags[2]));
    assert_eq!(node.next_deadline(), Some(Instant::from_secs(30)));
    node.handle_timeout(Instant::from_secs(30));
    assert!(node.protocol(sink).unwrap().got.is_empty());
    assert_eq!(node.protocol(ip).unwrap().reassemblies(), 0);
    assert_eq!(counter(&node, "reassembly timeouts"), 1);
    let out = drain(&mut node);
    assert_eq!(out.len(), 1);
    let err = Ipv4HeaderView::parse(out[0].packet.data()).unwrap();
    assert_eq!(Ipv4Addr::from(err.dst()), PEER);
    let icmp = IcmpHeaderView::parse(err.payload()).unwrap();
    assert_eq!(
        (icmp.icmp_type(), icmp.code()),
        (icmp::TIME_EXCEEDED, icmp::CODE_REASSEMBLY_EXCEEDED)
    );
    assert_eq!(
        &icmp.payload()[..28],
        &frags[0][..28],
        "quotes the first fragment's header and 8 bytes"
    );
    assert_eq!(out[0].packet.meta().next_hop, Some(IpAddr::V4(PEER)));
}

#[test]
fn reassembly_memory_is_bounded() {
    let mut config = Ipv4Config::host(
        Interface {
            addr: ME,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    );
    config.reassembly_limit = 4000;
    let (mut node, dev, ip, _) = ip_node(config);
    for ident in 0..5u16 {
        let big = datagram(PEER, ME, 100 + ident, &[1; 3000], &[]);
        let frags = fragments_of(&big, 1500);
        node.handle_input(Instant::ZERO, dev, Packet::from_slice(&frags[0]));
    }
    assert_eq!(
        node.protocol(ip).unwrap().reassemblies(),
        2,
        "2 × 1480 bytes fit in 4000"
    );
    assert_eq!(node.stats().drops_for("reassembly memory full"), 3);
}

fn arp_node(config: ArpConfig) -> (Node, DeviceId, DeviceId, Handle<Arp>) {
    let mut node = Node::new(NodeId(0));
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("arp-wire", DeviceKind::Frame);
    let ip = node.add_device("ip-side", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.attach(ip, arp.port(ArpPort::Ip)).unwrap();
    node.start(Instant::ZERO);
    (node, wire, ip, arp)
}

fn ip_packet_to(next_hop: Ipv4Addr) -> Packet {
    let mut pkt = Packet::from_slice(&datagram(ME, next_hop, 1, b"hi", &[]));
    pkt.meta_mut().next_hop = Some(IpAddr::V4(next_hop));
    pkt
}

#[test]
fn arp_retries_then_gives_up_and_drops_the_queue() {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    config.queue_bytes = 2 * ip_packet_to(PEER).len();
    let (mut node, _, ip, _) = arp_node(config);
    for _ in 0..3 {
        node.handle_input(Instant::ZERO, ip, ip_packet_to(PEER));
    }
    assert_eq!(node.stats().drops_for("arp queue full"), 1);
    let mut requests = drain(&mut node).len();
    while let Some(t) = node.next_deadline() {
        if t > Instant::from_secs(10) {
            break;
        }
        node.handle_timeout(t);
        requests += drain(&mut node).len();
    }
    assert_eq!(requests, 3, "max_requests");
    assert_eq!(node.stats().drops_for("arp unresolved"), 2);
}

#[test]
fn arp_resolves_answers_and_expires() {
    let mine = [2, 0, 0, 0, 0, 2];
    let peer_mac = [2, 0, 0, 0, 0, 1];
    let (mut node, wire, ip, arp) = arp_node(ArpConfig::new(mine, vec![ME]));
    // The gratuitous announcement at start.
    let announce = drain(&mut node);
    let a = ArpPacketView::parse(announce[0].packet.data())
        .unwrap()
        .to_owned();
    assert_eq!((a.spa, a.tpa, a.oper), (ME.octets(), ME.octets(), 1));
    // A packet waits for resolution; the request goes out; the reply releases it.
    node.handle_input(Instant::ZERO, ip, ip_packet_to(PEER));
    let req = ArpPacketView::parse(drain(&mut node)[0].packet.data())
        .unwrap()
        .to_owned();
    assert_eq!((req.oper, req.tpa), (1, PEER.octets()));
    let reply = ArpPacket {
        htype: 1,
        ptype: 0x0800,
        hlen: 6,
        plen: 4,
        oper: 2,
        sha: peer_mac,
        spa: PEER.octets(),
        tha: mine,
        tpa: ME.octets(),
    };
    let mut frame = Packet::from_slice(&[]);
    reply.push_onto(&mut frame).unwrap();
    node.handle_input(Instant::from_millis(1), wire, frame);
    assert!(
        drain(&mut node).is_empty(),
        "the released packet leaves on `link`, which is not connected here"
    );
    assert_eq!(node.stats().drops_for("unconnected port"), 1);
    assert_eq!(
        node.protocol(arp)
            .unwrap()
            .lookup(PEER, Instant::from_secs(1)),
        Some(peer_mac)
    );
    // A request for our address is answered.
    let ask = ArpPacket {
        oper: 1,
        tha: [0; 6],
        ..reply
    };
    let mut frame = Packet::from_slice(&[]);
    ask.push_onto(&mut frame).unwrap();
    node.handle_input(Instant::from_millis(2), wire, frame);
    let out = drain(&mut node);
    let answer = ArpPacketView::parse(out[0].packet.data())
        .unwrap()
        .to_owned();
    assert_eq!((answer.oper, answer.sha, answer.tha), (2, mine, peer_mac));
    assert_eq!(out[0].packet.meta().link_dst, Some(peer_mac));
    // Entries expire after their lifetime.
    node.handle_timeout(Instant::from_secs(61));
    assert_eq!(
        node.protocol(arp)
            .unwrap()
            .lookup(PEER, Instant::from_secs(61)),
        None
    );
    let _ = SocketAddr::from((ME, 0));
}

/// A router between 10.78.1.0/24 (interface 0, device "left") and 10.78.2.0/24
/// (interface 1, device "right", MTU `right_mtu`).
fn two_port_router(right_mtu: usize) -> (Node, DeviceId, DeviceId) {
    let mut config = Ipv4Config::router(
        vec![
            Interface {
                addr: Ipv4Addr::new(10, 78, 1, 2),
                prefix_len: 24,
                mtu: 1500,
            },
            Interface {
                addr: Ipv4Addr::new(10, 78, 2, 2),
                prefix_len: 24,
                mtu: 1500,
            },
        ],
        vec![],
    );
    config.set_mtu(1, right_mtu).unwrap();
    let mut node = Node::new(NodeId(3));
    let r = node.add(Ipv4::new(config));
    let left = node.add_device("left", DeviceKind::Frame);
    let right = node.add_device("right", DeviceKind::Frame);
    node.attach(left, r.port(Ipv4Port::Lower(0))).unwrap();
    node.attach(right, r.port(Ipv4Port::Lower(1))).unwrap();
    node.start(Instant::ZERO);
    (node, left, right)
}

#[test]
fn fragmentation_needed_comes_from_the_interface_the_datagram_came_in_on() {
    let (mut node, left, _) = two_port_router(1000);
    let sender = Ipv4Addr::new(10, 78, 1, 1);
    let mut big = datagram(sender, Ipv4Addr::new(10, 78, 2, 1), 9, &[7; 1380], &[]);
    {
        let mut v = Ipv4HeaderView::parse(&mut big[..]).unwrap();
        v.set_flags(FLAG_DF);
        v.fill_checksum();
    }
    node.handle_input(Instant::ZERO, left, Packet::from_slice(&big));
    let out = drain(&mut node);
    assert_eq!(out.len(), 1, "only the error leaves");
    assert_eq!(
        out[0].device, left,
        "back out of the interface it came in on"
    );
    let ip = Ipv4HeaderView::parse(out[0].packet.data()).unwrap();
    assert_eq!(
        Ipv4Addr::from(ip.src()),
        Ipv4Addr::new(10, 78, 1, 2),
        "RFC 1812 §4.3.2.4: an address of the interface the error leaves by"
    );
    assert_eq!(Ipv4Addr::from(ip.dst()), sender);
    let icmp = IcmpHeaderView::parse(ip.payload()).unwrap();
    assert_eq!(
        (icmp.icmp_type(), icmp.code()),
        (icmp::DEST_UNREACHABLE, icmp::CODE_FRAG_NEEDED)
    );
    assert_eq!(
        u16::from_be_bytes([icmp.rest()[2], icmp.rest()[3]]),
        1000,
        "the next-hop MTU set with set_mtu"
    );
    assert_eq!(
        ip.total_len(),
        576,
        "as much of the datagram as fits in 576"
    );
    let quote = icmp.payload();
    assert_eq!(quote.len(), icmp::MAX_ERROR_QUOTE);
    assert_eq!(&quote[20..], &big[20..icmp::MAX_ERROR_QUOTE]);
    assert!(icmp.verify_checksum());
    assert_eq!(node.stats().drops_for("fragmentation needed but DF set"), 1);
}

#[test]
fn icmp_errors_quote_as_much_as_fits_in_576_bytes() {
    let (mut node, left, _) = two_port_router(1500);
    let sender = Ipv4Addr::new(10, 78, 1, 1);
    for (len, quoted) in [(1000usize, icmp::MAX_ERROR_QUOTE), (100, 100), (549, 548)] {
        let mut d = datagram(
            sender,
            Ipv4Addr::new(10, 78, 2, 1),
            10,
            &vec![5; len - 20],
            &[],
        );
        {
            let mut v = Ipv4HeaderView::parse(&mut d[..]).unwrap();
            v.set_ttl(1);
            v.fill_checksum();
        }
        node.handle_input(Instant::ZERO, left, Packet::from_slice(&d));
        let out = drain(&mut node);
        assert_eq!(out.len(), 1);
        let ip = Ipv4HeaderView::parse(out[0].packet.data()).unwrap();
        assert!(usize::from(ip.total_len()) <= 576);
        let icmp = IcmpHeaderView::parse(ip.payload()).unwrap();
        assert_eq!(icmp.icmp_type(), icmp::TIME_EXCEEDED);
        assert_eq!(icmp.payload(), &d[..quoted], "a {len}-byte datagram");
    }
}

#[test]
fn set_mtu_refuses_what_ipv4_cannot_carry() {
    let mut config = Ipv4Config::host(
        Interface {
            addr: ME,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    );
    assert_eq!(config.set_mtu(0, 67), Err(MtuError::OutOfRange(67)));
    assert_eq!(config.set_mtu(0, 65536), Err(MtuError::OutOfRange(65536)));
    assert_eq!(config.set_mtu(1, 1400), Err(MtuError::NoSuchInterface(1)));
    assert_eq!(config.set_mtu(0, 68), Ok(()));
    assert_eq!(config.interfaces[0].mtu, 68);
}

/// An ARP instance whose `link` port leads to a third device, to see released packets.
fn arp_node_with_link(config: ArpConfig) -> (Node, DeviceId, DeviceId, DeviceId, Handle<Arp>) {
    let mut node = Node::new(NodeId(0));
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("arp-wire", DeviceKind::Frame);
    let ip = node.add_device("ip-side", DeviceKind::Frame);
    let link = node.add_device("link", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.attach(ip, arp.port(ArpPort::Ip)).unwrap();
    node.attach(link, arp.port(ArpPort::Link)).unwrap();
    node.start(Instant::ZERO);
    (node, wire, ip, link, arp)
}

fn arp_frame(oper: u16, sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Packet {
    let arp = ArpPacket {
        htype: 1,
        ptype: 0x0800,
        hlen: 6,
        plen: 4,
        oper,
        sha,
        spa: spa.octets(),
        tha: [0; 6],
        tpa: tpa.octets(),
    };
    let mut frame = Packet::from_slice(&[]);
    arp.push_onto(&mut frame).unwrap();
    frame
}

#[test]
fn arp_holds_a_whole_65000_byte_datagram_for_a_neighbour_being_resolved() {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    let (mut node, wire, ip, link, arp) = arp_node_with_link(config);
    // The kernel's 65,000-byte ping: 65,008 bytes of ICMP in 44 fragments (more than
    // the 16 packets the queue used to hold).
    let ping = datagram(ME, PEER, 11, &[9; 65_008], &[]);
    let frags = fragments_of(&ping, 1500);
    assert_eq!(frags.len(), 44);
    for f in &frags {
        let mut pkt = Packet::from_slice(f);
        pkt.meta_mut().next_hop = Some(IpAddr::V4(PEER));
        node.handle_input(Instant::ZERO, ip, pkt);
    }
    assert_eq!(node.stats().total_drops(), 0, "{:?}", node.stats().drops);
    let queued: usize = frags.iter().map(Vec::len).sum();
    assert!(queued > 64 * 1024);
    assert_eq!(node.protocol(arp).unwrap().queued_bytes(), queued);
    assert_eq!(drain(&mut node).len(), 1, "one request");
    node.handle_input(
        Instant::from_millis(1),
        wire,
        arp_frame(2, [2, 0, 0, 0, 0, 1], PEER, ME),
    );
    let out = drain(&mut node);
    assert_eq!(out.len(), 44, "every fragment leaves once resolved");
    assert!(out.iter().all(|t| t.device == link));
    assert_eq!(node.protocol(arp).unwrap().queued_bytes(), 0);
}

#[test]
fn arp_queues_are_bounded_per_neighbour_and_in_total() {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    let one = ip_packet_to(PEER).len();
    config.queue_bytes = 10 * one;
    config.total_queue_bytes = 25 * one;
    let (mut node, _, ip, _, arp) = arp_node_with_link(config);
    for _ in 0..12 {
        node.handle_input(Instant::ZERO, ip, ip_packet_to(PEER));
    }
    assert_eq!(node.stats().drops_for("arp queue full"), 2);
    for n in 0..20u8 {
        node.handle_input(
            Instant::ZERO,
            ip,
            ip_packet_to(Ipv4Addr::new(10, 0, 0, 100 + n)),
        );
    }
    assert_eq!(
        node.stats().drops_for("arp queues full"),
        5,
        "25 packets in all"
    );
    assert_eq!(node.protocol(arp).unwrap().queued_bytes(), 25 * one);
    // Giving up releases the bytes.
    node.handle_timeout(Instant::from_secs(10));
    node.handle_timeout(Instant::from_secs(20));
    node.handle_timeout(Instant::from_secs(30));
    assert_eq!(node.protocol(arp).unwrap().queued_bytes(), 0);
    assert_eq!(node.protocol(arp).unwrap().pending_len(), 0);
    assert_eq!(node.stats().drops_for("arp unresolved"), 25);
}

#[test]
fn the_arp_cache_is_bounded_and_evicts_the_least_recently_learned() {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    config.cache_limit = 4;
    let (mut node, wire, _, _, arp) = arp_node_with_link(config);
    for n in 1..=6u8 {
        let sender = Ipv4Addr::new(10, 0, 0, 100 + n);
        node.handle_input(
            Instant::from_millis(u64::from(n)),
            wire,
            arp_frame(1, [2, 0, 0, 0, 1, n], sender, ME),
        );
        if n == 4 {
            // Hearing from .101 again makes it the most recently learned.
            node.handle_input(
                Instant::from_millis(5),
                wire,
                arp_frame(1, [2, 0, 0, 0, 1, 1], Ipv4Addr::new(10, 0, 0, 101), ME),
            );
        }
    }
    drain(&mut node);
    let a = node.protocol(arp).unwrap();
    assert_eq!(a.cache_len(), 4);
    assert_eq!(node.stats().counter_total("arp cache evictions"), 2);
    let now = Instant::from_secs(1);
    assert_eq!(a.lookup(Ipv4Addr::new(10, 0, 0, 102), now), None);
    assert_eq!(a.lookup(Ipv4Addr::new(10, 0, 0, 103), now), None);
    for n in [1u8, 4, 5, 6] {
        assert_eq!(
            a.lookup(Ipv4Addr::new(10, 0, 0, 100 + n), now),
            Some([2, 0, 0, 0, 1, n])
        );
    }
}
