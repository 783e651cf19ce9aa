//! The node runtime driven by hand, as a platform would: wiring, keyed ports, the FIFO,
//! timers, drops and fault isolation.

use vipe_rt::prelude::*;
use vipe_rt::{HandlerKind, WiringError};

/// Demultiplexes frames by their first byte to a keyed upper port, and sends whatever
/// comes down from above out of its lower port with the key prepended.
#[protocol]
struct Demux {
    unknown: u64,
}

#[protocol(ports(lower, upper(u8)))]
impl Demux {
    #[on_packet(port = "lower")]
    fn up(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let Ok(&[key]) = pkt.pull(1) else {
            return cx.drop_packet(pkt, "empty frame");
        };
        if cx.is_connected(DemuxPort::Upper(key)) {
            cx.send(DemuxPort::Upper(key), pkt);
        } else {
            self.unknown += 1;
            cx.drop_packet(pkt, "no upper protocol");
        }
    }

    #[on_packet(port = "upper")]
    fn down(&mut self, cx: &mut Cx<Self>, mut pkt: Packet, key: u8) {
        pkt.push_slice(&[key]);
        cx.send(DemuxPort::Lower, pkt);
    }
}

/// Records what it receives and echoes it back down, uppercased.
#[protocol]
#[derive(Default)]
struct Upper {
    seen: Vec<Vec<u8>>,
}

#[protocol]
impl Upper {
    #[on_packet(port = "lower")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.seen.push(pkt.data().to_vec());
        let mut reply = cx.alloc();
        reply.put_slice(&pkt.data().to_ascii_uppercase());
        cx.send(UpperPort::Lower, reply);
    }
}

fn demux_node() -> (Node, DeviceId, Handle<Demux>, Handle<Upper>, Handle<Upper>) {
    let mut node = Node::new(NodeId(7));
    let demux = node.add(Demux { unknown: 0 });
    let a = node.add_named(Upper::default(), "upper-a");
    let b = node.add_named(Upper::default(), "upper-b");
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, demux.port(DemuxPort::Lower)).unwrap();
    node.connect(demux.port(DemuxPort::Upper(b'a')), a.port(UpperPort::Lower))
        .unwrap();
    node.connect(demux.port(DemuxPort::Upper(b'b')), b.port(UpperPort::Lower))
        .unwrap();
    node.start(Instant::ZERO);
    (node, dev, demux, a, b)
}

#[test]
fn keyed_ports_demultiplex_both_ways() {
    let (mut node, dev, demux, a, b) = demux_node();
    node.handle_input(Instant::from_millis(1), dev, Packet::from_slice(b"ahello"));
    node.handle_input(Instant::from_millis(2), dev, Packet::from_slice(b"bworld"));
    node.handle_input(Instant::from_millis(3), dev, Packet::from_slice(b"cnobody"));
    assert_eq!(node.protocol(a).unwrap().seen, [b"hello".to_vec()]);
    assert_eq!(node.protocol(b).unwrap().seen, [b"world".to_vec()]);
    assert_eq!(node.protocol(demux).unwrap().unknown, 1);
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| node.poll_transmit())
        .map(|tx| tx.packet.data().to_vec())
        .collect();
    assert_eq!(sent, [b"aHELLO".to_vec(), b"bWORLD".to_vec()]);
    assert_eq!(node.stats().drops_for("no upper protocol"), 1);
    assert_eq!(node.stats().device_rx, 3);
    assert_eq!(node.stats().device_tx, 2);
}

