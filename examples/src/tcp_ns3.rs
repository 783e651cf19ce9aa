//! VIPE TCP against ns-3's own TCP NewReno, inside one ns-3 simulation (`--features ns3`).
//!
//! Two flows run side by side, each over its own point-to-point link with the same rate,
//! delay and drop-tail device queue (the bottleneck is the sender's device queue):
//! - two VIPE nodes (Ethernet framing, IPv4, VIPE TCP) with a bulk sender and a sink
//!   written against [`TcpApp`];
//! - two native ns-3 nodes (ns-3's Internet stack, `TcpNewReno` with classic recovery)
//!   with a bulk sender socket and a `PacketSink`.
//!
//! Both sides are set alike: segment payload 1448 bytes (MSS 1460 less the timestamp
//! option), SACK, timestamps and window scaling on, initial window 10 segments, delayed
//! ACKs every second segment or after 40 ms, RTO floor 200 ms, equal send and receive
//! buffers. Goodput is what the receiving application got from the start of the
//! transfer to the end of the run; the senders' congestion windows are traced at every
//! change (VIPE: [`TcpConfig::cwnd_trace`]; ns-3: `TcpSocketBase`'s `CongestionWindow`
//! trace source).

use std::net::{Ipv4Addr, SocketAddrV4};

use vipe_platforms::ns3::{Ns3World, P2pConfig};
use vipe_protocols::ethernet::{Ethernet, EthernetPort};
use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port};
use vipe_protocols::tcp::{AppEvent, Tcp, TcpApp, TcpConfig, TcpPort, TcpProtocolConfig, TcpStats};
use vipe_protocols::wire::ethernet::ETHERTYPE_IPV4;
use vipe_protocols::wire::ipv4::PROTO_TCP;
use vipe_rt::prelude::*;

/// The bottleneck link and the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// Link rate in bit/s (each direction).
    pub rate_bps: u64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Drop-tail device queue, in packets.
    pub queue_packets: u32,
    /// Send and receive buffer of every socket, in bytes.
    pub buffer: usize,
    /// When the senders connect.
    pub start: Duration,
    /// Length of the run.
    pub duration: Duration,
    /// Seed of the world.
    pub seed: u64,
    /// Acknowledge every segment at once on both sides (no delayed ACKs). ns-3's
    /// NewReno grows cwnd by SMSS²/cwnd per ACK in congestion avoidance, however many
    /// bytes the ACK covers; VIPE counts acknowledged bytes (RFC 5681 3.1's recommended
    /// way), so with delayed ACKs (one ACK per two segments) VIPE's window grows twice
    /// as fast. Without delayed ACKs both grow by one segment per RTT.
    pub ack_every_segment: bool,
}

impl Default for Setup {
    /// 10 Mbit/s, 20 ms one way (RTT 40 ms, a bandwidth-delay product of 33 full
    /// packets), a 20-packet queue, 1 MiB buffers, 30 s.
    fn default() -> Self {
        Setup {
            rate_bps: 10_000_000,
            delay: Duration::from_millis(20),
            queue_packets: 20,
            buffer: 1 << 20,
            start: Duration::from_millis(100),
            duration: Duration::from_secs(30),
            seed: 1,
            ack_every_segment: false,
        }
    }
}

/// What one flow achieved.
#[derive(Clone, Debug, Default)]
pub struct FlowResult {
    /// Bytes the receiving application got.
    pub received: u64,
    /// `received` over the time from the start to the end of the run, in bit/s.
    pub goodput_bps: f64,
    /// The sender's congestion window (bytes) at every change, with the time.
    pub cwnd: Vec<(Instant, u64)>,
}

/// Both flows of a run.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// VIPE TCP.
    pub vipe: FlowResult,
    /// ns-3's TcpNewReno.
    pub ns3: FlowResult,
    /// The VIPE sender's counters (retransmissions, timeouts, recoveries).
    pub vipe_sender: TcpStats,
}

impl Comparison {
    /// VIPE's goodput over ns-3's.
    pub fn ratio(&self) -> f64 {
        self.vipe.goodput_bps / self.ns3.goodput_bps
    }
}

