//! The bodies of VIPE's fuzz targets, shared by the `cargo fuzz` targets in
//! `protocols/fuzz` (nightly, libFuzzer) and by the corpus replay test in this crate
//! (stable, `cargo test`), so CI replays every committed corpus file through exactly the
//! code the fuzzer ran.
//!
//! Every stateful target reads its input as a **sequence of frames**, each a record
//! `[ctl][len: u16 BE][len bytes]` (a short last record takes what is left):
//! - `ctl & 0x80` — *repair*: before delivery the harness fixes the frame's lengths and
//!   checksums at every layer it recognises (Ethernet → 802.1Q → IPv4 → ICMP/UDP/TCP;
//!   [`repair_ethernet`], [`repair_ipv4`]), so mutated inputs pass the checksum checks
//!   and reach the handlers behind them (reassembly, ARP cache, ICMP errors, routing);
//! - `(ctl >> 4) & 7` — how far the clock moves before the frame ([`ADVANCE`]), so
//!   timers (ARP retries and expiry, reassembly timeouts, pings) fire between frames;
//! - `ctl & 0x0f` — a target-specific selector (which device or port the frame enters).
//!
//! After the last frame the clock runs on for ten minutes so every timer fires. A
//! target fails (panics) when a handler panicked (a node fault) or an invariant broke.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use vipe_protocols::apps::{Pinger, PingerConfig, PingerPort, UdpEcho, UdpEchoPort};
use vipe_protocols::arp::{Arp, ArpConfig, ArpPort};
use vipe_protocols::ethernet::{Ethernet, EthernetPort};
use vipe_protocols::icmp::{Icmp, IcmpPort};
use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port, Route};
use vipe_protocols::stack;
use vipe_protocols::udp::{Udp, UdpPort};
use vipe_rt::checksum;
use vipe_rt::prelude::*;

/// Clock steps a frame's `ctl` picks from: 0, 1 ms, 100 ms, 1 s, 5 s, 31 s, 61 s, 121 s
/// (the last ones pass the reassembly timeout and ARP entry lifetime).
pub const ADVANCE: [u64; 8] = [0, 1, 100, 1_000, 5_000, 31_000, 61_000, 121_000];

/// One frame of an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Fix lengths and checksums before delivery.
    pub repair: bool,
    /// Milliseconds the clock moves before delivery.
    pub advance_ms: u64,
    /// Target-specific selector, 0..16.
    pub selector: u8,
    /// The frame's bytes.
    pub bytes: Vec<u8>,
}

impl Frame {
    /// Encodes the frame as a record: `ctl`, a 2-byte length, the bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let step = ADVANCE
            .iter()
            .position(|&a| a >= self.advance_ms)
            .unwrap_or(ADVANCE.len() - 1) as u8;
        out.push(u8::from(self.repair) << 7 | step << 4 | (self.selector & 0x0f));
        let len = self.bytes.len().min(0xffff);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&self.bytes[..len]);
    }
}

/// Splits an input into its frames (see the crate docs for the record format).
pub fn frames(mut data: &[u8]) -> impl Iterator<Item = Frame> + '_ {
    std::iter::from_fn(move || {
        if data.len() < 3 {
            return None;
        }
        let ctl = data[0];
        let len = usize::from(u16::from_be_bytes([data[1], data[2]])).min(data.len() - 3);
        let bytes = data[3..3 + len].to_vec();
        data = &data[3 + len..];
        Some(Frame {
            repair: ctl & 0x80 != 0,
            advance_ms: ADVANCE[usize::from((ctl >> 4) & 7)],
            selector: ctl & 0x0f,
            bytes,
        })
    })
}

