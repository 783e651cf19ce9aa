//! VIPE TCP in the simulator: 1 MB transfers arrive byte-exact across links that lose
//! 10%, duplicate 5% and reorder 5% of segments, over many seeds; a SYN flood leaves the
//! listener's memory bounded and the listener serving; the same seed gives the same run.
//!
//! Impairments are applied by a small protocol between IPv4 and TCP on each host (each
//! host impairs what it sends), so both directions see them.
//! `VIPE_TCP_SEEDS=1000 cargo test -p vipe-examples --release --test tcp_sim` runs the
//! full sweep; the default is the CI subset of 100 seeds.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use vipe_platforms::sim::{LinkConfig, Simulator};
use vipe_protocols::ipv4::Interface;
use vipe_protocols::ipv4::Ipv4Port;
use vipe_protocols::stack;
use vipe_protocols::tcp::{
    AppEvent, Conn, Segment, SeqNumber, Tcp, TcpApp, TcpOptions, TcpPort, TcpProtocolConfig,
};
use vipe_protocols::wire::ipv4::PROTO_TCP;
use vipe_protocols::wire::tcp::SYN;
use vipe_rt::prelude::*;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 80;

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 9)) as u8
}

/// Impairs segments going down (TCP → IPv4): loss, duplication, extra delay.
#[protocol]
struct Impair {
    loss: f64,
    dup: f64,
    reorder: f64,
    held: BTreeMap<u64, Packet>,
    next: u64,
    /// Segments TCP handed down marked for segmentation offload, and the largest
    /// segment size and IP-less length seen among them.
    offloaded: u64,
    gso_sizes: std::collections::BTreeSet<u16>,
    largest: usize,
}

#[protocol]
impl Impair {
    #[on_packet(port = "upper")]
    fn down(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let offload = pkt.meta().offload;
        if offload.gso != vipe_rt::gso::GsoKind::None {
            self.offloaded += 1;
            self.gso_sizes.insert(offload.gso_size);
            self.largest = self.largest.max(pkt.len());
        }
        if cx.rng().chance(self.loss) {
            return cx.drop_packet(pkt, "impair: lost");
        }
        if cx.rng().chance(self.dup) {
            cx.send(ImpairPort::Lower, pkt.duplicate());
        }
        if cx.rng().chance(self.reorder) {
            let id = self.next;
            self.next += 1;
            self.held.insert(id, pkt);
            let delay = Duration::from_millis(cx.rng().below(1, 30));
            cx.start_timer(ImpairTimer::Release(id), delay);
            return;
        }
        cx.send(ImpairPort::Lower, pkt);
    }

    #[on_packet(port = "lower")]
    fn up(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(ImpairPort::Upper, pkt);
    }

    #[on_timer]
    fn release(&mut self, cx: &mut Cx<Self>, id: u64) {
        if let Some(pkt) = self.held.remove(&id) {
            cx.send(ImpairPort::Lower, pkt);
        }
    }
}

/// Connects, sends `total` pattern bytes as the send buffer allows, closes.
#[protocol]
struct Sender {
    server: SocketAddrV4,
    total: usize,
    offset: usize,
    conn: Option<Conn>,
    closed: bool,
    done: bool,
    reset: bool,
    delay: Duration,
    last_len: usize,
}

impl Sender {
    fn push(&mut self, cx: &mut Cx<Self>, room: usize) {
        let Some(conn) = self.conn else { return };
        let n = room.min(self.total - self.offset).min(64 * 1024);
        if n > 0 {
            let mut pkt = cx.alloc();
            let bytes: Vec<u8> = (self.offset..self.offset + n).map(pattern).collect();
            pkt.put_slice(&bytes);
            self.offset += n;
            self.last_len = n;
            cx.send(SenderPort::Tcp, TcpApp::send(pkt, conn));
        }
        if self.offset == self.total && !self.closed {
            self.closed = true;
            let pkt = cx.alloc();
            cx.send(SenderPort::Tcp, TcpApp::close(pkt, conn));
        }
    }
}

