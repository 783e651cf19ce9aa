//! The ns-3 platform's runtime: timers on ns-3's scheduler (and their cancellation),
//! raw frames over CSMA and point-to-point, panics kept out of C++, one world at a time,
//! and configuration errors caught before a run.
#![cfg(feature = "ns3")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use vipe_platforms::ns3::{CsmaConfig, Ipv4Setup, Ns3Error, Ns3World, P2pConfig};
use vipe_rt::prelude::*;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

/// Sends one raw frame (`frame`) at `at`, and keeps every frame it receives.
#[protocol(name = "poker")]
struct Poker {
    at: Duration,
    frame: Vec<u8>,
    received: Vec<(Instant, Vec<u8>)>,
}

#[protocol]
impl Poker {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if !self.frame.is_empty() {
            cx.start_timer(PokerTimer::Send, self.at);
        }
    }

    #[on_timer]
    fn send(&mut self, cx: &mut Cx<Self>) {
        let mut pkt = cx.alloc();
        pkt.put_slice(&self.frame);
        cx.send(PokerPort::Wire, pkt);
    }

    #[on_packet(port = "wire")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.received.push((cx.now(), pkt.data().to_vec()));
    }
}

/// Arms an alarm at 5 ms and a late timer at 8 ms; a frame arriving cancels the alarm.
#[protocol(name = "alarm")]
#[derive(Default)]
struct Alarm {
    fired: Vec<(&'static str, Instant)>,
    frames: Vec<Vec<u8>>,
}

#[protocol]
impl Alarm {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_timer(AlarmTimer::Ring, Duration::from_millis(5));
        cx.start_timer(AlarmTimer::Late, Duration::from_millis(8));
    }

    #[on_timer]
    fn ring(&mut self, cx: &mut Cx<Self>) {
        self.fired.push(("ring", cx.now()));
    }

    #[on_timer]
    fn late(&mut self, cx: &mut Cx<Self>) {
        self.fired.push(("late", cx.now()));
    }

    #[on_packet(port = "wire")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.frames.push(pkt.data().to_vec());
        cx.cancel_timer(&AlarmTimer::Ring);
    }
}

/// Panics on every frame.
#[protocol(name = "grenade")]
struct Grenade;

#[protocol]
impl Grenade {
    #[on_packet(port = "wire")]
    fn receive(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {
        panic!("grenade went off");
    }
}

fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload_len: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend((0..payload_len).map(|i| i as u8));
    f
}

#[test]
fn timers_fire_at_ns3_time_and_cancelled_ones_leave_the_scheduler() {
    let mut world = Ns3World::new(7).unwrap();
    let (p, t) = (world.add_node(), world.add_node());
    let lan = world
        .csma_channel(CsmaConfig::default().delay(Duration::from_micros(10)))
        .unwrap();
    let dp = world.attach_csma(p, lan, MAC_A).unwrap();
    let dt = world.attach_csma(t, lan, MAC_B).unwrap();
    let sent = frame([0xff; 6], MAC_A, 0x88b5, 50);
    let poker = world.node_mut(p).unwrap().add(Poker {
        at: Duration::from_millis(2),
        frame: sent.clone(),
        received: Vec::new(),
    });
    let node = world.node_mut(p).unwrap();
    node.attach(dp.device, poker.port(PokerPort::Wire)).unwrap();
    let alarm = world.node_mut(t).unwrap().add(Alarm::default());
    let node = world.node_mut(t).unwrap();
    node.attach(dt.device, alarm.port(AlarmPort::Wire)).unwrap();

    let run = world.run_until(Instant::from_millis(10)).unwrap();
    assert_eq!(run.now, Instant::from_millis(10));
    assert_eq!(world.now(), Instant::from_millis(10));
    let a = world.node(t).unwrap().protocol(alarm).unwrap();
    // The alarm was cancelled at 2 ms (+ the frame's time on the wire); only the late
    // timer fired, at exactly 8 ms of ns-3 time.
    assert_eq!(a.fired, vec![("late", Instant::from_millis(8))]);
    // The broadcast frame with a private EtherType arrived whole.
    assert_eq!(a.frames, vec![sent]);
    let stats = world.stats();
    // Two wake-ups: the poker's at 2 ms and the alarm node's at 8 ms. The alarm node's
    // wake-up for 5 ms was removed from ns-3's scheduler when the alarm was cancelled.
    assert_eq!(stats.wakeups, 2, "{stats:?}");
    assert_eq!(stats.frames_sent, 1);
    assert_eq!(stats.frames_received, 1);
    assert!(stats.drops.is_empty(), "{:?}", stats.drops);
    // ns-3 ran both wake-ups, the CSMA transmission and reception, and the end of run.
    assert!(run.events >= 4 && run.events < 20, "{run:?}");
}