#[test]
fn received_packets_carry_ingress_and_time() {
    #[protocol]
    #[derive(Default)]
    struct Meta {
        seen: Option<PacketMeta>,
    }
    #[protocol]
    impl Meta {
        #[on_packet(port = "lower")]
        fn rx(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
            self.seen = Some(*pkt.meta());
        }
    }
    let mut node = Node::new(NodeId(1));
    let m = node.add(Meta::default());
    let _unused = node.add_device("eth0", DeviceKind::Frame);
    let dev = node.add_device("eth1", DeviceKind::Frame);
    node.attach(dev, m.port(MetaPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    node.handle_input(Instant::from_millis(5), dev, Packet::from_slice(b"x"));
    let meta = node.protocol(m).unwrap().seen.unwrap();
    assert_eq!(meta.ingress, Some(dev));
    assert_eq!(meta.rx_time, Instant::from_millis(5));
}

#[test]
fn one_way_connections_lead_only_where_they_say() {
    let mut node = Node::new(NodeId(9));
    let inbound = node.add_named(Demux { unknown: 0 }, "inbound");
    let outbound = node.add_named(Demux { unknown: 0 }, "outbound");
    let upper = node.add(Upper::default());
    let d0 = node.add_device("eth0", DeviceKind::Frame);
    let d1 = node.add_device("eth1", DeviceKind::Frame);
    node.attach(d0, inbound.port(DemuxPort::Lower)).unwrap();
    node.attach(d1, outbound.port(DemuxPort::Lower)).unwrap();
    // Up from `inbound`, down through `outbound`: Upper's replies do not go back the way
    // its packets came.
    node.connect_one_way(
        inbound.port(DemuxPort::Upper(b'a')),
        upper.port(UpperPort::Lower),
    )
    .unwrap();
    node.connect_one_way(
        upper.port(UpperPort::Lower),
        outbound.port(DemuxPort::Upper(b'z')),
    )
    .unwrap();
    node.start(Instant::ZERO);

    node.handle_input(Instant::ZERO, d0, Packet::from_slice(b"ahello"));
    assert_eq!(node.protocol(upper).unwrap().seen, [b"hello".to_vec()]);
    let sent = node.poll_transmit().expect("the reply goes out");
    assert_eq!((sent.device, sent.packet.data()), (d1, &b"zHELLO"[..]));
    assert!(node.poll_transmit().is_none());

    // A port leads to one place, whichever way it was connected.
    let again = node.connect_one_way(
        inbound.port(DemuxPort::Upper(b'a')),
        upper.port(UpperPort::Lower),
    );
    assert!(
        matches!(again, Err(WiringError::AlreadyConnected { port }) if port == "inbound.upper[0x61]")
    );
    let both = node.connect(
        upper.port(UpperPort::Lower),
        inbound.port(DemuxPort::Upper(b'b')),
    );
    assert!(matches!(both, Err(WiringError::AlreadyConnected { .. })));
    // Being the target of a one-way connection leaves a port free to lead elsewhere.
    node.connect_one_way(
        outbound.port(DemuxPort::Upper(b'z')),
        upper.port(UpperPort::Lower),
    )
    .unwrap();
}

#[test]
fn wiring_mistakes_are_errors_that_say_what_to_change() {
    let (mut node, dev, demux, a, _) = demux_node();
    let err = node
        .connect(demux.port(DemuxPort::Upper(b'a')), a.port(UpperPort::Lower))
        .unwrap_err();
    assert!(matches!(err, WiringError::AlreadyConnected { .. }));
    assert!(err.to_string().contains("Demux.upper[0x61]"), "{err}");
    let err = node.attach(dev, a.port(UpperPort::Lower)).unwrap_err();
    assert!(err.to_string().contains("eth0"), "{err}");
    let err = node
        .attach(DeviceId(9), a.port(UpperPort::Lower))
        .unwrap_err();
    assert_eq!(err, WiringError::UnknownDevice(DeviceId(9)));
    let mut other = Node::new(NodeId(2));
    let err = other
        .attach(DeviceId(0), a.port(UpperPort::Lower))
        .unwrap_err();
    assert_eq!(err, WiringError::UnknownInstance(a.id()));
}

/// A protocol with every kind of timer use.
#[protocol]
#[derive(Default)]
struct Clock {
    log: Vec<(u64, String)>,
}

#[protocol]
impl Clock {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_periodic(ClockTimer::Tick, Duration::from_millis(10));
        cx.start_timer(ClockTimer::Once(1), Duration::from_millis(15));
        cx.start_timer(ClockTimer::Once(2), Duration::from_millis(15));
        cx.start_timer(ClockTimer::Once(3), Duration::from_millis(15));
        cx.cancel_timer(&ClockTimer::Once(2));
        // Re-arming replaces: Once(3) fires at 25 ms, not 15 ms.
        cx.start_timer(ClockTimer::Once(3), Duration::from_millis(25));
    }

    #[on_timer]
    fn tick(&mut self, cx: &mut Cx<Self>) {
        self.log.push((cx.now().as_millis(), "tick".into()));
        if cx.now() >= Instant::from_millis(30) {
            cx.cancel_timer(&ClockTimer::Tick);
        }
    }

    #[on_timer]
    fn once(&mut self, cx: &mut Cx<Self>, id: u32) {
        self.log.push((cx.now().as_millis(), format!("once {id}")));
    }
}

#[test]
fn timers_fire_in_order_rearm_cancel_and_repeat() {
    let mut node = Node::new(NodeId(1));
    let clock = node.add(Clock::default());
    node.start(Instant::ZERO);
    let mut fired_at = Vec::new();
    while let Some(deadline) = node.next_deadline() {
        fired_at.push(deadline.as_millis());
        node.handle_timeout(deadline);
    }
    let log: Vec<(u64, &str)> = node
        .protocol(clock)
        .unwrap()
        .log
        .iter()
        .map(|(t, s)| (*t, s.as_str()))
        .collect();
    assert_eq!(
        log,
        [
            (10, "tick"),
            (15, "once 1"),
            (20, "tick"),
            (25, "once 3"),
            (30, "tick")
        ]
    );
    assert_eq!(fired_at, [10, 15, 20, 25, 30]);
    assert_eq!(node.stats().timers_fired, 5);
}

#[test]
fn a_late_timeout_fires_everything_due_in_deadline_order() {
    let mut node = Node::new(NodeId(1));
    let clock = node.add(Clock::default());
    node.start(Instant::ZERO);
    node.handle_timeout(Instant::from_millis(26));
    let log = &node.protocol(clock).unwrap().log;
    // The periodic timer catches up without drift: 10 and 20, not 26 and 36.
    assert_eq!(
        log.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["tick", "once 1", "tick", "once 3"]
    );
    assert_eq!(node.next_deadline(), Some(Instant::from_millis(30)));
}

/// Handlers that panic: caught only with `std` (without it a handler's panic is the
/// platform's to handle).
#[cfg(feature = "std")]
mod panics {
    use super::*;
    use vipe_rt::InstanceState;

    /// Panics on a chosen payload; otherwise forwards.
    #[protocol]
    #[derive(Default)]
    struct Fragile {
        forwarded: u64,
    }

    #[protocol]
    impl Fragile {
        #[on_start]
        fn start(&mut self, cx: &mut Cx<Self>) {
            cx.start_periodic(FragileTimer::Beat, Duration::from_millis(1));
        }

        #[on_packet(port = "lower")]
        fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
            assert_ne!(pkt.data(), b"boom", "fragile protocol got a bomb");
            self.forwarded += 1;
            cx.send(FragilePort::Lower, pkt);
        }

        #[on_timer]
        fn beat(&mut self, _cx: &mut Cx<Self>) {}
    }

    #[test]
    fn a_panicking_handler_stops_only_its_instance() {
        let mut node = Node::new(NodeId(3));
        let fragile = node.add(Fragile::default());
        let sturdy = node.add(Upper::default());
        let d0 = node.add_device("eth0", DeviceKind::Frame);
        let d1 = node.add_device("eth1", DeviceKind::Frame);
        node.attach(d0, fragile.port(FragilePort::Lower)).unwrap();
        node.attach(d1, sturdy.port(UpperPort::Lower)).unwrap();
        node.start(Instant::ZERO);

        node.handle_input(Instant::from_millis(1), d0, Packet::from_slice(b"fine"));
        node.handle_input(Instant::from_millis(2), d0, Packet::from_slice(b"boom"));
        node.handle_input(Instant::from_millis(3), d0, Packet::from_slice(b"after"));
        node.handle_input(
            Instant::from_millis(4),
            d1,
            Packet::from_slice(b"still here"),
        );

        let faults = node.faults();
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].protocol, "Fragile");
        assert_eq!(faults[0].handler, "receive");
        assert_eq!(faults[0].instance, fragile.id());
        assert!(
            faults[0].message.contains("fragile protocol got a bomb"),
            "{}",
            faults[0].message
        );
        assert_eq!(faults[0].time, Instant::from_millis(2));

        let states: Vec<InstanceState> = node.instances().map(|(_, _, _, s)| s).collect();
        assert_eq!(states, [InstanceState::Failed, InstanceState::Running]);
        assert_eq!(node.protocol(fragile).unwrap().forwarded, 1);
        assert_eq!(
            node.protocol(sturdy).unwrap().seen,
            [b"still here".to_vec()]
        );
        assert_eq!(node.stats().drops_for("instance not running"), 1);
        // The failed instance's periodic timer is gone: the node has nothing left to do.
        assert_eq!(node.next_deadline(), None);
    }

    /// Copies every packet from below to both of its upper ports, in that order.
    #[protocol]
    struct Fanout;

    #[protocol(ports(lower, first, second))]
    impl Fanout {
        #[on_packet(port = "lower")]
        fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
            let mut copy = cx.alloc();
            copy.put_slice(pkt.data());
            cx.send(FanoutPort::First, pkt);
            cx.send(FanoutPort::Second, copy);
        }
    }

    #[test]
    fn a_panic_in_the_middle_of_a_run_spares_the_events_queued_behind_it() {
        let mut node = Node::new(NodeId(4));
        let fanout = node.add(Fanout);
        let fragile = node.add(Fragile::default());
        let sturdy = node.add(Upper::default());
        let d0 = node.add_device("eth0", DeviceKind::Frame);
        node.attach(d0, fanout.port(FanoutPort::Lower)).unwrap();
        node.connect(
            fanout.port(FanoutPort::First),
            fragile.port(FragilePort::Lower),
        )
        .unwrap();
        node.connect(
            fanout.port(FanoutPort::Second),
            sturdy.port(UpperPort::Lower),
        )
        .unwrap();
        node.start(Instant::ZERO);

        // One input, three handlers in one run: Fanout, then Fragile (panics), then Upper.
        node.handle_input(Instant::from_millis(1), d0, Packet::from_slice(b"boom"));
        node.handle_input(Instant::from_millis(2), d0, Packet::from_slice(b"next"));

        let faults = node.faults();
        assert_eq!(faults.len(), 1);
        assert_eq!(
            (faults[0].instance, faults[0].handler),
            (fragile.id(), "receive")
        );
        assert_eq!(
            node.protocol(sturdy).unwrap().seen,
            [b"boom".to_vec(), b"next".to_vec()]
        );
        // The second packet found Fragile stopped.
        assert_eq!(node.stats().drops_for("instance not running"), 1);
        // Three starts; Fanout, Fragile, Upper and Fanout again for Upper's reply (a port
        // without a handler), then the same without Fragile.
        assert_eq!(node.stats().events, 3 + 4 + 3);
        assert_eq!(node.stats().drops_for("no handler for port"), 2);
    }
}

