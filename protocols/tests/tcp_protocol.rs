//! The TCP `#[protocol]` in a node behind IPv4: a closed port answers RST, segments to
//! broadcast or from invalid sources are dropped silently and counted (RFC 9293 MUST-57,
//! MUST-63), a connect to a broadcast address is refused with an error that says what to
//! change (MUST-46), and a listener answers a SYN with a SYN-ACK carrying our options.

use std::net::{Ipv4Addr, SocketAddrV4};

use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port};
use vipe_protocols::tcp::{
    AppEvent, Segment, SeqNumber, Tcp, TcpApp, TcpOptions, TcpPort, TcpProtocolConfig,
};
use vipe_protocols::wire::Ipv4Header;
use vipe_protocols::wire::ipv4::Ipv4HeaderView;
use vipe_protocols::wire::tcp::{ACK, RST, SYN};
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Records what TCP tells it; sends what the test queues at start.
#[protocol]
#[derive(Default)]
struct App {
    start: Vec<(u32, Option<SocketAddrV4>, Option<SocketAddrV4>)>,
    got: Vec<AppEvent>,
    /// Close each connection as soon as it is established.
    close_on_connect: bool,
}

#[protocol]
impl App {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        for (mark, src, dst) in self.start.clone() {
            let mut pkt = cx.alloc();
            let m = pkt.meta_mut();
            m.mark = mark;
            m.src = src.map(Into::into);
            m.dst = dst.map(Into::into);
            cx.send(AppPort::Tcp, pkt);
        }
    }

    #[on_packet(port = "tcp")]
    fn rx(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        if let Some(ev) = TcpApp::event(&pkt) {
            if let (AppEvent::Connected(conn), true) = (&ev, self.close_on_connect) {
                let close = TcpApp::close(cx.alloc(), *conn);
                cx.send(AppPort::Tcp, close);
            }
            self.got.push(ev);
        }
    }
}

fn node(app: App) -> (Node, DeviceId, Handle<Tcp>, Handle<App>) {
    node_with(app, TcpProtocolConfig::default())
}

fn node_with(app: App, config: TcpProtocolConfig) -> (Node, DeviceId, Handle<Tcp>, Handle<App>) {
    let mut node = Node::new(NodeId(0));
    let iface = Interface {
        addr: ME,
        prefix_len: 24,
        mtu: 1500,
    };
    let ip = node.add(Ipv4::new(Ipv4Config::host(iface, None)));
    let tcp = node.add(Tcp::new(ME, config));
    let app = node.add(app);
    node.connect(ip.port(Ipv4Port::Upper(6)), tcp.port(TcpPort::Ip))
        .unwrap();
    node.connect(tcp.port(TcpPort::App(1)), app.port(AppPort::Tcp))
        .unwrap();
    let dev = node.add_device("if0", DeviceKind::Frame);
    node.attach(dev, ip.port(Ipv4Port::Lower(0))).unwrap();
    node.start(Instant::ZERO);
    (node, dev, tcp, app)
}

fn datagram(src: Ipv4Addr, dst: Ipv4Addr, seg: &Segment) -> Packet {
    datagram_with(src, dst, seg, &[], 0)
}

fn datagram_with(src: Ipv4Addr, dst: Ipv4Addr, seg: &Segment, payload: &[u8], tos: u8) -> Packet {
    let tcp = seg.to_bytes(src, dst, payload);
    let h = Ipv4Header {
        version: 4,
        ihl: 0,
        tos,
        total_len: 0,
        ident: 1,
        flags: 0,
        frag_offset: 0,
        ttl: 64,
        protocol: 6,
        checksum: 0,
        src: src.octets(),
        dst: dst.octets(),
        options: Options::EMPTY,
    };
    let mut buf = vec![0u8; h.header_len() + tcp.len()];
    buf[h.header_len()..].copy_from_slice(&tcp);
    h.emit(&mut buf).unwrap();
    Packet::from_slice(&buf)
}

fn replies(node: &mut Node) -> Vec<Segment> {
    std::iter::from_fn(|| node.poll_transmit())
        .filter_map(|t| {
            let ip = Ipv4HeaderView::parse(t.packet.data()).ok()?;
            let (src, dst) = (Ipv4Addr::from(ip.src()), Ipv4Addr::from(ip.dst()));
            Segment::parse(src, dst, ip.payload()).ok().map(|(s, _)| s)
        })
        .collect()
}