#[test]
fn point_to_point_carries_ipv4_frames_and_drops_other_ethertypes() {
    let mut world = Ns3World::new(1).unwrap();
    let (a, b) = (world.add_node(), world.add_node());
    let (da, db) = world
        .p2p_link(a, b, P2pConfig::default(), MAC_A, MAC_B)
        .unwrap();
    // The sender's own header addresses are not carried by PPP: the receiver sees the
    // link's addresses (from the peer's MAC to its own).
    let ipv4 = frame([0x33; 6], [0x44; 6], 0x0800, 60);
    let poker = world.node_mut(a).unwrap().add(Poker {
        at: Duration::from_millis(1),
        frame: ipv4.clone(),
        received: Vec::new(),
    });
    world
        .node_mut(a)
        .unwrap()
        .attach(da.device, poker.port(PokerPort::Wire))
        .unwrap();
    let arp = frame([0xff; 6], MAC_B, 0x0806, 46);
    let sink = world.node_mut(b).unwrap().add(Poker {
        at: Duration::from_millis(1),
        frame: arp,
        received: Vec::new(),
    });
    world
        .node_mut(b)
        .unwrap()
        .attach(db.device, sink.port(PokerPort::Wire))
        .unwrap();
    world.run_until(Instant::from_millis(20)).unwrap();
    let got = &world.node(b).unwrap().protocol(sink).unwrap().received;
    assert_eq!(got.len(), 1, "{got:?}");
    let (at, bytes) = &got[0];
    assert_eq!(&bytes[0..6], &MAC_B);
    assert_eq!(&bytes[6..12], &MAC_A);
    assert_eq!(&bytes[12..], &ipv4[12..]);
    // 1 ms of delay plus (2 + 60 bytes) at 100 Mb/s.
    assert_eq!(*at, Instant::from_nanos(1_000_000 + 1_000_000 + 62 * 80));
    assert!(
        world
            .node(a)
            .unwrap()
            .protocol(poker)
            .unwrap()
            .received
            .is_empty()
    );
    assert_eq!(
        world
            .stats()
            .drops
            .get("EtherType not carried by point-to-point (IPv4 and IPv6 only)"),
        Some(&1)
    );
}

#[test]
fn a_panicking_handler_stops_its_instance_and_the_simulation_goes_on() {
    let mut world = Ns3World::new(3).unwrap();
    let (p, g) = (world.add_node(), world.add_node());
    let lan = world.csma_channel(CsmaConfig::default()).unwrap();
    let dp = world.attach_csma(p, lan, MAC_A).unwrap();
    let dg = world.attach_csma(g, lan, MAC_B).unwrap();
    let poker = world.node_mut(p).unwrap().add(Poker {
        at: Duration::from_millis(1),
        frame: frame([0xff; 6], MAC_A, 0x88b5, 46),
        received: Vec::new(),
    });
    world
        .node_mut(p)
        .unwrap()
        .attach(dp.device, poker.port(PokerPort::Wire))
        .unwrap();
    let grenade = world.node_mut(g).unwrap().add(Grenade);
    world
        .node_mut(g)
        .unwrap()
        .attach(dg.device, grenade.port(GrenadePort::Wire))
        .unwrap();
    let run = world.run_until(Instant::from_millis(5)).unwrap();
    assert_eq!(run.now, Instant::from_millis(5));
    let faults = world.node(g).unwrap().faults();
    assert_eq!(faults.len(), 1);
    assert!(faults[0].message.contains("grenade went off"), "{faults:?}");
}