#[protocol]
impl Sender {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_timer(SenderTimer::Connect, self.delay);
    }

    #[on_timer]
    fn connect(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(SenderPort::Tcp, TcpApp::connect(pkt, self.server));
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match TcpApp::event(&pkt) {
            Some(AppEvent::Connected(conn)) => self.conn = Some(conn),
            Some(AppEvent::Writable(_, room)) => self.push(cx, room),
            Some(AppEvent::Short(_, took)) => {
                // The last send was cut: take the rest back and wait for room.
                self.offset -= self.last_len - took;
                self.closed = false;
            }
            Some(AppEvent::Closed(_)) => self.done = true,
            Some(AppEvent::Reset(..)) => self.reset = true,
            _ => {}
        }
    }
}

/// Listens, collects what arrives, closes when the peer has.
#[protocol]
struct Receiver {
    received: Vec<u8>,
    eof: bool,
    eof_at: Instant,
    closed: bool,
    connections: u32,
}

#[protocol]
impl Receiver {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(ReceiverPort::Tcp, TcpApp::listen(pkt, PORT));
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match TcpApp::event(&pkt) {
            Some(AppEvent::Connected(_)) => self.connections += 1,
            Some(AppEvent::Data(_, bytes)) => self.received.extend_from_slice(&bytes),
            Some(AppEvent::Eof(conn)) => {
                self.eof = true;
                self.eof_at = cx.now();
                let pkt = cx.alloc();
                cx.send(ReceiverPort::Tcp, TcpApp::close(pkt, conn));
            }
            Some(AppEvent::Closed(_)) => self.closed = true,
            _ => {}
        }
    }
}

/// Between IPv4 and TCP on the attacker's host: passes the host's own traffic, and
/// injects SYNs to `target` from ports 1024..2047 (answers to those are swallowed, so
/// the half-open connections they create stay half-open).
#[protocol]
struct Flooder {
    target: Ipv4Addr,
    left: u32,
}

const FLOOD_PORTS: std::ops::Range<u16> = 1024..2048;

#[protocol]
impl Flooder {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_timer(FlooderTimer::Fire, Duration::from_millis(1));
    }

    #[on_timer]
    fn fire(&mut self, cx: &mut Cx<Self>) {
        for _ in 0..50 {
            if self.left == 0 {
                return;
            }
            self.left -= 1;
            let seg = Segment {
                src_port: FLOOD_PORTS.start + cx.rng().below(0, 1024) as u16,
                dst_port: PORT,
                seq: SeqNumber(cx.rng().u32()),
                flags: SYN,
                window: 65535,
                options: TcpOptions {
                    mss: Some(1460),
                    ..TcpOptions::default()
                },
                ..Segment::default()
            };
            let mut pkt = cx.alloc();
            pkt.put_slice(&seg.to_bytes(A, self.target, &[]));
            pkt.meta_mut().src = Some((A, seg.src_port).into());
            pkt.meta_mut().dst = Some((self.target, PORT).into());
            cx.send(FlooderPort::Lower, pkt);
        }
        cx.start_timer(FlooderTimer::Fire, Duration::from_millis(1));
    }

    #[on_packet(port = "upper")]
    fn down(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(FlooderPort::Lower, pkt);
    }

    #[on_packet(port = "lower")]
    fn up(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let dst_port = pkt
            .data()
            .get(2..4)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        if dst_port.is_some_and(|p| FLOOD_PORTS.contains(&p)) {
            return cx.drop_packet(pkt, "flooder swallows answers");
        }
        cx.send(FlooderPort::Upper, pkt);
    }
}