fn syn(port: u16) -> Segment {
    Segment {
        src_port: 40000,
        dst_port: port,
        seq: SeqNumber(77),
        flags: SYN,
        window: 65535,
        options: TcpOptions {
            mss: Some(1400),
            sack_permitted: true,
            timestamps: Some((5, 0)),
            window_scale: Some(7),
            ..TcpOptions::default()
        },
        ..Segment::default()
    }
}

#[test]
fn closed_port_answers_rst() {
    let (mut node, dev, _, _) = node(App::default());
    node.handle_input(Instant::from_millis(1), dev, datagram(PEER, ME, &syn(81)));
    let r = replies(&mut node);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].flags, RST | ACK);
    assert_eq!(r[0].ack, SeqNumber(78));
    assert_eq!(node.stats().drops_for("TCP segment for a closed port"), 1);
}

#[test]
fn broadcast_and_invalid_sources_are_dropped_silently() {
    let (mut node, dev, _, _) = node(App::default());
    let bcast = Ipv4Addr::new(10, 0, 0, 255);
    node.handle_input(
        Instant::from_millis(1),
        dev,
        datagram(PEER, bcast, &syn(80)),
    );
    node.handle_input(
        Instant::from_millis(2),
        dev,
        datagram(Ipv4Addr::BROADCAST, ME, &syn(80)),
    );
    node.handle_input(
        Instant::from_millis(3),
        dev,
        datagram(Ipv4Addr::new(224, 0, 0, 1), ME, &syn(80)),
    );
    let r = replies(&mut node);
    assert!(r.is_empty(), "{r:?} {:?}", node.stats());
    assert_eq!(
        node.stats().drops_for("TCP from an invalid source address"),
        2
    );
    assert_eq!(
        node.stats()
            .drops_for("TCP to a broadcast, multicast or foreign address"),
        1
    );
}

#[test]
fn connect_to_broadcast_is_refused_with_a_reason() {
    use vipe_protocols::tcp::msg;
    let app = App {
        start: vec![(
            msg::CONNECT,
            None,
            Some(SocketAddrV4::new(Ipv4Addr::BROADCAST, 80)),
        )],
        got: vec![],
        close_on_connect: false,
    };
    let (mut node, _, tcp, app) = node(app);
    node.handle_timeout(Instant::from_millis(1));
    let got = &node.protocol(app).unwrap().got;
    assert!(
        matches!(&got[..], [AppEvent::Error(why)] if String::from_utf8_lossy(why).contains("unicast")),
        "{got:?}"
    );
    assert_eq!(node.protocol(tcp).unwrap().connections(), 0);
}

#[test]
fn listener_answers_syn_with_our_options() {
    use vipe_protocols::tcp::msg;
    let app = App {
        start: vec![(msg::LISTEN, Some(SocketAddrV4::new(ME, 80)), None)],
        got: vec![],
        close_on_connect: false,
    };
    let (mut node, dev, tcp, _) = node(app);
    node.handle_input(Instant::from_millis(1), dev, datagram(PEER, ME, &syn(80)));
    let r = replies(&mut node);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].flags, SYN | ACK);
    assert_eq!(r[0].ack, SeqNumber(78));
    let o = r[0].options;
    assert_eq!(o.mss, Some(1460));
    assert!(o.sack_permitted && o.window_scale.is_some());
    assert_eq!(o.timestamps.map(|t| t.1), Some(5));
    assert_eq!(node.protocol(tcp).unwrap().half_open(), 1);
}