fn put_u16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Fixes the transport checksum (and UDP's length) of a whole, unfragmented transport
/// segment `seg` of IP protocol `protocol` between `src` and `dst`.
pub fn repair_transport(protocol: u8, src: [u8; 4], dst: [u8; 4], seg: &mut [u8]) {
    let Ok(len) = u16::try_from(seg.len()) else {
        return;
    };
    match protocol {
        1 if seg.len() >= 8 => {
            put_u16(seg, 2, 0);
            let sum = checksum::checksum(seg);
            put_u16(seg, 2, sum);
        }
        17 if seg.len() >= 8 => {
            put_u16(seg, 4, len);
            put_u16(seg, 6, 0);
            let pseudo = checksum::pseudo_header_v4(src, dst, 17, len);
            let sum = match !checksum::fold(checksum::add(pseudo, seg)) {
                0 => 0xffff,
                s => s,
            };
            put_u16(seg, 6, sum);
        }
        6 if seg.len() >= 20 => {
            put_u16(seg, 16, 0);
            let pseudo = checksum::pseudo_header_v4(src, dst, 6, len);
            let sum = !checksum::fold(checksum::add(pseudo, seg));
            put_u16(seg, 16, sum);
        }
        _ => {}
    }
}

/// Fixes an IPv4 datagram in place: version 4, a header length that fits, the total
/// length (the datagram is cut to 65,535 bytes), the header checksum, and — when it is
/// not a fragment — the transport checksum. Returns the datagram's repaired length.
pub fn repair_ipv4(ip: &mut [u8]) -> usize {
    if ip.len() < 20 {
        return ip.len();
    }
    let len = ip.len().min(0xffff);
    let ip = &mut ip[..len];
    let ihl = usize::from(ip[0] & 0x0f).clamp(5, len / 4);
    ip[0] = 0x40 | ihl as u8;
    put_u16(ip, 2, len as u16);
    put_u16(ip, 10, 0);
    let header_len = ihl * 4;
    let sum = checksum::checksum(&ip[..header_len]);
    put_u16(ip, 10, sum);
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if frag & 0x3fff == 0 {
        let (protocol, src, dst) = (
            ip[9],
            [ip[12], ip[13], ip[14], ip[15]],
            [ip[16], ip[17], ip[18], ip[19]],
        );
        repair_transport(protocol, src, dst, &mut ip[header_len..]);
    }
    len
}

/// Fixes an Ethernet frame in place: looks through one 802.1Q tag and repairs an IPv4
/// payload ([`repair_ipv4`]); an IPv4 datagram shorter than the frame (Ethernet padding)
/// keeps the padding outside its total length only if the fuzzer wrote it so.
pub fn repair_ethernet(frame: &mut [u8]) {
    if frame.len() < 14 {
        return;
    }
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes([frame[at], frame[at + 1]]);
    if ethertype == 0x8100 && frame.len() >= 18 {
        at += 4;
        ethertype = u16::from_be_bytes([frame[at], frame[at + 1]]);
    }
    if ethertype == 0x0800 {
        repair_ipv4(&mut frame[at + 2..]);
    }
}

/// A `prepare` that only repairs, with `repair`, the frames that ask for it.
fn repairing(repair: impl Fn(&mut [u8])) -> impl Fn(&mut Frame) {
    move |f: &mut Frame| {
        if f.repair {
            repair(&mut f.bytes);
        }
    }
}

/// What a stateful target ends with: no handler panicked.
fn check(node: &Node) {
    assert!(
        node.faults().is_empty(),
        "handler faults: {:?}",
        node.faults()
    );
}

fn drain(node: &mut Node) -> usize {
    std::iter::from_fn(|| node.poll_transmit()).count()
}

/// Feeds `data`'s frames to `node`: advances the clock, fires due timers, lets
/// `prepare` rewrite the frame (`repair` it when the frame asks), hands it to
/// `deliver`, sends what the node transmits nowhere. Then runs the clock on ten
/// minutes, in steps, so every timer fires.
fn drive(
    node: &mut Node,
    data: &[u8],
    prepare: impl Fn(&mut Frame),
    mut deliver: impl FnMut(&mut Node, Instant, u8, Packet),
) {
    let mut now = Instant::ZERO;
    for mut frame in frames(data) {
        now += Duration::from_millis(frame.advance_ms);
        node.handle_timeout(now);
        drain(node);
        prepare(&mut frame);
        deliver(node, now, frame.selector, Packet::from_slice(&frame.bytes));
        drain(node);
    }
    for _ in 0..20 {
        now += Duration::from_secs(30);
        node.handle_timeout(now);
        drain(node);
    }
    check(node);
}

/// The MAC of the peer every host-side target talks to (the capture's 10.0.0.1).
pub const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// The peer's address.
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The MAC of the node under test (the capture's 10.0.0.2, so captured frames from the
/// peer are addressed to it).
pub const MY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// The address of the node under test.
pub const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Ethernet alone: selector 0–7 a frame from the wire; 8–15 a packet from upper
/// protocol ARP (odd) or IPv4 (even) to the MAC in its first 6 bytes. Selector 15 also
/// toggles promiscuous mode; 14 joins the multicast group in the first 6 bytes.
pub fn ethernet_input(data: &[u8]) {
    let mut node = Node::new(NodeId(0));
    let eth = node.add(Ethernet::new(MY_MAC));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let ip = node.add_device("ip", DeviceKind::Frame);
    let arp = node.add_device("arp", DeviceKind::Frame);
    node.attach(wire, eth.port(EthernetPort::Lower)).unwrap();
    node.attach(ip, eth.port(EthernetPort::Upper(0x0800)))
        .unwrap();
    node.attach(arp, eth.port(EthernetPort::Upper(0x0806)))
        .unwrap();
    node.start(Instant::ZERO);
    drive(
        &mut node,
        data,
        repairing(repair_ethernet),
        |node, now, sel, mut pkt| {
            if sel < 8 {
                return node.handle_input(now, wire, pkt);
            }
            let mut mac = [0u8; 6];
            for (d, s) in mac.iter_mut().zip(pkt.data()) {
                *d = *s;
            }
            if let Some(e) = node.protocol_mut(eth) {
                match sel {
                    14 => e.join(mac),
                    15 => e.set_promiscuous(mac[0] & 1 == 1),
                    _ => {}
                }
            }
            let _ = pkt.pull(pkt.len().min(6));
            pkt.meta_mut().link_dst = Some(mac);
            node.handle_input(now, if sel & 1 == 1 { arp } else { ip }, pkt);
        },
    );
}

/// ARP alone, small queues and cache (so the bounds are hit): selector 0–7 an ARP
/// packet from the link; 8–15 an IPv4 packet from IPv4 to resolve, its next hop
/// 10.0.0.(its first byte % 8) (or broadcast for 0xff, multicast for 0xe0).
pub fn arp_input(data: &[u8]) {
    let mut node = Node::new(NodeId(0));
    let mut config = ArpConfig::new(MY_MAC, vec![ME]);
    config.queue_bytes = 4000;
    config.total_queue_bytes = 10_000;
    config.cache_limit = 4;
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("wire", DeviceKind::Frame);
    let ip = node.add_device("ip", DeviceKind::Frame);
    let link = node.add_device("link", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.attach(ip, arp.port(ArpPort::Ip)).unwrap();
    node.attach(link, arp.port(ArpPort::Link)).unwrap();
    node.start(Instant::ZERO);
    let repair = |b: &mut [u8]| {
        // An ARP packet for IPv4 over Ethernet: fix the fixed fields, keep addresses.
        if b.len() >= 8 {
            b[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
            b[6] = 0;
            b[7] = 1 + (b[7] & 1);
        }
    };
    drive(
        &mut node,
        data,
        repairing(repair),
        |node, now, sel, mut pkt| {
            if sel < 8 {
                return node.handle_input(now, wire, pkt);
            }
            let hop = match pkt.data().first() {
                Some(0xff) => Ipv4Addr::BROADCAST,
                Some(0xe0) => Ipv4Addr::new(224, 0, 0, 9),
                Some(b) => Ipv4Addr::new(10, 0, 0, b % 8),
                None => PEER,
            };
            pkt.meta_mut().next_hop = Some(IpAddr::V4(hop));
            node.handle_input(now, ip, pkt);
        },
    );
    let a = node.protocol(arp).unwrap();
    assert!(a.cache_len() <= 4, "cache beyond its bound");
    assert!(a.queued_bytes() <= 10_000, "queues beyond their bound");
}

/// IPv4 in router mode alone (ICMP above it): selector 0–7 a datagram arriving on
/// interface 0 (10.0.0.2/24, MTU 1500; the peer 10.0.0.1 is there), 8–15 on interface
/// 1 (10.0.1.2/24, MTU 576); a default route leaves by interface 1. Reassembly memory is
/// small, so its bound is hit.
pub fn ipv4_input(data: &[u8]) {
    let mut node = Node::new(NodeId(0));
    let mut config = Ipv4Config::router(
        vec![
            Interface {
                addr: ME,
                prefix_len: 24,
                mtu: 1500,
            },
            Interface {
                addr: Ipv4Addr::new(10, 0, 1, 2),
                prefix_len: 24,
                mtu: 576,
            },
        ],
        vec![Route {
            prefix: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            next_hop: Some(Ipv4Addr::new(10, 0, 1, 254)),
            iface: 1,
        }],
    );
    config.reassembly_limit = 16 * 1024;
    let ip = node.add(Ipv4::new(config));
    let icmp = node.add(Icmp::new());
    node.connect(ip.port(Ipv4Port::Upper(1)), icmp.port(IcmpPort::Ip))
        .unwrap();
    let devs = [
        node.add_device("if0", DeviceKind::Frame),
        node.add_device("if1", DeviceKind::Frame),
    ];
    node.attach(devs[0], ip.port(Ipv4Port::Lower(0))).unwrap();
    node.attach(devs[1], ip.port(Ipv4Port::Lower(1))).unwrap();
    node.start(Instant::ZERO);
    drive(
        &mut node,
        data,
        repairing(|b| {
            repair_ipv4(b);
        }),
        |node, now, sel, pkt| node.handle_input(now, devs[usize::from(sel >> 3)], pkt),
    );
    assert!(node.protocol(ip).unwrap().reassemblies() <= 16 * 1024 / 8);
}

/// UDP alone, with a UDP echo on ports 7 and 9000: selector 0–7 a UDP datagram from
/// IPv4 from 10.0.0.1 to 10.0.0.2 (6: to the broadcast address; 7: the IPv4 header
/// left in front, as for a rejected datagram); 8–11 an ICMP message from ICMP's
/// `errors(17)` port; 12–15 a payload from the application on port 7 to 10.0.0.1 at
/// the port in its first two bytes.
pub fn udp_input(data: &[u8]) {
    let mut node = Node::new(NodeId(0));
    let udp = node.add(Udp::new(ME));
    for port in [7, 9000] {
        let echo = node.add(UdpEcho::default());
        node.connect(udp.port(UdpPort::App(port)), echo.port(UdpEchoPort::Udp))
            .unwrap();
    }
    let ip = node.add_device("ip", DeviceKind::Frame);
    let icmp = node.add_device("icmp", DeviceKind::Frame);
    let reject = node.add_device("reject", DeviceKind::Frame);
    let app = node.add_device("app", DeviceKind::Frame);
    node.attach(ip, udp.port(UdpPort::Ip)).unwrap();
    node.attach(icmp, udp.port(UdpPort::Icmp)).unwrap();
    node.attach(reject, udp.port(UdpPort::Reject)).unwrap();
    // What an application on port 8 sends enters UDP's rx_app for port 8.
    node.attach(app, udp.port(UdpPort::App(8))).unwrap();
    node.start(Instant::ZERO);
    let repair = |b: &mut [u8]| repair_transport(17, PEER.octets(), ME.octets(), b);
    drive(
        &mut node,
        data,
        repairing(repair),
        |node, now, sel, mut pkt| {
            match sel {
                0..=7 => {
                    let dst = if sel == 6 { Ipv4Addr::BROADCAST } else { ME };
                    let meta = pkt.meta_mut();
                    meta.src = Some(SocketAddr::from((PEER, 0)));
                    meta.dst = Some(SocketAddr::from((dst, 0)));
                    if sel == 7 {
                        // A 20-byte IP header the UDP layer may push back on rejection.
                        meta.network_header_len = 20;
                        pkt.push(20).fill(0x45);
                        let _ = pkt.pull(20);
                    }
                    node.handle_input(now, ip, pkt);
                }
                8..=11 => node.handle_input(now, icmp, pkt),
                _ => {
                    let port = match pkt.data() {
                        [a, b, ..] => u16::from_be_bytes([*a, *b]),
                        _ => 7,
                    };
                    pkt.meta_mut().dst = Some(SocketAddr::from((PEER, port)));
                    node.handle_input(now, app, pkt);
                }
            }
        },
    );
}

/// The whole host of `stack::host` (Ethernet, ARP, IPv4, ICMP, UDP) at 10.0.0.2 on one
/// device, with a UDP echo on port 7 and a pinger sending 2000-byte pings (fragmented)
/// to the peer 10.0.0.1 every 700 ms: every frame enters on the wire (selector unused
/// but for bit 0, which when set rewrites the destination MAC to ours).
pub fn host_stack(data: &[u8]) {
    let mut node = Node::new(NodeId(0));
    let dev = node.add_device("eth0", DeviceKind::Frame);
    let iface = Interface {
        addr: ME,
        prefix_len: 24,
        mtu: 1500,
    };
    let host = stack::host(&mut node, dev, MY_MAC, iface, Some(PEER)).unwrap();
    let echo = node.add(UdpEcho::default());
    node.connect(host.udp.port(UdpPort::App(7)), echo.port(UdpEchoPort::Udp))
        .unwrap();
    let pinger = node.add(Pinger::new(PingerConfig {
        target: PEER,
        count: 5,
        interval: Duration::from_millis(700),
        payload: 2000,
        ident: 0x5650,
    }));
    node.connect(host.icmp.port(IcmpPort::App), pinger.port(PingerPort::Icmp))
        .unwrap();
    node.start(Instant::ZERO);
    drive(
        &mut node,
        data,
        repairing(repair_ethernet),
        |node, now, sel, mut pkt| {
            if sel & 1 == 1 && pkt.len() >= 6 {
                pkt.data_mut()[..6].copy_from_slice(&MY_MAC);
            }
            node.handle_input(now, dev, pkt);
        },
    );
}

/// The router of `stack::router` (two Ethernet interfaces with ARP, IPv4 forwarding,
/// ICMP): interface 0 is 10.0.0.2/24 at the capture's 02:00:00:00:00:02, interface 1
/// 10.0.1.2/24 with MTU 576, and a default route via 10.0.1.254. Selector bit 3 picks
/// the interface; bit 0 rewrites the destination MAC to the router's; bit 1 rewrites
/// the destination address to 10.0.1.(last byte), so the datagram is forwarded.
pub fn router_stack(data: &[u8]) {
    let mut node = Node::new(NodeId(0));
    let devs = [
        node.add_device("eth0", DeviceKind::Frame),
        node.add_device("eth1", DeviceKind::Frame),
    ];
    let macs = [MY_MAC, [2, 0, 0, 0, 1, 2]];
    let mut config = vec![
        (
            devs[0],
            macs[0],
            Interface {
                addr: ME,
                prefix_len: 24,
                mtu: 1500,
            },
        ),
        (
            devs[1],
            macs[1],
            Interface {
                addr: Ipv4Addr::new(10, 0, 1, 2),
                prefix_len: 24,
                mtu: 1500,
            },
        ),
    ];
    config[1].2.mtu = 576;
    let routes = vec![Route {
        prefix: Ipv4Addr::UNSPECIFIED,
        prefix_len: 0,
        next_hop: Some(Ipv4Addr::new(10, 0, 1, 254)),
        iface: 1,
    }];
    stack::router(&mut node, &config, routes).unwrap();
    node.start(Instant::ZERO);
    let prepare = |f: &mut Frame| {
        let b = &mut f.bytes;
        if f.selector & 1 == 1 && b.len() >= 6 {
            b[..6].copy_from_slice(&macs[usize::from(f.selector >> 3)]);
        }
        if f.selector & 2 == 2 && b.len() >= 34 && b[12..14] == [8, 0] {
            let last = b[33];
            b[30..34].copy_from_slice(&[10, 0, 1, last]);
        }
        if f.repair {
            repair_ethernet(b);
        }
    };
    drive(&mut node, data, prepare, |node, now, sel, pkt| {
        node.handle_input(now, devs[usize::from(sel >> 3)], pkt);
    });
}

/// A target's body: runs one input.
pub type Target = fn(&[u8]);

/// Every stateful target by name, for the replay test and the corpus builder.
pub const TARGETS: &[(&str, Target)] = &[
    ("ethernet_input", ethernet_input),
    ("arp_input", arp_input),
    ("ipv4_input", ipv4_input),
    ("udp_input", udp_input),
    ("host_stack", host_stack),
    ("router_stack", router_stack),
];