/// Payload bytes of a full segment on both sides.
pub const SEGMENT: u16 = 1448;
const PORT: u16 = 5000;
const VIPE_S: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const VIPE_R: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const NS3_S: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
const NS3_R: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);
const MAC_S: [u8; 6] = [2, 0, 0, 0, 1, 1];
const MAC_R: [u8; 6] = [2, 0, 0, 0, 1, 2];

/// In place of ARP on a point-to-point link: every IPv4 packet goes to the one peer.
#[protocol]
pub struct PeerLink {
    peer: [u8; 6],
}

#[protocol]
impl PeerLink {
    /// From IPv4: address it to the peer.
    #[on_packet(port = "ip")]
    fn down(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        pkt.meta_mut().link_dst = Some(self.peer);
        cx.send(PeerLinkPort::Link, pkt);
    }

    /// From Ethernet: up to IPv4.
    #[on_packet(port = "link")]
    fn up(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(PeerLinkPort::Ip, pkt);
    }
}

/// Connects to `server` at `at` and writes without end as the send buffer allows.
#[protocol]
pub struct BulkSender {
    server: SocketAddrV4,
    at: Duration,
    conn: Option<Conn>,
    chunk: Vec<u8>,
}

use vipe_protocols::tcp::Conn;

impl BulkSender {
    fn push(&mut self, cx: &mut Cx<Self>, room: usize) {
        let Some(conn) = self.conn else { return };
        let mut room = room;
        while room > 0 {
            let n = room.min(self.chunk.len());
            let mut pkt = cx.alloc();
            pkt.put_slice(&self.chunk[..n]);
            cx.send(BulkSenderPort::Tcp, TcpApp::send(pkt, conn));
            room -= n;
        }
    }
}

#[protocol]
impl BulkSender {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_timer(BulkSenderTimer::Connect, self.at);
    }

    #[on_timer]
    fn connect(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(BulkSenderPort::Tcp, TcpApp::connect(pkt, self.server));
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match TcpApp::event(&pkt) {
            Some(AppEvent::Connected(conn)) => self.conn = Some(conn),
            Some(AppEvent::Writable(_, room)) => self.push(cx, room),
            _ => {}
        }
    }
}

/// Listens on a port and counts what arrives.
#[protocol]
pub struct Sink {
    port: u16,
    /// Bytes received.
    pub received: u64,
}

#[protocol]
impl Sink {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(SinkPort::Tcp, TcpApp::listen(pkt, self.port));
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        if let Some(AppEvent::Data(_, bytes)) = TcpApp::event(&pkt) {
            self.received += bytes.len() as u64;
        }
    }
}

/// The VIPE TCP settings the comparison uses.
pub fn vipe_tcp_config(setup: &Setup) -> TcpProtocolConfig {
    TcpProtocolConfig {
        socket: TcpConfig {
            mss: SEGMENT + 12,
            send_buffer: setup.buffer,
            recv_buffer: setup.buffer,
            initial_window: Some(10),
            delayed_ack: (!setup.ack_every_segment).then(|| Duration::from_millis(40)),
            min_rto: Duration::from_millis(200),
            cwnd_trace: 1 << 22,
            ..TcpConfig::default()
        },
        ..TcpProtocolConfig::default()
    }
}

/// The ns-3 attribute defaults that make ns-3's TCP NewReno match [`vipe_tcp_config`].
pub fn ns3_defaults(setup: &Setup) -> Vec<(&'static str, String)> {
    vec![
        ("ns3::TcpL4Protocol::SocketType", "ns3::TcpNewReno".into()),
        (
            "ns3::TcpL4Protocol::RecoveryType",
            "ns3::TcpClassicRecovery".into(),
        ),
        ("ns3::TcpSocket::SegmentSize", SEGMENT.to_string()),
        ("ns3::TcpSocket::InitialCwnd", "10".into()),
        ("ns3::TcpSocket::SndBufSize", setup.buffer.to_string()),
        ("ns3::TcpSocket::RcvBufSize", setup.buffer.to_string()),
        (
            "ns3::TcpSocket::DelAckCount",
            if setup.ack_every_segment { "1" } else { "2" }.into(),
        ),
        ("ns3::TcpSocket::DelAckTimeout", "40ms".into()),
        ("ns3::TcpSocketBase::MinRto", "200ms".into()),
        ("ns3::TcpSocketBase::Sack", "true".into()),
        ("ns3::TcpSocketBase::Timestamp", "true".into()),
        ("ns3::TcpSocketBase::WindowScaling", "true".into()),
    ]
}