fn iface(addr: Ipv4Addr) -> Interface {
    Interface {
        addr,
        prefix_len: 24,
        mtu: 1500,
    }
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

struct Outcome {
    received: Vec<u8>,
    sender_done: bool,
    receiver_closed: bool,
    /// When the receiver saw the end of the stream.
    end: Instant,
    events: u64,
}

/// A host with TCP behind an impairment layer.
fn tcp_host(
    sim: &mut Simulator,
    node: NodeId,
    device: DeviceId,
    addr: Ipv4Addr,
    m: u8,
    impair: (f64, f64, f64),
) -> Handle<Tcp> {
    tcp_host_with(sim, node, device, addr, m, impair, 0).0
}

/// [`tcp_host`] with TCP segmentation offload up to `tso_max` bytes (0: off); also
/// returns the impairment layer, which counts the offloaded segments TCP sends.
fn tcp_host_with(
    sim: &mut Simulator,
    node: NodeId,
    device: DeviceId,
    addr: Ipv4Addr,
    m: u8,
    impair: (f64, f64, f64),
    tso_max: usize,
) -> (Handle<Tcp>, Handle<Impair>) {
    let n = sim.node_mut(node).unwrap();
    let host = stack::host(n, device, mac(m), iface(addr), None).unwrap();
    let mut config = TcpProtocolConfig::default();
    config.socket.tso_max = tso_max;
    let tcp = n.add(Tcp::new(addr, config));
    let imp = n.add(Impair {
        loss: impair.0,
        dup: impair.1,
        reorder: impair.2,
        held: BTreeMap::new(),
        next: 0,
        offloaded: 0,
        gso_sizes: Default::default(),
        largest: 0,
    });
    n.connect(
        host.ipv4.port(Ipv4Port::Upper(PROTO_TCP)),
        imp.port(ImpairPort::Lower),
    )
    .unwrap();
    n.connect(imp.port(ImpairPort::Upper), tcp.port(TcpPort::Ip))
        .unwrap();
    (tcp, imp)
}

fn transfer(seed: u64, total: usize, impair: (f64, f64, f64)) -> Outcome {
    transfer_with(seed, total, impair, 0, None).0
}

/// What the sender's impairment layer saw of offloaded segments: count, segment sizes,
/// largest length.
type Offloaded = (u64, Vec<u16>, usize);

/// [`transfer`] with the sender's TCP segmentation offload up to `tso_max` bytes, and a
/// capture of the sender's device at `capture`, if given.
fn transfer_with(
    seed: u64,
    total: usize,
    impair: (f64, f64, f64),
    tso_max: usize,
    capture: Option<&std::path::Path>,
) -> (Outcome, Offloaded) {
    let mut sim = Simulator::new(seed);
    let (a, b) = (sim.add_node(), sim.add_node());
    let link = LinkConfig::default()
        .latency(Duration::from_millis(5))
        .bandwidth_bps(100_000_000)
        .queue_limit(1000);
    let l = sim.link(a, b, link).unwrap();
    let (ta, imp_a) = tcp_host_with(&mut sim, a, l.a.device, A, 1, impair, tso_max);
    let tb = tcp_host(&mut sim, b, l.b.device, B, 2, impair);
    if let Some(path) = capture {
        sim.capture(a, l.a.device, path).unwrap();
    }
    let na = sim.node_mut(a).unwrap();
    let sender = na.add(Sender {
        server: SocketAddrV4::new(B, PORT),
        total,
        offset: 0,
        conn: None,
        closed: false,
        done: false,
        reset: false,
        delay: Duration::ZERO,
        last_len: 0,
    });
    na.connect(ta.port(TcpPort::App(1)), sender.port(SenderPort::Tcp))
        .unwrap();
    let nb = sim.node_mut(b).unwrap();
    let receiver = nb.add(Receiver {
        received: Vec::new(),
        eof: false,
        eof_at: Instant::ZERO,
        closed: false,
        connections: 0,
    });
    nb.connect(tb.port(TcpPort::App(1)), receiver.port(ReceiverPort::Tcp))
        .unwrap();
    let summary = sim.run_until_quiet(Instant::from_secs(3600));
    let s = sim.node(a).unwrap().protocol(sender).unwrap();
    let r = sim.node(b).unwrap().protocol(receiver).unwrap();
    assert!(!s.reset, "seed {seed}: the sender's connection was reset");
    let imp = sim.node(a).unwrap().protocol(imp_a).unwrap();
    let offloaded = (
        imp.offloaded,
        imp.gso_sizes.iter().copied().collect(),
        imp.largest,
    );
    let outcome = Outcome {
        received: r.received.clone(),
        sender_done: s.done,
        receiver_closed: r.closed,
        end: r.eof_at,
        events: summary.events,
    };
    sim.finish_captures().unwrap();
    (outcome, offloaded)
}

fn check(seed: u64, total: usize, impair: (f64, f64, f64)) -> Outcome {
    check_outcome(seed, total, transfer(seed, total, impair))
}

fn check_outcome(seed: u64, total: usize, o: Outcome) -> Outcome {
    assert_eq!(o.received.len(), total, "seed {seed}: length");
    if let Some(i) = o
        .received
        .iter()
        .enumerate()
        .position(|(i, b)| *b != pattern(i))
    {
        panic!("seed {seed}: byte {i} differs");
    }
    assert!(
        o.sender_done,
        "seed {seed}: the sender's connection did not close"
    );
    assert!(
        o.receiver_closed,
        "seed {seed}: the receiver's connection did not close"
    );
    o
}

#[test]
fn clean_link_transfer_is_exact() {
    let o = check(1, 1_000_000, (0.0, 0.0, 0.0));
    // 1 MB at 100 Mbit/s with a 10 ms RTT: under a second with no loss.
    assert!(o.end < Instant::from_secs(1), "took until {:?}", o.end);
}

#[test]
fn lossy_duplicating_reordering_transfers_are_exact_over_many_seeds() {
    let seeds: u64 = std::env::var("VIPE_TCP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let mut slowest = Instant::ZERO;
    let mut times = Vec::new();
    for seed in 0..seeds {
        let o = check(seed, 1_000_000, (0.10, 0.05, 0.05));
        slowest = slowest.max(o.end);
        times.push(o.end.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "transfer times: median {:.1} s, p90 {:.1} s",
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );
    eprintln!(
        "{seeds} seeds, slowest transfer ended at {:.1} s",
        slowest.as_secs_f64()
    );
}

/// The frames of a pcap file (classic format, either byte order, as the simulator
/// writes it).
fn pcap_frames(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let magic = u32::from_be_bytes(bytes[..4].try_into().unwrap());
    let big = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => panic!("pcap magic {magic:#x}"),
    };
    let u32_at = |b: &[u8]| {
        let b: [u8; 4] = b.try_into().unwrap();
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32_at(&bytes[at + 8..at + 12]) as usize;
        frames.push(bytes[at + 16..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    frames
}

#[test]
fn tso_transfer_is_exact_and_cut_to_the_mtu_for_a_device_without_offload() {
    let pcap = std::env::temp_dir().join(format!("vipe-tso-sim-{}.pcap", std::process::id()));
    let (o, (offloaded, sizes, largest)) =
        transfer_with(1, 1_000_000, (0.0, 0.0, 0.0), 64 * 1024, Some(&pcap));
    check_outcome(1, 1_000_000, o);
    // TCP sent large segments marked for segmentation into MSS-sized ones (MSS 1460
    // less the 12 bytes of timestamps), each at most 64 KB. The receiver acknowledges
    // every other segment, so once the initial window is out ACK clocking frees about
    // three segments at a time: bursts are at least that large.
    assert!(offloaded > 100, "{offloaded} offloaded segments");
    assert_eq!(sizes, [1448], "segment sizes");
    assert!(
        (32 + 3 * 1448..=65535 - 20).contains(&largest),
        "largest offloaded segment {largest}"
    );
    // The simulated device takes no offload: IPv4 cut them; every frame on the wire
    // fits the MTU and carries correct IPv4 and TCP checksums.
    let frames = pcap_frames(&pcap);
    let _ = std::fs::remove_file(&pcap);
    let mut data_frames = 0;
    for (i, f) in frames.iter().enumerate() {
        assert!(f.len() <= 1514, "frame {i}: {} bytes", f.len());
        if u16::from_be_bytes([f[12], f[13]]) != 0x0800 {
            continue;
        }
        let ip = &f[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert!(
            vipe_rt::checksum::verify(&ip[..ihl]),
            "frame {i}: IPv4 checksum"
        );
        if ip[9] != PROTO_TCP {
            continue;
        }
        let tcp = &ip[ihl..total];
        let pseudo = vipe_rt::checksum::pseudo_header_v4(
            ip[12..16].try_into().unwrap(),
            ip[16..20].try_into().unwrap(),
            PROTO_TCP,
            tcp.len() as u16,
        );
        assert_eq!(
            vipe_rt::checksum::fold(vipe_rt::checksum::add(pseudo, tcp)),
            0xffff,
            "frame {i}: TCP checksum"
        );
        if tcp.len() > usize::from(tcp[12] >> 4) * 4 {
            data_frames += 1;
        }
    }
    assert!(
        data_frames >= 1_000_000 / 1448,
        "{data_frames} data frames on the wire"
    );
}

#[test]
fn tso_transfers_recover_from_loss_duplication_and_reordering() {
    for seed in 0..20 {
        let (o, (offloaded, _, _)) =
            transfer_with(seed, 1_000_000, (0.10, 0.05, 0.05), 64 * 1024, None);
        check_outcome(seed, 1_000_000, o);
        assert!(offloaded > 0, "seed {seed}: no offloaded segments");
    }
}

#[test]
fn same_seed_same_run() {
    let x = transfer(7, 200_000, (0.1, 0.05, 0.05));
    let y = transfer(7, 200_000, (0.1, 0.05, 0.05));
    assert_eq!((x.end, x.events), (y.end, y.events));
}

#[test]
fn syn_flood_keeps_memory_bounded_and_the_listener_serving() {
    let mut sim = Simulator::new(3);
    let (a, b) = (sim.add_node(), sim.add_node());
    let link = LinkConfig::default()
        .latency(Duration::from_millis(2))
        .queue_limit(10_000);
    let l = sim.link(a, b, link).unwrap();
    let tb = tcp_host(&mut sim, b, l.b.device, B, 2, (0.0, 0.0, 0.0));
    // A: IPv4 ⇄ flooder ⇄ TCP; the flooder passes A's own traffic and injects SYNs.
    let na = sim.node_mut(a).unwrap();
    let host = stack::host(na, l.a.device, mac(1), iface(A), None).unwrap();
    let ta = na.add(Tcp::new(A, TcpProtocolConfig::default()));
    let flooder = na.add(Flooder {
        target: B,
        left: 20_000,
    });
    na.connect(
        host.ipv4.port(Ipv4Port::Upper(PROTO_TCP)),
        flooder.port(FlooderPort::Lower),
    )
    .unwrap();
    na.connect(flooder.port(FlooderPort::Upper), ta.port(TcpPort::Ip))
        .unwrap();
    let sender = na.add(Sender {
        server: SocketAddrV4::new(B, PORT),
        total: 100_000,
        offset: 0,
        conn: None,
        closed: false,
        done: false,
        reset: false,
        delay: Duration::from_millis(500),
        last_len: 0,
    });
    na.connect(ta.port(TcpPort::App(1)), sender.port(SenderPort::Tcp))
        .unwrap();
    let nb = sim.node_mut(b).unwrap();
    let receiver = nb.add(Receiver {
        received: Vec::new(),
        eof: false,
        eof_at: Instant::ZERO,
        closed: false,
        connections: 0,
    });
    nb.connect(tb.port(TcpPort::App(1)), receiver.port(ReceiverPort::Tcp))
        .unwrap();
    let backlog = TcpProtocolConfig::default().backlog;
    let mut most = 0;
    for step in 1..=400 {
        sim.run_until(Instant::from_millis(step * 10));
        let tcp = sim.node(b).unwrap().protocol(tb).unwrap();
        most = most.max(tcp.connections());
        assert!(
            tcp.connections() <= backlog + 1 && tcp.half_open() <= backlog,
            "at {step}0 ms: {} connections, {} half-open",
            tcp.connections(),
            tcp.half_open()
        );
    }
    sim.run_until_quiet(Instant::from_secs(600));
    let f = sim.node(a).unwrap().protocol(flooder).unwrap();
    assert_eq!(f.left, 0, "the flood ran to the end");
    assert!(
        most >= backlog,
        "the backlog filled: at most {most} connections"
    );
    let r = sim.node(b).unwrap().protocol(receiver).unwrap();
    assert_eq!(r.connections, 1, "the legitimate client was served");
    assert_eq!(r.received.len(), 100_000);
    assert!(r.received.iter().enumerate().all(|(i, b)| *b == pattern(i)));
    let s = sim.node(a).unwrap().protocol(sender).unwrap();
    assert!(s.done);
}

/// Listens in read mode (`TcpProtocolConfig::app_reads`), reads nothing until `at`,
/// then asks for everything; collects what arrives.
#[protocol]
struct SlowReader {
    at: Duration,
    conn: Option<Conn>,
    received: Vec<u8>,
    eof: bool,
}

#[protocol]
impl SlowReader {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(SlowReaderPort::Tcp, TcpApp::listen(pkt, PORT));
        cx.start_timer(SlowReaderTimer::Read, self.at);
    }

    #[on_timer]
    fn read(&mut self, cx: &mut Cx<Self>) {
        if let Some(conn) = self.conn {
            let pkt = cx.alloc();
            cx.send(SlowReaderPort::Tcp, TcpApp::read(pkt, conn, u32::MAX));
        }
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match TcpApp::event(&pkt) {
            Some(AppEvent::Connected(conn)) => self.conn = Some(conn),
            Some(AppEvent::Data(_, bytes)) => self.received.extend_from_slice(&bytes),
            Some(AppEvent::Eof(conn)) => {
                self.eof = true;
                let pkt = cx.alloc();
                cx.send(SlowReaderPort::Tcp, TcpApp::close(pkt, conn));
            }
            _ => {}
        }
    }
}

/// Receive back-pressure through the application interface: while the application
/// does not read, the receive buffer fills, the window closes and the sender probes it;
/// once it reads, the transfer completes byte-exact.
#[test]
fn the_window_closes_while_the_application_does_not_read() {
    let mut sim = Simulator::new(7);
    let (a, b) = (sim.add_node(), sim.add_node());
    let link = LinkConfig::default()
        .latency(Duration::from_millis(5))
        .bandwidth_bps(100_000_000);
    let l = sim.link(a, b, link).unwrap();
    let ta = tcp_host(&mut sim, a, l.a.device, A, 1, (0.0, 0.0, 0.0));
    let nb = sim.node_mut(b).unwrap();
    let host = stack::host(nb, l.b.device, mac(2), iface(B), None).unwrap();
    let config = TcpProtocolConfig {
        app_reads: true,
        ..TcpProtocolConfig::default()
    };
    let buffer = config.socket.recv_buffer;
    let tb = stack::add_tcp(nb, &host, B, config).unwrap();
    let reader = nb.add(SlowReader {
        at: Duration::from_secs(3),
        conn: None,
        received: Vec::new(),
        eof: false,
    });
    nb.connect(tb.port(TcpPort::App(1)), reader.port(SlowReaderPort::Tcp))
        .unwrap();
    let na = sim.node_mut(a).unwrap();
    let total = 1 << 20;
    let sender = na.add(Sender {
        server: SocketAddrV4::new(B, PORT),
        total,
        offset: 0,
        conn: None,
        closed: false,
        done: false,
        reset: false,
        delay: Duration::ZERO,
        last_len: 0,
    });
    na.connect(ta.port(TcpPort::App(1)), sender.port(SenderPort::Tcp))
        .unwrap();
    sim.run_until(Instant::from_millis(2900));
    let (_, rsock) = sim
        .node(b)
        .unwrap()
        .protocol(tb)
        .unwrap()
        .sockets()
        .next()
        .unwrap();
    // The unread bytes fill the buffer (but for less than a segment, which sender-side
    // SWS avoidance does not send into a window that small).
    assert!(rsock.recv_queue() > buffer - 1460, "{}", rsock.recv_queue());
    assert!(rsock.rcv_wnd() < 1460, "{}", rsock.rcv_wnd());
    let (_, ssock) = sim
        .node(a)
        .unwrap()
        .protocol(ta)
        .unwrap()
        .sockets()
        .next()
        .unwrap();
    assert!(ssock.snd_wnd() < 1460, "{}", ssock.snd_wnd());
    assert!(
        ssock.send_queue() > 0,
        "the sender is held back with data queued"
    );
    assert!(
        sim.node(b)
            .unwrap()
            .protocol(reader)
            .unwrap()
            .received
            .is_empty()
    );
    sim.run_until_quiet(Instant::from_secs(600));
    let r = sim.node(b).unwrap().protocol(reader).unwrap();
    assert!(r.eof);
    assert_eq!(r.received.len(), total);
    assert!(r.received.iter().enumerate().all(|(i, b)| *b == pattern(i)));
    assert!(sim.node(a).unwrap().protocol(sender).unwrap().done);
}

/// ICMP errors reach TCP through `stack::add_tcp`: a SYN to a host without TCP draws
/// ICMP protocol unreachable (a hard error), which ends the connection attempt at once
/// with a reason, long before the SYN retransmissions would give up.
#[test]
fn a_hard_icmp_error_ends_a_connection_attempt() {
    let mut sim = Simulator::new(3);
    let (a, b) = (sim.add_node(), sim.add_node());
    let l = sim
        .link(
            a,
            b,
            LinkConfig::default().latency(Duration::from_millis(5)),
        )
        .unwrap();
    let na = sim.node_mut(a).unwrap();
    let host = stack::host(na, l.a.device, mac(1), iface(A), None).unwrap();
    let ta = stack::add_tcp(na, &host, A, TcpProtocolConfig::default()).unwrap();
    let sender = na.add(Sender {
        server: SocketAddrV4::new(B, PORT),
        total: 10,
        offset: 0,
        conn: None,
        closed: false,
        done: false,
        reset: false,
        delay: Duration::ZERO,
        last_len: 0,
    });
    na.connect(ta.port(TcpPort::App(1)), sender.port(SenderPort::Tcp))
        .unwrap();
    // B runs IPv4 and ICMP but no TCP.
    let nb = sim.node_mut(b).unwrap();
    stack::host(nb, l.b.device, mac(2), iface(B), None).unwrap();
    sim.run_until(Instant::from_millis(500));
    let s = sim.node(a).unwrap().protocol(sender).unwrap();
    assert!(s.reset, "the connection attempt should have ended");
    let na = sim.node(a).unwrap();
    assert_eq!(na.protocol(ta).unwrap().connections(), 0);
    assert!(
        na.stats().counter_total("TCP ICMP errors accepted") >= 1,
        "{:?}",
        na.stats()
    );
}

/// Path MTU discovery (RFC 9293 SHLD-6) end to end: A's interface has an MTU of 1000,
/// but B announces an MSS of 1460. A's segments carry DF, so IPv4 refuses the first
/// full-size one with a "fragmentation needed" (MTU 1000) to A's own TCP, which lowers
/// its send MSS to 960 and sends the data again: the transfer is exact and no datagram
/// is fragmented.
#[test]
fn path_mtu_discovery_lowers_the_mss_to_a_smaller_first_hop() {
    let mut sim = Simulator::new(5);
    let (a, b) = (sim.add_node(), sim.add_node());
    let link = LinkConfig::default()
        .latency(Duration::from_millis(5))
        .bandwidth_bps(100_000_000);
    let l = sim.link(a, b, link).unwrap();
    let na = sim.node_mut(a).unwrap();
    let small = Interface {
        mtu: 1000,
        ..iface(A)
    };
    let host = stack::host(na, l.a.device, mac(1), small, None).unwrap();
    let ta = stack::add_tcp(na, &host, A, TcpProtocolConfig::default()).unwrap();
    let total = 200_000;
    let sender = na.add(Sender {
        server: SocketAddrV4::new(B, PORT),
        total,
        offset: 0,
        conn: None,
        closed: false,
        done: false,
        reset: false,
        delay: Duration::ZERO,
        last_len: 0,
    });
    na.connect(ta.port(TcpPort::App(1)), sender.port(SenderPort::Tcp))
        .unwrap();
    let nb = sim.node_mut(b).unwrap();
    let host = stack::host(nb, l.b.device, mac(2), iface(B), None).unwrap();
    let tb = stack::add_tcp(nb, &host, B, TcpProtocolConfig::default()).unwrap();
    let receiver = nb.add(Receiver {
        received: Vec::new(),
        eof: false,
        eof_at: Instant::ZERO,
        closed: false,
        connections: 0,
    });
    nb.connect(tb.port(TcpPort::App(1)), receiver.port(ReceiverPort::Tcp))
        .unwrap();
    sim.run_until(Instant::from_secs(10));
    let r = sim.node(b).unwrap().protocol(receiver).unwrap();
    assert_eq!(r.received.len(), total);
    assert!(r.received.iter().enumerate().all(|(i, b)| *b == pattern(i)));
    assert!(r.eof_at < Instant::from_secs(2), "ended at {:?}", r.eof_at);
    let stats = sim.node(a).unwrap().stats();
    assert!(
        stats.counter_total("TCP ICMP errors accepted") >= 1,
        "{stats:?}"
    );
    assert_eq!(stats.counter_total("fragments sent"), 0, "{stats:?}");
}
