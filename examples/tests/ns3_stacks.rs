//! The example experiments and mixed stacks inside ns-3 (`--features ns3`): the same
//! `pinghost` and `router` sources as on the simulator and Linux; a VIPE host pinging a
//! node that runs ns-3's own Internet stack; a VIPE UDP client against ns-3's
//! `UdpEchoServer`; VIPE datagram protocols on ns-3 UDP sockets. Every pcap comes from
//! ns-3's tracing and goes through tshark.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;

use vipe_examples::overlay::{DatagramEcho, DatagramEchoPort, DatagramPing, DatagramPingPort};
use vipe_platforms::ns3::{CsmaConfig, Host, Ipv4Setup, Ns3World};
use vipe_protocols::apps::{
    PingOutcome, Pinger, PingerConfig, PingerPort, UdpClient, UdpClientConfig, UdpClientPort,
    UdpEvent,
};
use vipe_protocols::icmp::IcmpPort;
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::udp::UdpPort;
use vipe_rt::prelude::*;

const VIPE: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const NATIVE: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const VIPE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const NATIVE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ns3")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// tshark with checksum validation: no malformed frame, no bad checksum, no error.
/// Returns the number of frames matching `filter`.
fn tshark_clean(pcap: &Path, filter: &str) -> usize {
    let run = |display: &str| {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(pcap)
            .args([
                "-o",
                "ip.check_checksum:TRUE",
                "-o",
                "udp.check_checksum:TRUE",
                "-Y",
                display,
            ])
            .output()
            .unwrap_or_else(|e| {
                panic!("tshark is needed to check pcaps ({e}); install it: apt-get install tshark")
            });
        assert!(
            out.status.success(),
            "tshark failed on {}: {}",
            pcap.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let flagged = run(
        "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 \
                       || icmp.checksum.status == 0 || _ws.expert.severity == error",
    );
    assert!(
        flagged.trim().is_empty(),
        "tshark flags frames in {}:\n{flagged}",
        pcap.display()
    );
    run(filter).lines().count()
}

fn run_bin(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{bin} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn router_example_pings_across_a_vipe_router_in_ns3() {
    let dir = scratch("router");
    let out = run_bin(
        env!("CARGO_BIN_EXE_router"),
        &["--pcap-dir", dir.to_str().unwrap()],
    );
    assert!(out.starts_with("router on ns3"), "{out}");
    assert!(out.contains("forwarded 12 datagrams"), "{out}");
    assert!(
        out.contains("host 0: 3 of 3 pings across answered"),
        "{out}"
    );
    assert!(
        out.contains("host 1: 3 of 3 pings across answered"),
        "{out}"
    );
    for side in ["router-if0", "router-if1"] {
        let pcap = dir.join(format!("{side}.pcap"));
        assert_eq!(tshark_clean(&pcap, "icmp.type == 8"), 6, "{side}");
        assert_eq!(tshark_clean(&pcap, "icmp.type == 0"), 6, "{side}");
        assert!(tshark_clean(&pcap, "arp.opcode == 2") >= 1, "{side}");
    }
}

#[test]
fn pinghost_example_runs_in_ns3_with_fragments_and_reproducible_pcaps() {
    let mut pcaps = Vec::new();
    for run in ["a", "b"] {
        let dir = scratch(&format!("pinghost-{run}"));
        let out = run_bin(
            env!("CARGO_BIN_EXE_pinghost"),
            &["--size", "3000", "--pcap-dir", dir.to_str().unwrap()],
        );
        assert!(out.starts_with("pinghost on ns3"), "{out}");
        assert!(out.contains("5 of 5 answered"), "{out}");
        assert!(!out.contains("intact=false"), "{out}");
        let pcap = dir.join("local.pcap");
        // Both twins ping 5 times: 3000 bytes over a 1500-byte MTU is three fragments
        // (two with more-fragments set) per request and per reply.
        assert_eq!(tshark_clean(&pcap, "ip.flags.mf == 1"), 2 * 2 * 10);
        assert_eq!(tshark_clean(&pcap, "icmp.type == 0"), 10);
        pcaps.push(std::fs::read(pcap).unwrap());
    }
    // Same seed, same bytes.
    assert_eq!(pcaps[0], pcaps[1]);
}

/// A world with one VIPE host and one native ns-3 host (Internet stack) on a LAN.
fn mixed_lan(dir: &Path) -> (Ns3World, NodeId, stack::HostStack) {
    let mut world = Ns3World::new(21).unwrap();
    let v = world.add_node();
    let n = world.add_native_node();
    let lan = world
        .csma_channel(CsmaConfig::default().delay(Duration::from_micros(50)))
        .unwrap();
    let dv = world.attach_csma(v, lan, VIPE_MAC).unwrap();
    let dn = world
        .ipv4_interface(
            n,
            lan,
            NATIVE_MAC,
            Ipv4Setup {
                addr: NATIVE,
                prefix_len: 24,
                gateway: None,
            },
        )
        .unwrap();
    world.udp_echo_server(n, 9).unwrap();
    world.capture(dn, dir.join("native.pcap")).unwrap();
    world.capture(dv.net_device, dir.join("vipe.pcap")).unwrap();
    let iface = Interface {
        addr: VIPE,
        prefix_len: 24,
        mtu: 1500,
    };
    let host = stack::host(world.node_mut(v).unwrap(), dv.device, VIPE_MAC, iface, None).unwrap();
    (world, v, host)
}

#[test]
fn vipe_host_pings_a_node_running_ns3s_internet_stack() {
    let dir = scratch("mixed-ping");
    let (mut world, v, host) = mixed_lan(&dir);
    let node = world.node_mut(v).unwrap();
    let pinger = node.add(Pinger::new(PingerConfig {
        target: NATIVE,
        count: 4,
        interval: Duration::from_millis(100),
        payload: 56,
        ident: 0x77,
    }));
    node.connect(host.icmp.port(IcmpPort::App), pinger.port(PingerPort::Icmp))
        .unwrap();
    world.run_until(Instant::from_secs(1)).unwrap();
    let p = world.node(v).unwrap().protocol(pinger).unwrap();
    assert_eq!(p.replies(), 4, "{:?}", p.outcomes);
    assert!(
        p.outcomes
            .iter()
            .all(|o| matches!(o, PingOutcome::Reply { intact: true, .. })),
        "{:?}",
        p.outcomes
    );
    drop(world);
    let pcap = dir.join("native.pcap");
    // VIPE asked for ns-3's MAC and ns-3's ARP answered.
    assert_eq!(
        tshark_clean(&pcap, "arp.opcode == 2 && arp.src.proto_ipv4 == 10.1.0.1"),
        1
    );
    // ns-3's ICMP answered every echo request, from ns-3's MAC.
    assert_eq!(
        tshark_clean(&pcap, "icmp.type == 0 && eth.src == 02:00:00:00:00:01"),
        4
    );
    assert_eq!(tshark_clean(&dir.join("vipe.pcap"), "icmp.type == 8"), 4);
}

#[test]
fn vipe_udp_client_talks_to_ns3s_udp_echo_server() {
    let dir = scratch("mixed-udp");
    let (mut world, v, host) = mixed_lan(&dir);
    let server = SocketAddr::from((NATIVE, 9));
    // First small datagrams; then, with both ARP caches warm, datagrams that ns-3 must
    // reassemble and fragment again. (Sent at once, the three fragments of the first
    // big echo would wait behind the small one in ns-3's ARP queue, which holds three
    // packets: ns-3 drops the fourth, as its model says.)
    let phases = [(5000, 5, 64, 500), (5001, 3, 3000, 1000)];
    let mut clients = Vec::new();
    for (port, count, size, until_ms) in phases {
        let node = world.node_mut(v).unwrap();
        let client = node.add(UdpClient::new(UdpClientConfig {
            server,
            count,
            size,
            interval: Duration::from_millis(50),
        }));
        node.connect(
            host.udp.port(UdpPort::App(port)),
            client.port(UdpClientPort::Udp),
        )
        .unwrap();
        clients.push((client, count, size));
        world.run_until(Instant::from_millis(until_ms)).unwrap();
    }
    for (client, count, size) in clients {
        let events = &world.node(v).unwrap().protocol(client).unwrap().events;
        assert_eq!(events.len(), count as usize, "{size}-byte datagrams");
        for (n, event) in events.iter().enumerate() {
            let intact = *event
                == UdpEvent::Datagram {
                    from: server,
                    payload: UdpClient::payload(n as u32, size),
                };
            assert!(intact, "{size}-byte datagram {n} came back changed");
        }
    }
    drop(world);
    let pcap = dir.join("native.pcap");
    assert_eq!(tshark_clean(&pcap, "udp.srcport == 9"), 5 + 3);
    assert_eq!(
        tshark_clean(&pcap, "ip.flags.mf == 1 && ip.src == 10.1.0.1"),
        3 * 2
    );
}

#[test]
fn datagram_protocols_run_on_ns3_udp_sockets() {
    let mut world = Ns3World::new(5).unwrap();
    let (a, b) = (world.add_node(), world.add_node());
    let n = world.add_native_node();
    let lan = world
        .csma_channel(CsmaConfig::default().delay(Duration::from_millis(1)))
        .unwrap();
    let addr = |i: u8| Ipv4Addr::new(10, 2, 0, i);
    for (host, i) in [(Host::from(a), 1), (Host::from(b), 2), (Host::from(n), 3)] {
        world
            .ipv4_interface(
                host,
                lan,
                [2, 0, 0, 0, 2, i],
                Ipv4Setup {
                    addr: addr(i),
                    prefix_len: 24,
                    gateway: None,
                },
            )
            .unwrap();
    }
    world.udp_echo_server(n, 7).unwrap();
    let ua = world
        .udp_socket(a, SocketAddrV4::new(addr(1), 4000))
        .unwrap();
    let ua2 = world.udp_socket(a, SocketAddrV4::new(addr(1), 0)).unwrap();
    let ub = world
        .udp_socket(b, SocketAddrV4::new(addr(2), 4000))
        .unwrap();
    let node = world.node_mut(a).unwrap();
    let ping = node.add(DatagramPing::new(
        SocketAddr::from((addr(2), 4000)),
        10,
        Duration::from_millis(10),
    ));
    node.attach(ua, ping.port(DatagramPingPort::Net)).unwrap();
    // The same protocol against ns-3's own UdpEchoServer.
    let ping_native = node.add(DatagramPing::new(
        SocketAddr::from((addr(3), 7)),
        10,
        Duration::from_millis(10),
    ));
    node.attach(ua2, ping_native.port(DatagramPingPort::Net))
        .unwrap();
    let node = world.node_mut(b).unwrap();
    let echo = node.add(DatagramEcho::default());
    node.attach(ub, echo.port(DatagramEchoPort::Net)).unwrap();
    let run = world
        .run_until_done(Instant::from_secs(5), |view| {
            let node = view.node(a).unwrap();
            node.protocol(ping).unwrap().answered() == 10
                && node.protocol(ping_native).unwrap().answered() == 10
        })
        .unwrap();
    assert!(run.done && run.now < Instant::from_secs(1), "{run:?}");
    let node = world.node(a).unwrap();
    for p in [ping, ping_native] {
        let rtts = &node.protocol(p).unwrap().rtts;
        // Two crossings of a 1 ms segment at least; the two pingers share the segment
        // (CSMA holds it for the propagation delay after each frame), and ns-3's ARP,
        // with its random request jitter of up to 10 ms, adds to the first probes.
        assert!(
            rtts.iter()
                .flatten()
                .all(|rtt| *rtt >= Duration::from_millis(2) && *rtt < Duration::from_millis(50)),
            "{rtts:?}"
        );
    }
    assert_eq!(world.node(b).unwrap().protocol(echo).unwrap().answered, 10);
    assert_eq!(world.stats().datagrams_sent, 30);
    assert_eq!(world.stats().datagrams_received, 30);
}

/// The Chord of the simulator experiments, 64 nodes inside ns-3 on its UDP sockets over
/// one CSMA segment, ring built by protocol joins: lookups reach the right owners, and
/// the mean path length is the built-in simulator's at the same N (same identifiers)
/// within 0.2.
#[test]
fn chord_runs_on_ns3_udp_sockets_with_the_simulators_path_lengths() {
    use vipe_examples::chord::{self as ring_builder, RingConfig};
    use vipe_protocols::chord::{Chord, ChordConfig, ChordPort, Id, Peer, Workload};

    const N: usize = 64;
    let mut world = Ns3World::new(9).unwrap();
    // Chord talks to many peers at once: keep more than ns-3's 3 datagrams per
    // unresolved neighbour. A misspelt attribute is refused.
    world
        .set_default("ns3::ArpCache::PendingQueueSize", "1000")
        .unwrap();
    assert!(
        world
            .set_default("ns3::ArpCache::PendingQueueSise", "1")
            .is_err()
    );
    // One fast segment: ns-3's CSMA serialises every frame on the shared channel, and
    // at 100 Mbit/s 64 chatty nodes back off into second-long delays.
    let lan = world
        .csma_channel(
            CsmaConfig::default()
                .data_rate(10_000_000_000)
                .delay(Duration::from_micros(10)),
        )
        .unwrap();
    let addr = |i: usize| Ipv4Addr::new(10, 9, (i / 250) as u8, (i % 250 + 1) as u8);
    let workload = Workload {
        start: Duration::from_secs(120),
        count: 50,
        interval: Duration::from_millis(200),
        poisson: true,
        keys: 0,
    };
    let mut members = Vec::new();
    for i in 0..N {
        let id = world.add_node();
        world
            .ipv4_interface(
                Host::from(id),
                lan,
                [2, 0, 0, 0, (i >> 8) as u8, i as u8],
                Ipv4Setup {
                    addr: addr(i),
                    prefix_len: 16,
                    gateway: None,
                },
            )
            .unwrap();
        let socket = world
            .udp_socket(id, SocketAddrV4::new(addr(i), 4000))
            .unwrap();
        let me = SocketAddr::from((addr(i), 4000));
        let mut config = ChordConfig::new(me);
        config.successors = 1;
        config.stabilize = Duration::from_millis(500);
        config.fix_fingers = Duration::from_millis(250);
        // Joins one by one through node 0, 0.5 s apart.
        config.bootstrap = (i > 0).then(|| SocketAddr::from((addr(0), 4000)));
        config.join_after = Duration::from_millis(500 * i as u64);
        let node = world.node_mut(id).unwrap();
        let chord = node.add(Chord::new(config).with_workload(workload));
        node.attach(socket, chord.port(ChordPort::Net)).unwrap();
        members.push((id, chord, me));
    }
    // Joins end at 32 s; the lookups run from 120 s.
    let run = world.run_until(Instant::from_secs(150)).unwrap();
    assert!(!run.done, "the run went to its end: {run:?}");
    let mut ring: Vec<Peer> = members
        .iter()
        .map(|&(_, _, a)| Peer {
            id: Id::of_node(a, 0),
            addr: a,
        })
        .collect();
    ring.sort_unstable_by_key(|p| p.id);
    let mut hops = Vec::new();
    let (mut failed, mut timeouts) = (0, 0u32);
    for &(id, chord, _) in &members {
        let c = world.node(id).unwrap().protocol(chord).unwrap();
        assert_eq!(c.records.len(), 50);
        for r in &c.records {
            timeouts += u32::from(r.timeouts);
            let owner = vipe_protocols::chord::successor_in(&ring, r.target);
            match r.owner {
                Some(o) => {
                    assert_eq!(
                        o.id, owner.id,
                        "lookup of {} reached a wrong owner",
                        r.target
                    );
                    hops.push(f64::from(r.hops));
                }
                None => failed += 1,
            }
        }
    }
    // Timeouts happen here (ns-3's ARP and CSMA delay some answers past 500 ms); a
    // lookup may run out of live candidates, but none may end at a wrong owner.
    eprintln!(
        "chord in ns-3: {failed} of {} lookups failed, {timeouts} timeouts",
        N * 50
    );
    assert!(failed * 100 <= N * 50, "{failed} lookups failed");
    let ns3_mean = hops.iter().sum::<f64>() / hops.len() as f64;

    // The built-in simulator, same N, same identifiers' distribution (its own
    // addresses), converged ring, same number of lookups.
    let mut config = RingConfig::new(N as u32, 9);
    config.chord.successors = 1;
    let mut sim_ring = ring_builder::build(&config, Some(workload)).unwrap();
    sim_ring.sim.run_until(Instant::from_secs(150));
    let records = sim_ring.records();
    let sim_mean = records.iter().map(|r| f64::from(r.hops)).sum::<f64>() / records.len() as f64;
    eprintln!("chord N={N}: mean path ns-3 {ns3_mean:.3}, built-in simulator {sim_mean:.3}");
    assert!(
        (ns3_mean - sim_mean).abs() < 0.2,
        "ns-3 {ns3_mean} vs sim {sim_mean}"
    );
}

/// The Pastry of the simulator experiments, 64 nodes inside ns-3 on its UDP sockets over
/// one CSMA segment, joining one by one: every node routes a message to every node's
/// identifier, each is delivered to the node numerically closest to it, and the mean
/// hop count is the built-in simulator's at the same N within 0.25.
#[test]
fn pastry_runs_on_ns3_udp_sockets_with_the_simulators_hop_counts() {
    use vipe_examples::pastry::{self as net_builder, NetConfig};
    use vipe_protocols::pastry::{Id, Pastry, PastryConfig, PastryPort, Workload};

    const N: usize = 64;
    let mut world = Ns3World::new(12).unwrap();
    world
        .set_default("ns3::ArpCache::PendingQueueSize", "1000")
        .unwrap();
    // Every node routes to the same key at once in this test: the node of that key
    // answers 64 at a time, more than ns-3's default device queue of 100 packets.
    world
        .set_default("ns3::DropTailQueue<Packet>::MaxSize", "10000p")
        .unwrap();
    // A joining node asks ~30 nodes for their state at once (~5 KB each): more than
    // ns-3's default 128 KiB socket receive buffer, which drops the overflow silently.
    world
        .set_default("ns3::UdpSocket::RcvBufSize", "4194304")
        .unwrap();
    let lan = world
        .csma_channel(
            CsmaConfig::default()
                .data_rate(10_000_000_000)
                .delay(Duration::from_micros(10)),
        )
        .unwrap();
    let addr = |i: usize| Ipv4Addr::new(10, 12, 0, (i + 1) as u8);
    let addrs: Vec<SocketAddr> = (0..N).map(|i| SocketAddr::from((addr(i), 5000))).collect();
    let keys: Vec<Id> = addrs.iter().map(|a| Id::of_addr(*a)).collect();
    let workload = Workload {
        routes: keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                (
                    Duration::from_secs(60) + Duration::from_millis(20 * k as u64),
                    *key,
                )
            })
            .collect(),
    };
    let mut members = Vec::new();
    for (i, &me) in addrs.iter().enumerate() {
        let id = world.add_node();
        world
            .ipv4_interface(
                Host::from(id),
                lan,
                [2, 0, 0, 0, 1, i as u8],
                Ipv4Setup {
                    addr: addr(i),
                    prefix_len: 16,
                    gateway: None,
                },
            )
            .unwrap();
        let socket = world
            .udp_socket(id, SocketAddrV4::new(addr(i), 5000))
            .unwrap();
        let mut config = PastryConfig::new(me);
        // ns-3's CSMA and ARP lose a datagram now and then: leaf sets are exchanged
        // every 2 s, as on a real network, so a lost announcement is made good.
        config.leaf_keepalive = Duration::from_secs(2);
        // Joins one by one, 0.5 s apart, each through a node already in.
        config.bootstrap = (i > 0).then(|| addrs[i / 2]);
        config.join_after = Duration::from_millis(500 * i as u64);
        let node = world.node_mut(id).unwrap();
        let pastry = node.add(Pastry::new(config).with_workload(workload.clone()));
        node.attach(socket, pastry.port(PastryPort::Net)).unwrap();
        members.push((id, pastry));
    }
    let run = world.run_until(Instant::from_secs(75)).unwrap();
    assert!(!run.done, "the run went to its end: {run:?}");
    let closest = |key: Id| {
        *keys
            .iter()
            .min_by(|a, b| {
                key.ring_distance(**a)
                    .cmp(&key.ring_distance(**b))
                    .then(a.cmp(b))
            })
            .unwrap()
    };
    let mut hops = Vec::new();
    for &(id, pastry) in &members {
        let p = world.node(id).unwrap().protocol(pastry).unwrap();
        assert!(p.joined());
        // A message whose hop acknowledgement was lost is routed on twice; each copy
        // is delivered (and reported): every message at least once, all correctly.
        let mut tags: Vec<u32> = p.records.iter().map(|r| r.tag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), N, "every message delivered");
        if p.records.len() > N {
            eprintln!(
                "pastry in ns-3: {} messages delivered twice",
                p.records.len() - N
            );
        }
        for r in &p.records {
            assert_eq!(r.node.id, closest(r.key), "delivered to the closest node");
            hops.push(f64::from(r.hops));
        }
    }
    let ns3_mean = hops.iter().sum::<f64>() / hops.len() as f64;

    // The built-in simulator: N nodes joined one by one, every node routing to every id.
    let config = NetConfig::new(N as u32, 12);
    let peers = config.peers();
    let start = config.ready_at();
    let mut net = net_builder::build(
        &config,
        |_| {
            peers
                .iter()
                .enumerate()
                .map(|(k, p)| (start + Duration::from_millis(20 * k as u64), p.id))
                .collect()
        },
        |_| {},
    )
    .unwrap();
    net.sim.run_until(start + Duration::from_secs(10));
    let records = net.take_records();
    assert_eq!(records.len(), N * N);
    let sim_mean =
        records.iter().map(|(_, r)| f64::from(r.hops)).sum::<f64>() / records.len() as f64;
    eprintln!("pastry N={N}: mean hops ns-3 {ns3_mean:.3}, built-in simulator {sim_mean:.3}");
    assert!(
        (ns3_mean - sim_mean).abs() < 0.25,
        "ns-3 {ns3_mean} vs sim {sim_mean}"
    );
}