fn vipe_host(
    world: &mut Ns3World,
    node: NodeId,
    device: DeviceId,
    (mac, peer): ([u8; 6], [u8; 6]),
    addr: Ipv4Addr,
    setup: &Setup,
) -> Result<Handle<Tcp>, String> {
    let err = |e: vipe_rt::WiringError| e.to_string();
    let n = world.node_mut(node).ok_or("no such node")?;
    let ethernet = n.add(Ethernet::new(mac));
    let link = n.add(PeerLink { peer });
    let ipv4 = n.add(Ipv4::new(Ipv4Config::host(
        Interface {
            addr,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    )));
    let tcp = n.add(Tcp::new(addr, vipe_tcp_config(setup)));
    n.attach(device, ethernet.port(EthernetPort::Lower))
        .map_err(err)?;
    n.connect(
        ethernet.port(EthernetPort::Upper(ETHERTYPE_IPV4)),
        link.port(PeerLinkPort::Link),
    )
    .map_err(err)?;
    n.connect(link.port(PeerLinkPort::Ip), ipv4.port(Ipv4Port::Lower(0)))
        .map_err(err)?;
    n.connect(ipv4.port(Ipv4Port::Upper(PROTO_TCP)), tcp.port(TcpPort::Ip))
        .map_err(err)?;
    Ok(tcp)
}

/// Runs both flows in one ns-3 world.
pub fn compare(setup: &Setup) -> Result<Comparison, String> {
    let mut world = Ns3World::new(setup.seed).map_err(|e| e.to_string())?;
    for (name, value) in ns3_defaults(setup) {
        world.set_default(name, &value).map_err(|e| e.to_string())?;
    }
    let link = P2pConfig::default()
        .data_rate(setup.rate_bps)
        .delay(setup.delay)
        .queue(setup.queue_packets);

    // VIPE.
    let (s, r) = (world.add_node(), world.add_node());
    let (ds, dr) = world
        .p2p_link(s, r, link, MAC_S, MAC_R)
        .map_err(|e| e.to_string())?;
    let tcp_s = vipe_host(&mut world, s, ds.device, (MAC_S, MAC_R), VIPE_S, setup)?;
    let tcp_r = vipe_host(&mut world, r, dr.device, (MAC_R, MAC_S), VIPE_R, setup)?;
    let start = Instant::ZERO + setup.start;
    let (sender, sink) = {
        let n = world.node_mut(s).ok_or("no sender")?;
        let sender = n.add(BulkSender {
            server: SocketAddrV4::new(VIPE_R, PORT),
            at: setup.start,
            conn: None,
            chunk: vec![0x5a; 64 * 1024],
        });
        n.connect(
            sender.port(BulkSenderPort::Tcp),
            tcp_s.port(TcpPort::App(1)),
        )
        .map_err(|e| e.to_string())?;
        let n = world.node_mut(r).ok_or("no receiver")?;
        let sink = n.add(Sink {
            port: PORT,
            received: 0,
        });
        n.connect(sink.port(SinkPort::Tcp), tcp_r.port(TcpPort::App(1)))
            .map_err(|e| e.to_string())?;
        (sender, sink)
    };
    let _ = sender;

    // ns-3.
    let (ns, nr) = (world.add_native_node(), world.add_native_node());
    world
        .native_p2p_link(ns, nr, link, (NS3_S, NS3_R), 24)
        .map_err(|e| e.to_string())?;
    let flow = world
        .tcp_bulk(ns, nr, SocketAddrV4::new(NS3_R, PORT), 0, start)
        .map_err(|e| e.to_string())?;

    let end = Instant::ZERO + setup.duration;
    world.run_until(end).map_err(|e| e.to_string())?;

    let span = (setup.duration - setup.start).as_secs_f64();
    let ns3_received = world.tcp_flow_received(flow).map_err(|e| e.to_string())?;
    let ns3_cwnd = world
        .tcp_flow_cwnd(flow)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(t, c)| (t, u64::from(c)))
        .collect();
    let vipe_received = world
        .node(r)
        .and_then(|n| n.protocol(sink))
        .ok_or("no sink")?
        .received;
    let sock = world
        .node(s)
        .and_then(|n| n.protocol(tcp_s))
        .ok_or("no sender TCP")?
        .sockets()
        .next()
        .ok_or("the VIPE connection is gone")?
        .1;
    let vipe_sender = sock.stats().clone();
    let vipe_cwnd = sock
        .cwnd_trace()
        .iter()
        .map(|&(t, c)| (t, c as u64))
        .collect();
    Ok(Comparison {
        vipe: FlowResult {
            received: vipe_received,
            goodput_bps: vipe_received as f64 * 8.0 / span,
            cwnd: vipe_cwnd,
        },
        ns3: FlowResult {
            received: ns3_received,
            goodput_bps: ns3_received as f64 * 8.0 / span,
            cwnd: ns3_cwnd,
        },
        vipe_sender,
    })
}