/// RFC 9293 MUST-42: several LISTENs on one port, told apart by the remote socket they
/// name; the most specific one takes a SYN, and a second LISTEN for the same remote is
/// refused with a reason.
#[test]
fn listeners_share_a_port_by_remote_socket() {
    use vipe_protocols::tcp::msg;
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
    let listen = |remote| (msg::LISTEN, Some(SocketAddrV4::new(ME, 80)), Some(remote));
    let mut node = Node::new(NodeId(0));
    let iface = Interface {
        addr: ME,
        prefix_len: 24,
        mtu: 1500,
    };
    let ip = node.add(Ipv4::new(Ipv4Config::host(iface, None)));
    let tcp = node.add(Tcp::new(ME, TcpProtocolConfig::default()));
    node.connect(ip.port(Ipv4Port::Upper(6)), tcp.port(TcpPort::Ip))
        .unwrap();
    // App 1 listens for PEER:40000 only; app 2 for anyone, twice (the second refused);
    // app 3 for PEER at any port.
    let apps: Vec<_> = [
        vec![listen(SocketAddrV4::new(PEER, 40000))],
        vec![listen(any), listen(any)],
        vec![listen(SocketAddrV4::new(PEER, 0))],
    ]
    .into_iter()
    .enumerate()
    .map(|(i, start)| {
        let app = node.add(App {
            start,
            got: vec![],
            close_on_connect: false,
        });
        node.connect(tcp.port(TcpPort::App(i as u16 + 1)), app.port(AppPort::Tcp))
            .unwrap();
        app
    })
    .collect();
    let dev = node.add_device("if0", DeviceKind::Frame);
    node.attach(dev, ip.port(Ipv4Port::Lower(0))).unwrap();
    node.start(Instant::ZERO);
    let errors = &node.protocol(apps[1]).unwrap().got;
    assert!(
        matches!(&errors[..], [AppEvent::Error(why)] if String::from_utf8_lossy(why).contains("already listened")),
        "{errors:?}"
    );
    let other = Ipv4Addr::new(10, 0, 0, 3);
    let mut now = Instant::from_millis(1);
    // (from, to which app)
    for (from, port, app) in [(PEER, 40000, 0), (PEER, 40001, 2), (other, 40000, 1)] {
        let mut s = syn(80);
        s.src_port = port;
        node.handle_input(now, dev, datagram(from, ME, &s));
        let synack = replies(&mut node).pop().unwrap();
        assert_eq!(synack.flags, SYN | ACK);
        let ack = Segment {
            src_port: port,
            dst_port: 80,
            seq: SeqNumber(78),
            ack: synack.seq + 1,
            flags: ACK,
            window: 65535,
            ..Segment::default()
        };
        now += Duration::from_millis(1);
        node.handle_input(now, dev, datagram(from, ME, &ack));
        node.handle_timeout(now);
        for (i, a) in apps.iter().enumerate() {
            let connected = node
                .protocol(*a)
                .unwrap()
                .got
                .iter()
                .any(|e| matches!(e, AppEvent::Connected(c) if *c.remote.ip() == from && c.remote.port() == port));
            assert_eq!(connected, i == app, "{from}:{port} reached app {}", i + 1);
        }
    }
}

/// RFC 9293 MUST-43: OPEN may name the local address. This host's address (with a
/// chosen port) is used; any other address is refused with a reason, for CONNECT and
/// LISTEN alike, and no connection or listener is made.
#[test]
fn open_with_a_local_address() {
    use vipe_protocols::tcp::msg;
    let other = Ipv4Addr::new(10, 0, 0, 9);
    let app = App {
        start: vec![
            (
                msg::CONNECT,
                Some(SocketAddrV4::new(ME, 5555)),
                Some(SocketAddrV4::new(PEER, 80)),
            ),
            (
                msg::CONNECT,
                Some(SocketAddrV4::new(other, 5556)),
                Some(SocketAddrV4::new(PEER, 80)),
            ),
            (msg::LISTEN, Some(SocketAddrV4::new(other, 81)), None),
        ],
        got: vec![],
        close_on_connect: false,
    };
    let (mut node, dev, tcp, app) = node(app);
    node.handle_timeout(Instant::from_millis(1));
    let r = replies(&mut node);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].flags, r[0].src_port), (SYN, 5555));
    let got = &node.protocol(app).unwrap().got;
    assert_eq!(got.len(), 2, "{got:?}");
    for ev in got {
        assert!(
            matches!(ev, AppEvent::Error(why) if String::from_utf8_lossy(why).contains("not this host's")),
            "{got:?}"
        );
    }
    assert_eq!(node.protocol(tcp).unwrap().connections(), 1);
    // No listener on port 81: a SYN there is answered with a RST.
    node.handle_input(Instant::from_millis(2), dev, datagram(PEER, ME, &syn(81)));
    let r = replies(&mut node);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].flags & RST, RST);
}