#[test]
fn a_panic_in_a_callback_stops_the_run_and_never_reaches_cpp() {
    let mut world = Ns3World::new(4).unwrap();
    let (p, q) = (world.add_node(), world.add_node());
    let lan = world.csma_channel(CsmaConfig::default()).unwrap();
    let dp = world.attach_csma(p, lan, MAC_A).unwrap();
    world.attach_csma(q, lan, MAC_B).unwrap();
    let poker = world.node_mut(p).unwrap().add(Poker {
        at: Duration::from_millis(1),
        frame: frame([0xff; 6], MAC_A, 0x88b5, 46),
        received: Vec::new(),
    });
    world
        .node_mut(p)
        .unwrap()
        .attach(dp.device, poker.port(PokerPort::Wire))
        .unwrap();
    // The stop condition is user code run inside ns-3's callbacks.
    let result = world.run_until_done(Instant::from_secs(1), |view| {
        if view.now() >= Instant::from_millis(1) {
            panic!("condition exploded");
        }
        false
    });
    match result {
        Err(Ns3Error::Panicked(why)) => assert!(why.contains("condition exploded"), "{why}"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    // Stopped right there, at the first event at 1 ms, not at the end time.
    assert_eq!(world.now(), Instant::from_millis(1));
    assert!(matches!(
        world.run_until(Instant::from_secs(2)),
        Err(Ns3Error::Panicked(_))
    ));
    drop(world);
    // The next world starts cleanly.
    let mut world = Ns3World::new(5).unwrap();
    world.add_node();
    assert_eq!(
        world.run_until(Instant::from_millis(3)).unwrap().now,
        Instant::from_millis(3)
    );
}

#[test]
fn worlds_never_overlap_and_a_second_on_one_thread_is_refused() {
    let active = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (active, most) = (active.clone(), most.clone());
            std::thread::spawn(move || {
                let mut world = Ns3World::new(i).unwrap();
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                {
                    let mut m = most.lock().unwrap();
                    *m = (*m).max(now);
                }
                assert!(matches!(Ns3World::new(99), Err(Ns3Error::WorldExists)));
                world.add_node();
                world.run_until(Instant::from_millis(50)).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
                active.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*most.lock().unwrap(), 1);
}

#[test]
fn misconfiguration_is_reported_before_running() {
    let mut world = Ns3World::new(6).unwrap();
    let a = world.add_node();
    let lan = world.csma_channel(CsmaConfig::default()).unwrap();
    assert!(matches!(
        world.csma_channel(CsmaConfig::default().data_rate(0)),
        Err(Ns3Error::BadConfig(_))
    ));
    assert!(matches!(
        world.attach_csma(NodeId(9), lan, MAC_A),
        Err(Ns3Error::UnknownNode(NodeId(9)))
    ));
    assert!(matches!(
        world.attach_csma(a, vipe_platforms::ns3::ChannelId(5), MAC_A),
        Err(Ns3Error::UnknownChannel(_))
    ));
    assert!(matches!(
        world.p2p_link(a, a, P2pConfig::default(), MAC_A, MAC_B),
        Err(Ns3Error::SelfLink(_))
    ));
    let err = world
        .udp_socket(a, "10.0.0.1:9".parse().unwrap())
        .unwrap_err();
    assert!(matches!(err, Ns3Error::NoInternetStack(_)));
    assert!(err.to_string().contains("ipv4_interface"), "{err}");
    world
        .ipv4_interface(
            a,
            lan,
            MAC_A,
            Ipv4Setup {
                addr: "10.0.0.1".parse().unwrap(),
                prefix_len: 24,
                gateway: None,
            },
        )
        .unwrap();
    // Not one of the node's addresses.
    assert!(matches!(
        world.udp_socket(a, "10.9.9.9:9".parse().unwrap()),
        Err(Ns3Error::Bind(_))
    ));
    world.udp_socket(a, "10.0.0.1:9".parse().unwrap()).unwrap();
    // The port is taken.
    assert!(matches!(
        world.udp_socket(a, "10.0.0.1:9".parse().unwrap()),
        Err(Ns3Error::Bind(_))
    ));
    assert!(matches!(
        world
            .run_until(Instant::from_millis(1))
            .and_then(|_| world.run_until(Instant::ZERO)),
        Err(Ns3Error::BadConfig(_))
    ));
}