/// The changes of a window trace worth drawing: every change that is a decrease or
/// comes right before one (the sawtooth's peaks and troughs exactly), and otherwise at
/// most one change per `every` (ns-3 traces a change on every ACK).
pub fn thin(trace: &[(Instant, u64)], every: Duration) -> Vec<(Instant, u64)> {
    let mut out: Vec<(Instant, u64)> = Vec::new();
    for (i, &(t, w)) in trace.iter().enumerate() {
        let falls = i > 0 && w < trace[i - 1].1;
        let peak = trace.get(i + 1).is_some_and(|n| n.1 < w);
        let last = i + 1 == trace.len();
        let due = out.last().is_none_or(|p| t - p.0 >= every);
        if falls || peak || last || due {
            out.push((t, w));
        }
    }
    out
}

/// Writes `cwnd.csv` (stack, time, window; [`thin`]ned to one change per 10 ms between
/// decreases), `summary.csv` (the setup, both goodputs, their ratio) and the figure
/// `cwnd.svg` / `cwnd.png` into `dir`; returns the paths.
pub fn write_results(
    setup: &Setup,
    c: &Comparison,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, String> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let every = Duration::from_millis(10);
    let c = &Comparison {
        vipe: FlowResult {
            cwnd: thin(&c.vipe.cwnd, every),
            ..c.vipe.clone()
        },
        ns3: FlowResult {
            cwnd: thin(&c.ns3.cwnd, every),
            ..c.ns3.clone()
        },
        vipe_sender: c.vipe_sender.clone(),
    };
    let mut cwnd = String::from("stack,time_s,cwnd_bytes\n");
    for (name, flow) in [("vipe", &c.vipe), ("ns3", &c.ns3)] {
        for (t, w) in &flow.cwnd {
            let _ = writeln!(cwnd, "{name},{:.6},{w}", t.as_secs_f64());
        }
    }
    let mut summary = String::from(
        "rate_bps,delay_ms,queue_packets,buffer_bytes,start_s,duration_s,seed,ack_every_segment,\
         vipe_received_bytes,vipe_goodput_bps,ns3_received_bytes,ns3_goodput_bps,ratio\n",
    );
    let _ = writeln!(
        summary,
        "{},{},{},{},{},{},{},{},{},{:.0},{},{:.0},{:.4}",
        setup.rate_bps,
        setup.delay.as_secs_f64() * 1e3,
        setup.queue_packets,
        setup.buffer,
        setup.start.as_secs_f64(),
        setup.duration.as_secs_f64(),
        setup.seed,
        setup.ack_every_segment,
        c.vipe.received,
        c.vipe.goodput_bps,
        c.ns3.received,
        c.ns3.goodput_bps,
        c.ratio()
    );
    let mut paths = Vec::new();
    for (file, text) in [("cwnd.csv", cwnd), ("summary.csv", summary)] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        paths.push(path);
    }
    paths.extend(plot::draw(setup, c, dir)?);
    Ok(paths)
}

