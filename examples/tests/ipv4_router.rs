//! Hosts A (10.0.1.2/24) and B (10.0.2.2/24) on two subnets joined by router R running
//! VIPE IPv4 in router mode, in the simulator: ARP resolution, ping across, TTL expiry
//! answered by R, a 4000-byte UDP datagram fragmented over 1500-byte MTUs and
//! reassembled, a closed port answered by ICMP. Every link's pcap goes through tshark:
//! zero malformed packets, zero bad checksums.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use vipe_platforms::sim::{LinkConfig, Simulator};
use vipe_protocols::apps::{
    PingOutcome, Pinger, PingerConfig, PingerPort, UdpClient, UdpClientConfig, UdpClientPort,
    UdpEcho, UdpEchoPort, UdpEvent,
};
use vipe_protocols::icmp::IcmpPort;
use vipe_protocols::ipv4::{Interface, Ipv4};
use vipe_protocols::stack::{self, HostStack};
use vipe_protocols::udp::UdpPort;
use vipe_protocols::wire::icmp::{
    CODE_PORT_UNREACHABLE, CODE_TTL_EXCEEDED, DEST_UNREACHABLE, TIME_EXCEEDED,
};
use vipe_rt::prelude::*;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn iface(addr: Ipv4Addr) -> Interface {
    Interface {
        addr,
        prefix_len: 24,
        mtu: 1500,
    }
}