/// The IPv4 side of MUST-48, SHLD-6 and SHLD-8: the configured Diffserv codepoint and
/// DF are in the IPv4 header of our segments; IPv4 hands the arriving TOS octet up, so a
/// CE mark on data of an ECN connection comes back as ECE on our ACK.
#[test]
fn diffserv_df_and_ecn_travel_through_ipv4() {
    use vipe_protocols::tcp::{TcpConfig, msg};
    use vipe_protocols::wire::ipv4::FLAG_DF;
    use vipe_protocols::wire::tcp::{CWR, ECE};
    let app = App {
        start: vec![(msg::LISTEN, Some(SocketAddrV4::new(ME, 80)), None)],
        got: vec![],
        close_on_connect: false,
    };
    let config = TcpProtocolConfig {
        socket: TcpConfig {
            dscp: 46,
            delayed_ack: None,
            ..TcpConfig::default()
        },
        ..TcpProtocolConfig::default()
    };
    let (mut node, dev, _, _) = node_with(app, config);
    let mut s = syn(80);
    s.flags |= ECE | CWR;
    node.handle_input(Instant::from_millis(1), dev, datagram(PEER, ME, &s));
    let frames: Vec<Packet> = std::iter::from_fn(|| node.poll_transmit())
        .map(|t| t.packet)
        .collect();
    assert_eq!(frames.len(), 1);
    let ip = Ipv4HeaderView::parse(frames[0].data()).unwrap();
    assert_eq!(ip.tos(), 46 << 2, "DSCP EF, not ECT on a SYN-ACK");
    assert_eq!(ip.flags() & FLAG_DF, FLAG_DF);
    let synack = Segment::parse(ME, PEER, ip.payload()).unwrap().0;
    assert_eq!(synack.flags, SYN | ACK | ECE, "ECN agreed");
    let base = |flags: u8, off: u32| Segment {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNumber(78 + off),
        ack: synack.seq + 1,
        flags,
        window: 65535,
        ..Segment::default()
    };
    node.handle_input(
        Instant::from_millis(2),
        dev,
        datagram(PEER, ME, &base(ACK, 0)),
    );
    node.handle_timeout(Instant::from_millis(2));
    assert!(replies(&mut node).is_empty());
    // Data marked CE (ECN field 11) by a router.
    let data = datagram_with(PEER, ME, &base(ACK, 0), &[9; 100], (46 << 2) | 0b11);
    node.handle_input(Instant::from_millis(3), dev, data);
    node.handle_timeout(Instant::from_millis(3));
    let r = replies(&mut node);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].ack, SeqNumber(178));
    assert_eq!(r[0].flags & ECE, ECE, "CE echoed");
}