mod plot {
    use std::path::{Path, PathBuf};

    use plotters::coord::Shift;
    use plotters::prelude::*;

    use super::{Comparison, FlowResult, SEGMENT, Setup};

    const FONT: &str = "sans-serif";
    const SIZE: (u32, u32) = (1100, 760);

    fn register_font() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .unwrap_or_else(|_| panic!("the bundled DejaVu Sans is a valid font"));
        });
    }

    /// The window as a step function in full segments: each change drawn as a vertical
    /// step at its time, held until the next one (and to the end of the run).
    fn steps(flow: &FlowResult, end: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(flow.cwnd.len() * 2 + 1);
        for &(t, w) in &flow.cwnd {
            let t = t.as_secs_f64();
            let w = w as f64 / f64::from(SEGMENT);
            if let Some(&(_, prev)) = out.last() {
                out.push((t, prev));
            }
            out.push((t, w));
        }
        if let Some(&(_, last)) = out.last() {
            out.push((end, last));
        }
        out
    }

    /// Draws the figure as SVG and PNG.
    pub(super) fn draw(setup: &Setup, c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, String> {
        register_font();
        let svg = dir.join("cwnd.svg");
        let png = dir.join("cwnd.png");
        {
            let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
            panels(&root, setup, c).map_err(|e| format!("{}: {e}", svg.display()))?;
            root.present()
                .map_err(|e| format!("{}: {e}", svg.display()))?;
        }
        {
            let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
            panels(&root, setup, c).map_err(|e| format!("{}: {e}", png.display()))?;
            root.present()
                .map_err(|e| format!("{}: {e}", png.display()))?;
        }
        Ok(vec![svg, png])
    }

    fn panels<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        setup: &Setup,
        c: &Comparison,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let rtt = 2.0 * setup.delay.as_secs_f64();
        // Full packets on the wire: payload plus 40 bytes of IPv4 and TCP, 12 of
        // timestamps and 2 of PPP.
        let bdp = setup.rate_bps as f64 * rtt / 8.0 / (f64::from(SEGMENT) + 54.0);
        let title = format!(
            "Congestion window: {} Mbit/s, RTT {:.0} ms (BDP {:.0} packets), drop-tail queue {} packets, {}",
            setup.rate_bps as f64 / 1e6,
            rtt * 1e3,
            bdp,
            setup.queue_packets,
            if setup.ack_every_segment {
                "every segment ACKed"
            } else {
                "delayed ACKs"
            }
        );
        let root = root.titled(&title, (FONT, 20)).map_err(|e| e.to_string())?;
        let end = setup.duration.as_secs_f64();
        let flows = [
            ("VIPE TCP", &c.vipe, RGBColor(0, 114, 178)),
            ("ns-3 TcpNewReno", &c.ns3, RGBColor(213, 94, 0)),
        ];
        let curves: Vec<Vec<(f64, f64)>> = flows.iter().map(|(_, f, _)| steps(f, end)).collect();
        let top = curves
            .iter()
            .flatten()
            .map(|p| p.1)
            .fold(bdp + f64::from(setup.queue_packets), f64::max)
            * 1.08;
        let areas = root.split_evenly((2, 1));
        for (((name, flow, color), points), area) in flows.iter().zip(&curves).zip(&areas) {
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!(
                        "{name}: goodput {:.2} Mbit/s   (dashed: BDP + queue; a larger window overflows the queue)",
                        flow.goodput_bps / 1e6
                    ),
                    (FONT, 17),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..end, 0.0..top)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("time (s)")
                .y_desc("cwnd (segments of 1448 B)")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            let limit = bdp + f64::from(setup.queue_packets);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, limit), (end, limit)],
                    8,
                    6,
                    BLACK.mix(0.6).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
