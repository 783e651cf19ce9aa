//! Router forwarding cost: one frame through a VIPE router node (Ethernet, ARP, IPv4
//! with TTL decrement and incremental checksum, out again), and a UDP flood from A to B
//! through R in the simulator, per forwarded packet.
//! `cargo bench -p vipe-examples --bench router`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant as WallClock;

use criterion::{Criterion, criterion_group, criterion_main};
use vipe_platforms::sim::{LinkConfig, Simulator};
use vipe_protocols::apps::{UdpClient, UdpClientConfig, UdpClientPort, UdpEcho, UdpEchoPort};
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::udp::UdpPort;
use vipe_protocols::wire::{ArpPacket, EthernetHeader, Ipv4Header, UdpHeader};
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options};

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

fn frame(eth: EthernetHeader, body: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut buf = vec![0u8; 14];
    body(&mut buf);
    eth.emit(&mut buf).unwrap();
    buf
}

fn node_forwarding(c: &mut Criterion) {
    let mut node = Node::new(NodeId(0));
    let d0 = node.add_device("eth0", DeviceKind::Frame);
    let d1 = node.add_device("eth1", DeviceKind::Frame);
    stack::router(
        &mut node,
        &[(d0, mac(1), iface(R1)), (d1, mac(2), iface(R2))],
        vec![],
    )
    .unwrap();
    node.start(Instant::ZERO);
    // B announces itself so the router knows its MAC.
    let arp = frame(
        EthernetHeader {
            dst: mac(2),
            src: mac(0xb),
            ethertype: 0x0806,
        },
        |buf| {
            let reply = ArpPacket {
                htype: 1,
                ptype: 0x0800,
                hlen: 6,
                plen: 4,
                oper: 2,
                sha: mac(0xb),
                spa: B.octets(),
                tha: mac(2),
                tpa: R2.octets(),
            };
            buf.resize(14 + 28, 0);
            reply.emit(&mut buf[14..]).unwrap();
        },
    );
    node.handle_input(Instant::ZERO, d1, Packet::from_slice(&arp));
    while node.poll_transmit().is_some() {}
    let udp = frame(
        EthernetHeader {
            dst: mac(1),
            src: mac(0xa),
            ethertype: 0x0800,
        },
        |buf| {
            buf.resize(14 + 20 + 8 + 64, 0x5a);
            UdpHeader {
                src_port: 4000,
                dst_port: 5000,
                length: 0,
                checksum: 0,
            }
            .emit(&mut buf[34..])
            .unwrap();
            let ip = Ipv4Header {
                version: 4,
                ihl: 5,
                tos: 0,
                total_len: 0,
                ident: 1,
                flags: 0,
                frag_offset: 0,
                ttl: 64,
                protocol: 17,
                checksum: 0,
                src: A.octets(),
                dst: B.octets(),
                options: Options::EMPTY,
            };
            ip.emit(&mut buf[14..]).unwrap();
        },
    );
    c.bench_function("router node: forward one 106-byte frame", |b| {
        b.iter(|| {
            let mut pkt = node.pool().alloc();
            pkt.put_slice(black_box(&udp));
            node.handle_input(Instant::ZERO, d0, pkt);
            let out = node.poll_transmit().expect("forwarded");
            black_box(out.packet.len())
        })
    });
}

/// A UDP flood from A through R to B in the simulator; returns (datagrams forwarded by R,
/// wall seconds).
fn flood(count: u32) -> (u64, f64) {
    let mut sim = Simulator::new(1);
    let (a, r, b) = (sim.add_node(), sim.add_node(), sim.add_node());
    let link = LinkConfig::default()
        .latency(Duration::from_micros(10))
        .bandwidth_bps(10_000_000_000)
        .queue_limit(100_000);
    let left = sim.link(a, r, link).unwrap();
    let right = sim.link(r, b, link).unwrap();
    let a_stack = stack::host(
        sim.node_mut(a).unwrap(),
        left.a.device,
        mac(0xa),
        iface(A),
        Some(R1),
    )
    .unwrap();
    stack::router(
        sim.node_mut(r).unwrap(),
        &[
            (left.b.device, mac(1), iface(R1)),
            (right.a.device, mac(2), iface(R2)),
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
    let node_a = sim.node_mut(a).unwrap();
    let client = node_a.add(UdpClient::new(UdpClientConfig {
        server: SocketAddr::from((B, 9)),
        count,
        size: 64,
        interval: Duration::from_micros(1),
    }));
    node_a
        .connect(
            a_stack.udp.port(UdpPort::App(4000)),
            client.port(UdpClientPort::Udp),
        )
        .unwrap();
    let node_b = sim.node_mut(b).unwrap();
    let sink = node_b.add(UdpEcho::default());
    node_b
        .connect(
            b_stack.udp.port(UdpPort::App(9)),
            sink.port(UdpEchoPort::Udp),
        )
        .unwrap();
    let start = WallClock::now();
    sim.run_until(Instant::from_secs(60));
    let secs = start.elapsed().as_secs_f64();
    let forwarded = sim
        .node(r)
        .unwrap()
        .stats()
        .counter_total("datagrams forwarded");
    (forwarded, secs)
}

fn sim_flood(c: &mut Criterion) {
    let (forwarded, secs) = flood(200_000);
    println!(
        "sim flood: {forwarded} datagrams forwarded by R (both ways, echoed) in {secs:.3} s wall: {:.0} ns per forwarded datagram, whole simulation",
        secs * 1e9 / forwarded as f64
    );
    let _ = c;
}

criterion_group!(benches, node_forwarding, sim_flood);
criterion_main!(benches);