/// RFC 9293 SHLD-4 (RFC 6191): in TIME-WAIT, an old duplicate SYN (timestamp not newer
/// than the last one seen) leaves the connection waiting; a SYN with a newer timestamp
/// ends TIME-WAIT at once and opens a new incarnation through the listener, with an ISS
/// beyond the old connection's sequence space.
#[test]
fn a_newer_syn_ends_time_wait() {
    use vipe_protocols::tcp::{State, msg};
    use vipe_protocols::wire::tcp::FIN;
    let app = App {
        start: vec![(msg::LISTEN, Some(SocketAddrV4::new(ME, 80)), None)],
        got: vec![],
        close_on_connect: true,
    };
    let (mut node, dev, tcp, app) = node(app);
    let mut t = 1;
    let mut send = |node: &mut Node, seg: &Segment| {
        t += 1;
        node.handle_input(Instant::from_millis(t), dev, datagram(PEER, ME, seg));
        node.handle_timeout(Instant::from_millis(t));
        replies(node)
    };
    let r = send(&mut node, &syn(80));
    let synack = r[0];
    let our_ts = |s: &Segment| s.options.timestamps.unwrap().0;
    let seg = |flags: u8, seq: u32, ack: SeqNumber, ts: u32, ecr: u32| Segment {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNumber(seq),
        ack,
        flags,
        window: 65535,
        options: TcpOptions {
            timestamps: Some((ts, ecr)),
            ..TcpOptions::default()
        },
        ..Segment::default()
    };
    // Our ACK of the handshake: the application closes at once, so our FIN follows.
    let r = send(&mut node, &seg(ACK, 78, synack.seq + 1, 6, our_ts(&synack)));
    let fin = r
        .iter()
        .find(|s| s.flags & FIN != 0)
        .copied()
        .expect("our FIN");
    // The peer acknowledges it and closes too: TIME-WAIT.
    let r = send(&mut node, &seg(FIN | ACK, 78, fin.seq + 1, 7, our_ts(&fin)));
    assert!(r.iter().all(|s| s.flags == ACK), "{r:?}");
    let state = |node: &Node| {
        let tcp = node.protocol(tcp).unwrap();
        (
            tcp.connections(),
            tcp.connection_state(80, SocketAddrV4::new(PEER, 40000)),
        )
    };
    assert_eq!(state(&node), (1, Some(State::TimeWait)));
    // An old duplicate SYN (timestamp 6, older than the last seen, 7): no new
    // connection.
    let mut old = syn(80);
    old.seq = SeqNumber(5000);
    old.options.timestamps = Some((6, 0));
    let r = send(&mut node, &old);
    assert!(r.iter().all(|s| s.flags & SYN == 0), "{r:?}");
    assert_eq!(state(&node), (1, Some(State::TimeWait)));
    // A new SYN (timestamp 1000): a SYN-ACK of a new incarnation.
    let mut new = old;
    new.options.timestamps = Some((1000, 0));
    let r = send(&mut node, &new);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].flags, SYN | ACK);
    assert_eq!(r[0].ack, SeqNumber(5001));
    assert!(r[0].seq > fin.seq + 1, "ISS beyond the old incarnation");
    assert_eq!(state(&node), (1, Some(State::SynReceived)));
    let got = &node.protocol(app).unwrap().got;
    assert!(matches!(got.last(), Some(AppEvent::Closed(_))), "{got:?}");
}

/// RFC 9293 MUST-20 (RFC 1122 3.3.1.4): when retransmissions reach R1, TCP gives IPv4
/// negative advice, and IPv4 has the next datagram to that next hop ask the link layer
/// to revalidate it (`REVALIDATE_NEXT_HOP`, which ARP acts on). Only that one datagram
/// carries the mark, and only after R1.
#[test]
fn retransmissions_at_r1_give_negative_advice_to_ip() {
    use vipe_protocols::ipv4::REVALIDATE_NEXT_HOP;
    use vipe_protocols::tcp::msg;
    use vipe_protocols::wire::tcp::FIN;
    let app = App {
        start: vec![(msg::LISTEN, Some(SocketAddrV4::new(ME, 80)), None)],
        got: vec![],
        close_on_connect: true,
    };
    let (mut node, dev, _, _) = node(app);
    node.handle_input(Instant::from_millis(1), dev, datagram(PEER, ME, &syn(80)));
    let synack = replies(&mut node)[0];
    let mut ack = syn(80);
    ack.flags = ACK;
    ack.seq = SeqNumber(78);
    ack.ack = synack.seq + 1;
    ack.options = TcpOptions {
        timestamps: Some((6, synack.options.timestamps.unwrap().0)),
        ..TcpOptions::default()
    };
    node.handle_input(Instant::from_millis(2), dev, datagram(PEER, ME, &ack));
    // The application closes at once; the peer never answers our FIN.
    let mut fins = Vec::new();
    for ms in (2..20_000).step_by(5) {
        node.handle_timeout(Instant::from_millis(ms));
        while let Some(t) = node.poll_transmit() {
            let ip = Ipv4HeaderView::parse(t.packet.data()).unwrap();
            let seg = Segment::parse(ME, PEER, ip.payload()).unwrap().0;
            if seg.flags & FIN != 0 {
                fins.push(t.packet.meta().mark == REVALIDATE_NEXT_HOP);
            }
        }
    }
    // The FIN, three retransmissions (the third reaches R1), then the marked one.
    assert!(fins.len() >= 6, "{fins:?}");
    assert_eq!(
        &fins[..6],
        [false, false, false, false, true, false],
        "{fins:?}"
    );
    assert_eq!(fins.iter().filter(|&&m| m).count(), 1, "{fins:?}");
}