struct Scenario {
    sim: Simulator,
    a: NodeId,
    b: NodeId,
    r: NodeId,
    a_stack: HostStack,
    pcaps: Vec<PathBuf>,
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// Builds the topology; `a_ttl` is the TTL of A's own packets.
fn scenario(name: &str, a_ttl: u8) -> Scenario {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut sim = Simulator::new(11);
    let (a, r, b) = (sim.add_node(), sim.add_node(), sim.add_node());
    let link = LinkConfig::default()
        .latency(Duration::from_millis(2))
        .bandwidth_bps(100_000_000);
    let left = sim.link(a, r, link).unwrap();
    let right = sim.link(r, b, link).unwrap();
    let mut pcaps = Vec::new();
    for (label, end) in [
        ("a", left.a),
        ("r-left", left.b),
        ("r-right", right.a),
        ("b", right.b),
    ] {
        let path = dir.join(format!("{label}.pcap"));
        sim.capture(end.node, end.device, &path).unwrap();
        pcaps.push(path);
    }
    let a_stack = stack::host(
        sim.node_mut(a).unwrap(),
        left.a.device,
        mac(0xa),
        iface(A),
        Some(R1),
    )
    .unwrap();
    if a_ttl != 64 {
        let ip: &mut Ipv4 = sim.node_mut(a).unwrap().protocol_mut(a_stack.ipv4).unwrap();
        *ip = Ipv4::new(vipe_protocols::ipv4::Ipv4Config {
            ttl: a_ttl,
            ..vipe_protocols::ipv4::Ipv4Config::host(iface(A), Some(R1))
        });
    }
    stack::router(
        sim.node_mut(r).unwrap(),
        &[
            (left.b.device, mac(0x1), iface(R1)),
            (right.a.device, mac(0x2), iface(R2)),
        ],
        vec![],
    )
    .unwrap();
    let b_stack = stack::host(
        sim.node_mut(b).unwrap(),
        right.b.device,
        mac(0xb),
        iface(B),
        Some(R2),
    )
    .unwrap();
    // B runs a UDP echo server on port 7 and answers pings (its ICMP does).
    let node_b = sim.node_mut(b).unwrap();
    let echo = node_b.add(UdpEcho::default());
    node_b
        .connect(
            b_stack.udp.port(UdpPort::App(7)),
            echo.port(UdpEchoPort::Udp),
        )
        .unwrap();
    Scenario {
        sim,
        a,
        b,
        r,
        a_stack,
        pcaps,
    }
}

fn add_pinger(s: &mut Scenario, target: Ipv4Addr, count: u16, payload: usize) -> Handle<Pinger> {
    let node = s.sim.node_mut(s.a).unwrap();
    let pinger = node.add(Pinger::new(PingerConfig {
        target,
        count,
        interval: Duration::from_millis(100),
        payload,
        ident: 0x4242,
    }));
    node.connect(
        s.a_stack.icmp.port(IcmpPort::App),
        pinger.port(PingerPort::Icmp),
    )
    .unwrap();
    pinger
}

fn add_client(
    s: &mut Scenario,
    local_port: u16,
    server: SocketAddr,
    size: usize,
) -> Handle<UdpClient> {
    let node = s.sim.node_mut(s.a).unwrap();
    let client = node.add(UdpClient::new(UdpClientConfig {
        server,
        count: 1,
        size,
        interval: Duration::from_millis(100),
    }));
    node.connect(
        s.a_stack.udp.port(UdpPort::App(local_port)),
        client.port(UdpClientPort::Udp),
    )
    .unwrap();
    client
}

fn finish(s: &mut Scenario) {
    s.sim.run_until(Instant::from_secs(3));
    s.sim.stop().unwrap();
    for node in [s.a, s.r, s.b] {
        let n = s.sim.node(node).unwrap();
        assert!(
            n.faults().is_empty(),
            "node {node:?} had faults: {:?}",
            n.faults()
        );
    }
    for pcap in &s.pcaps {
        assert_wireshark_clean(pcap);
    }
}

/// tshark, with checksum validation on: no malformed frame, no bad checksum.
fn assert_wireshark_clean(pcap: &Path) {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
        .args(["-Y", "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || _ws.expert.severity == error"])
        .output()
        .unwrap_or_else(|e| panic!("tshark is needed to check our pcaps ({e}); install it: apt-get install tshark"));
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let flagged = String::from_utf8_lossy(&out.stdout);
    assert!(
        flagged.trim().is_empty(),
        "tshark flags frames in {}:\n{flagged}",
        pcap.display()
    );
    let all = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .output()
        .unwrap();
    assert!(!all.stdout.is_empty(), "{} has frames", pcap.display());
}

#[test]
fn ping_across_the_router_resolves_arp_and_gets_replies() {
    let mut s = scenario("ping", 64);
    let pinger = add_pinger(&mut s, B, 3, 56);
    finish(&mut s);
    let p = s.sim.node(s.a).unwrap().protocol(pinger).unwrap();
    assert_eq!(p.replies(), 3, "{:?}", p.outcomes);
    for o in &p.outcomes {
        let PingOutcome::Reply {
            rtt, intact, len, ..
        } = o
        else {
            panic!("{o:?}")
        };
        assert!(*intact && *len == 56);
        // Four 2 ms hops plus serialisation; the first also waits for two ARP exchanges.
        assert!(*rtt >= Duration::from_millis(8), "{rtt}");
    }
    let a_arp = s
        .sim
        .node(s.a)
        .unwrap()
        .protocol(s.a_stack.link.arp)
        .unwrap();
    assert_eq!(a_arp.lookup(R1, Instant::from_secs(1)), Some(mac(0x1)));
    let forwarded = s
        .sim
        .node(s.r)
        .unwrap()
        .stats()
        .counter_total("datagrams forwarded");
    assert_eq!(forwarded, 6);
}

#[test]
fn ttl_expiry_is_answered_by_the_router() {
    let mut s = scenario("ttl", 1);
    let pinger = add_pinger(&mut s, B, 1, 8);
    finish(&mut s);
    let p = s.sim.node(s.a).unwrap().protocol(pinger).unwrap();
    assert_eq!(
        p.outcomes,
        [PingOutcome::Error {
            from: R1,
            icmp_type: TIME_EXCEEDED,
            code: CODE_TTL_EXCEEDED
        }]
    );
}

#[test]
fn a_4000_byte_datagram_is_fragmented_and_reassembled_both_ways() {
    let mut s = scenario("fragments", 64);
    let client = add_client(&mut s, 40000, SocketAddr::from((B, 7)), 4000);
    finish(&mut s);
    let c = s.sim.node(s.a).unwrap().protocol(client).unwrap();
    assert_eq!(
        c.events,
        [UdpEvent::Datagram {
            from: SocketAddr::from((B, 7)),
            payload: UdpClient::payload(0, 4000)
        }]
    );
    let count = |node: NodeId, name: &str| s.sim.node(node).unwrap().stats().counter_total(name);
    assert_eq!(
        count(s.a, "fragments sent"),
        3,
        "4008 bytes of UDP over 1480-byte fragments"
    );
    assert_eq!(count(s.b, "datagrams reassembled"), 1);
    assert_eq!(count(s.a, "datagrams reassembled"), 1);
}

#[test]
fn a_closed_port_is_answered_with_icmp_port_unreachable() {
    let mut s = scenario("closed-port", 64);
    let client = add_client(&mut s, 40001, SocketAddr::from((B, 9999)), 32);
    finish(&mut s);
    let c = s.sim.node(s.a).unwrap().protocol(client).unwrap();
    assert_eq!(
        c.events,
        [UdpEvent::IcmpError {
            icmp_type: DEST_UNREACHABLE,
            code: CODE_PORT_UNREACHABLE
        }]
    );
}