/// Sends on a port that leads nowhere.
#[protocol]
struct Lonely;

#[protocol(ports(lower, nowhere))]
impl Lonely {
    #[on_packet(port = "lower")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(LonelyPort::Nowhere, pkt);
    }
}

#[test]
fn sending_on_an_unconnected_port_is_a_counted_drop() {
    let mut node = Node::new(NodeId(1));
    let lonely = node.add(Lonely);
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, lonely.port(LonelyPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    node.handle_input(Instant::ZERO, dev, Packet::from_slice(b"x"));
    assert_eq!(node.stats().drops_for("unconnected port"), 1);
    assert!(node.poll_transmit().is_none());
    let unattached = node.add_device("eth1", DeviceKind::Frame);
    node.handle_input(Instant::ZERO, unattached, Packet::from_slice(b"x"));
    assert_eq!(node.stats().drops_for("device not attached"), 1);
}

/// Passes what comes from the device to its peer, and bounces what the peer sends back
/// to it, forever, in zero time.
#[protocol]
struct Bouncer;

#[protocol]
impl Bouncer {
    #[on_packet(port = "lower")]
    fn inject(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(BouncerPort::Peer, pkt);
    }

    #[on_packet(port = "peer")]
    fn bounce(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(BouncerPort::Peer, pkt);
    }
}

#[test]
fn an_event_storm_yields_back_to_the_platform() {
    let mut config = NodeConfig::new(NodeId(1));
    config.max_events_per_call = 1000;
    let mut node = Node::with_config(config);
    let a = node.add(Bouncer);
    let b = node.add(Bouncer);
    node.connect(a.port(BouncerPort::Peer), b.port(BouncerPort::Peer))
        .unwrap();
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, a.port(BouncerPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    let before = node.stats().events;
    node.handle_input(Instant::from_millis(1), dev, Packet::from_slice(b"x"));
    // The call returned after its budget, and the node asks to be called again now.
    assert_eq!(node.stats().events - before, 1000);
    assert_eq!(node.next_deadline(), Some(Instant::from_millis(1)));
    node.handle_timeout(Instant::from_millis(1));
    assert_eq!(node.stats().events - before, 2000);
    assert_eq!(node.next_deadline(), Some(Instant::from_millis(1)));
}

#[test]
fn descriptors_name_ports_timers_and_handlers() {
    let d = <Clock as Protocol>::DESCRIPTOR;
    assert_eq!(d.name, "Clock");
    assert!(d.ports.is_empty());
    let timers: Vec<(&str, &[&str], &str)> = d
        .timers
        .iter()
        .map(|t| (t.name, t.args, t.handler))
        .collect();
    assert_eq!(
        timers,
        [("Tick", &[][..], "tick"), ("Once", &["u32"][..], "once")]
    );
    assert_eq!(d.handlers[0].kind, HandlerKind::Start);
    let d = <Demux as Protocol>::DESCRIPTOR;
    assert_eq!(d.ports[1].name, "upper");
    assert_eq!(d.ports[1].key, Some("u8"));
    assert_eq!(d.ports[1].handler, Some("down"));
    let d = <Lonely as Protocol>::DESCRIPTOR;
    assert_eq!(d.ports[1].handler, None);
}
