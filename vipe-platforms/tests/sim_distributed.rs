//! The simulator for distributed systems: the datagram underlay, faults at simulated
//! times, churn, observers and topology builders.

use std::net::SocketAddr;
use std::path::PathBuf;

use vipe_platforms::sim::churn::{self, Arrival, ChurnConfig, Departure, Lifetime};
use vipe_platforms::sim::{
    Control, DelayModel, Fault, FaultSchedule, LinkConfig, NodeState, PathConfig, SimError,
    Simulator, StopReason, TraceKind, node_addr, topology,
};
use vipe_rt::prelude::*;

/// Every `period`, sends a datagram `[tag, seq]` to each peer; records what arrives, and
/// says goodbye to its peers when stopped.
#[protocol]
#[derive(Debug, Default)]
struct Beacon {
    peers: Vec<SocketAddr>,
    period: Duration,
    tag: u8,
    seq: u32,
    started_at: Option<Instant>,
    ticks: Vec<Instant>,
    received: Vec<(Instant, SocketAddr, Vec<u8>)>,
    stopped: bool,
}

#[protocol]
impl Beacon {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        self.started_at = Some(cx.now());
        if !self.period.is_zero() {
            cx.start_periodic(BeaconTimer::Tick, self.period);
        }
    }

    #[on_timer]
    fn tick(&mut self, cx: &mut Cx<Self>) {
        self.ticks.push(cx.now());
        for i in 0..self.peers.len() {
            let mut pkt = cx.alloc();
            pkt.put_slice(&[self.tag]);
            pkt.put_slice(&self.seq.to_be_bytes());
            pkt.meta_mut().dst = Some(self.peers[i]);
            cx.send(BeaconPort::Net, pkt);
        }
        self.seq += 1;
    }

    #[on_packet(port = "net")]
    fn rx(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let from = pkt.meta().src.expect("the underlay sets the source");
        self.received.push((cx.now(), from, pkt.data().to_vec()));
    }

    #[on_stop]
    fn stop(&mut self, cx: &mut Cx<Self>) {
        self.stopped = true;
        for i in 0..self.peers.len() {
            let mut pkt = cx.alloc();
            pkt.put_slice(b"bye");
            pkt.meta_mut().dst = Some(self.peers[i]);
            cx.send(BeaconPort::Net, pkt);
        }
    }
}

const PORT: u16 = 4000;

/// `n` nodes with a datagram device each on `PORT`, all beaconing to `targets(i)`
/// every `period`.
fn world(
    seed: u64,
    n: u32,
    delay: &str,
    period: Duration,
    targets: impl Fn(u32) -> Vec<u32>,
) -> (Simulator, Vec<Handle<Beacon>>) {
    let mut sim = Simulator::new(seed);
    sim.set_underlay(PathConfig::new(delay.parse().unwrap()))
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..n {
        let id = sim.add_node();
        let end = sim.add_datagram_device(id, PORT).unwrap();
        assert_eq!(end.addr, node_addr(id, PORT));
        let node = sim.node_mut(id).unwrap();
        let h = node.add(Beacon {
            peers: targets(i)
                .into_iter()
                .map(|t| node_addr(NodeId(t), PORT))
                .collect(),
            period,
            tag: i as u8,
            ..Beacon::default()
        });
        node.attach(end.device, h.port(BeaconPort::Net)).unwrap();
        handles.push(h);
    }
    (sim, handles)
}

fn beacon(sim: &Simulator, id: u32, h: Handle<Beacon>) -> &Beacon {
    sim.node(NodeId(id))
        .unwrap()
        .protocol(h)
        .expect("node has its beacon")
}

/// A factory that rebuilds node `i` like `world` does.
fn beacon_factory(
    period: Duration,
    targets: fn(u32) -> Vec<u32>,
) -> impl FnMut(&mut vipe_platforms::sim::NodeSetup<'_>) -> Result<(), String> {
    move |setup| {
        let end = setup.datagram_device(PORT);
        let id = setup.id().0;
        let node = setup.node();
        let h = node.add(Beacon {
            peers: targets(id)
                .into_iter()
                .map(|t| node_addr(NodeId(t), PORT))
                .collect(),
            period,
            tag: id as u8,
            ..Beacon::default()
        });
        node.attach(end.device, h.port(BeaconPort::Net))
            .map_err(|e| e.to_string())
    }
}

#[test]
fn datagrams_reach_any_address_after_the_model_delay_with_the_source_set() {
    let (mut sim, h) = world(1, 3, "const:10ms", Duration::from_millis(100), |i| {
        if i == 0 { vec![1, 2] } else { vec![] }
    });
    sim.run_until(Instant::from_millis(250));
    for dst in [1, 2] {
        let got = &beacon(&sim, dst, h[dst as usize]).received;
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, Instant::from_millis(110));
        assert_eq!(got[0].1, node_addr(NodeId(0), PORT));
        assert_eq!(got[0].2, [0, 0, 0, 0, 0]);
        assert_eq!(got[1].0, Instant::from_millis(210));
    }
    assert_eq!(sim.stats().delivered, 4);
    assert_eq!(sim.stats().transmitted, 4);
}

#[test]
fn datagrams_to_no_underlay_address_or_port_are_dropped_as_no_route() {
    let mut sim = Simulator::new(1);
    let a = sim.add_node();
    let b = sim.add_node();
    let end = sim.add_datagram_device(a, PORT).unwrap();
    sim.add_datagram_device(b, PORT).unwrap();
    assert_eq!(
        sim.add_datagram_device(b, PORT),
        Err(SimError::PortInUse(b, PORT))
    );
    let node = sim.node_mut(a).unwrap();
    let h = node.add(Beacon {
        peers: vec![
            "192.0.2.1:9".parse().unwrap(),
            node_addr(b, PORT + 1),
            node_addr(NodeId(77), PORT),
            node_addr(b, PORT),
        ],
        period: Duration::from_millis(10),
        ..Beacon::default()
    });
    node.attach(end.device, h.port(BeaconPort::Net)).unwrap();
    sim.run_until(Instant::from_millis(15));
    // Not an underlay address, and a node that does not exist: refused at once; no device
    // on that port: found on arrival.
    assert_eq!(sim.stats().drops_for("no route"), 3);
    assert_eq!(sim.stats().transmitted, 2);
    assert_eq!(sim.stats().delivered, 1);
}

#[test]
fn loss_duplication_and_jitter_follow_their_settings() {
    let n = 20_000u32;
    let (mut sim, h) = world(3, 2, "const:5ms", Duration::from_micros(100), |i| {
        if i == 0 { vec![1] } else { vec![] }
    });
    sim.set_underlay(
        PathConfig::new("const:5ms".parse().unwrap())
            .loss(0.1)
            .duplicate(0.2)
            .jitter(Duration::from_millis(2)),
    )
    .unwrap();
    sim.run_until(Instant::from_nanos(100_000 * u64::from(n)));
    let n = beacon(&sim, 0, h[0]).seq;
    // Silence the sender and let the last datagrams land.
    sim.crash(NodeId(0)).unwrap();
    sim.run_for(Duration::from_millis(10));
    let stats = sim.stats().clone();
    let lost = stats.drops_for("underlay loss") as f64;
    // Binomial(20100, 0.1): sd 42.
    assert!((lost - 0.1 * f64::from(n)).abs() < 200.0, "lost {lost}");
    let sent = f64::from(n) - lost;
    let dup = stats.duplicated as f64;
    assert!(
        (dup - 0.2 * sent).abs() < 5.0 * (sent * 0.2 * 0.8).sqrt(),
        "dup {dup}"
    );
    let got = &beacon(&sim, 1, h[1]).received;
    assert_eq!(
        got.len() as u64,
        u64::from(n) - lost as u64 + stats.duplicated
    );
    // Every delay lies in [5 ms, 7 ms]; 2 ms of jitter against 100 µs spacing reorders.
    let seqs: Vec<u32> = got
        .iter()
        .map(|(_, _, d)| u32::from_be_bytes(d[1..5].try_into().unwrap()))
        .collect();
    let reordered = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(reordered > 1000, "only {reordered} reorderings");
    for (t, _, d) in got {
        let seq = u64::from(u32::from_be_bytes(d[1..5].try_into().unwrap()));
        let sent_at = 100_000 * (seq + 1);
        let delay = t.as_nanos() - sent_at;
        assert!((5_000_000..=7_000_000).contains(&delay), "delay {delay}");
    }
}

#[test]
fn paths_go_down_up_and_change_at_scheduled_times() {
    let (mut sim, h) = world(1, 3, "const:10ms", Duration::from_millis(100), |i| {
        if i == 0 { vec![1, 2] } else { vec![] }
    });
    sim.schedule(
        FaultSchedule::new()
            .at(
                Instant::from_millis(150),
                Fault::PathDown(NodeId(0), NodeId(1)),
            )
            .at(
                Instant::from_millis(350),
                Fault::PathUp(NodeId(1), NodeId(0)),
            )
            .at(
                Instant::from_millis(450),
                Fault::PathChange(
                    NodeId(0),
                    NodeId(2),
                    PathConfig::new(DelayModel::Constant(Duration::from_millis(30))),
                ),
            ),
    )
    .unwrap();
    sim.run_until(Instant::from_millis(600));
    let at = |n: u32| -> Vec<u64> {
        beacon(&sim, n, h[n as usize])
            .received
            .iter()
            .map(|r| r.0.as_millis())
            .collect()
    };
    assert_eq!(
        at(1),
        [110, 410, 510, 610]
            .into_iter()
            .filter(|&t| t <= 600)
            .collect::<Vec<_>>()
    );
    assert_eq!(at(2), [110, 210, 310, 410, 530]);
    assert_eq!(sim.stats().drops_for("path down"), 2);
}

#[test]
fn a_partition_cuts_islands_off_until_healed() {
    // Everyone beacons to everyone, every 100 ms, 10 ms away.
    let all = |i: u32| (0..4).filter(|&j| j != i).collect();
    let (mut sim, h) = world(1, 4, "const:10ms", Duration::from_millis(100), all);
    sim.schedule(
        FaultSchedule::new()
            .at(
                Instant::from_millis(150),
                Fault::Partition(vec![NodeId(0), NodeId(1)]),
            )
            .at(Instant::from_millis(350), Fault::Heal),
    )
    .unwrap();
    sim.run_until(Instant::from_millis(450));
    // Node 0 hears 1 always, 2 and 3 only at 100 and 400.
    let from = |src: u32| -> Vec<u64> {
        beacon(&sim, 0, h[0])
            .received
            .iter()
            .filter(|r| r.1 == node_addr(NodeId(src), PORT))
            .map(|r| r.0.as_millis())
            .collect()
    };
    assert_eq!(from(1), [110, 210, 310, 410]);
    assert_eq!(from(2), [110, 410]);
    assert_eq!(from(3), [110, 410]);
    // Two ticks (200, 300) × 8 crossing pairs.
    assert_eq!(sim.stats().drops_for("partitioned"), 16);
}

#[test]
fn a_crash_loses_state_and_a_restart_is_a_fresh_instance_without_stale_timers() {
    let to_zero = |i: u32| if i == 0 { vec![] } else { vec![0] };
    let (mut sim, h) = world(1, 2, "const:10ms", Duration::from_millis(100), to_zero);
    sim.set_factory(beacon_factory(Duration::from_millis(100), |i| {
        if i == 0 { vec![] } else { vec![0] }
    }));
    sim.enable_trace();
    sim.schedule(
        FaultSchedule::new()
            .at(Instant::from_millis(250), Fault::Crash(NodeId(0)))
            .at(Instant::from_millis(420), Fault::Restart(NodeId(0))),
    )
    .unwrap();
    sim.run_until(Instant::from_millis(240));
    assert_eq!(beacon(&sim, 0, h[0]).received.len(), 2);
    sim.run_until(Instant::from_millis(400));
    assert_eq!(sim.node_state(NodeId(0)), Some(NodeState::Crashed));
    assert!(
        sim.node(NodeId(0)).unwrap().protocol(h[0]).is_none(),
        "a crashed node holds no protocol state"
    );
    sim.run_until(Instant::from_millis(1000));
    assert_eq!(sim.incarnation(NodeId(0)), Some(1));
    let fresh = beacon(&sim, 0, h[0]);
    assert!(!fresh.stopped);
    assert_eq!(fresh.started_at, Some(Instant::from_millis(420)));
    // Its own timer runs on its own phase: 520, 620, ...; the old phase (300, 400, ...)
    // never fires again.
    let ticks: Vec<u64> = fresh.ticks.iter().map(|t| t.as_millis()).collect();
    assert_eq!(ticks, [520, 620, 720, 820, 920]);
    // It hears node 1 again from the first beacon after the restart (510 ms on).
    let heard: Vec<u64> = fresh.received.iter().map(|r| r.0.as_millis()).collect();
    assert_eq!(heard, [510, 610, 710, 810, 910]);
    // Beacons at 300 and 400 (arriving 310, 410) hit a dead node.
    assert_eq!(sim.stats().drops_for("node down"), 2);
    assert_eq!((sim.stats().crashes, sim.stats().restarts), (1, 1));
    let kinds: Vec<TraceKind> = sim
        .trace()
        .iter()
        .filter(|e| e.node == NodeId(0))
        .map(|e| e.kind)
        .filter(|k| {
            matches!(
                k,
                TraceKind::Crash | TraceKind::Restart | TraceKind::NodeDown
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            TraceKind::Crash,
            TraceKind::NodeDown,
            TraceKind::NodeDown,
            TraceKind::Restart
        ]
    );
}

#[test]
fn a_graceful_leave_runs_on_stop_and_its_goodbyes_go_out() {
    let pair = |i: u32| vec![1 - i];
    let (mut sim, h) = world(1, 2, "const:10ms", Duration::from_millis(100), pair);
    sim.schedule(FaultSchedule::new().at(Instant::from_millis(150), Fault::Leave(NodeId(0))))
        .unwrap();
    sim.run_until(Instant::from_millis(500));
    assert!(beacon(&sim, 0, h[0]).stopped, "on_stop ran");
    assert_eq!(sim.node_state(NodeId(0)), Some(NodeState::Left));
    let got: Vec<(u64, Vec<u8>)> = beacon(&sim, 1, h[1])
        .received
        .iter()
        .map(|r| (r.0.as_millis(), r.2.clone()))
        .collect();
    assert_eq!(got, [(110, vec![0, 0, 0, 0, 0]), (160, b"bye".to_vec())]);
    assert_eq!(sim.stats().leaves, 1);
    assert_eq!(
        sim.stats().drops_for("node down"),
        3,
        "node 1's beacons at 200..400"
    );
}

#[test]
fn a_node_added_mid_run_starts_and_fires_its_first_timer() {
    let (mut sim, _) = world(1, 1, "const:10ms", Duration::ZERO, |_| vec![]);
    sim.run_until(Instant::from_secs(1));
    let id = sim.add_node();
    let end = sim.add_datagram_device(id, PORT).unwrap();
    let node = sim.node_mut(id).unwrap();
    let h = node.add(Beacon {
        peers: vec![node_addr(NodeId(0), PORT)],
        period: Duration::from_millis(50),
        ..Beacon::default()
    });
    node.attach(end.device, h.port(BeaconPort::Net)).unwrap();
    sim.run_until(Instant::from_millis(1120));
    let b = beacon(&sim, id.0, h);
    assert_eq!(b.started_at, Some(Instant::from_secs(1)));
    assert_eq!(
        b.ticks,
        [Instant::from_millis(1050), Instant::from_millis(1100)]
    );
    assert_eq!(sim.stats().delivered, 2);
}

#[test]
fn scheduled_joins_are_built_by_the_factory_and_get_the_next_ids() {
    let (mut sim, h) = world(1, 1, "const:10ms", Duration::ZERO, |_| vec![]);
    sim.set_factory(beacon_factory(Duration::from_millis(100), |_| vec![0]));
    sim.schedule(
        FaultSchedule::new()
            .at(Instant::from_millis(30), Fault::Join)
            .at(Instant::from_millis(60), Fault::Join)
            .at(Instant::from_millis(500), Fault::Crash(NodeId(2))),
    )
    .unwrap();
    sim.run_until(Instant::from_millis(250));
    assert_eq!(sim.node_count(), 3);
    assert_eq!(sim.stats().joins, 2);
    let heard: Vec<(u64, SocketAddr)> = beacon(&sim, 0, h[0])
        .received
        .iter()
        .map(|r| (r.0.as_millis(), r.1))
        .collect();
    let (a, b) = (node_addr(NodeId(1), PORT), node_addr(NodeId(2), PORT));
    assert_eq!(heard, [(140, a), (170, b), (240, a)]);
}

#[test]
fn bad_schedules_are_refused_before_the_run_naming_time_and_node() {
    let (mut sim, _) = world(1, 3, "const:1ms", Duration::ZERO, |_| vec![]);
    let refuse = |sim: &mut Simulator, schedule: FaultSchedule, words: &[&str]| {
        let err = sim.schedule(schedule).unwrap_err().to_string();
        for w in words {
            assert!(err.contains(w), "`{w}` missing from: {err}");
        }
    };
    refuse(
        &mut sim,
        FaultSchedule::new().at(Instant::from_secs(2), Fault::Crash(NodeId(7))),
        &["2.000000000", "node 7 does not exist"],
    );
    refuse(
        &mut sim,
        FaultSchedule::new()
            .at(Instant::from_secs(1), Fault::Crash(NodeId(1)))
            .at(Instant::from_secs(3), Fault::Crash(NodeId(1))),
        &["3.000000000", "node 1 is already down"],
    );
    refuse(
        &mut sim,
        FaultSchedule::new().at(Instant::from_secs(1), Fault::Restart(NodeId(2))),
        &["factory"],
    );
    sim.set_factory(|_| Ok(()));
    refuse(
        &mut sim,
        FaultSchedule::new().at(Instant::from_secs(1), Fault::Restart(NodeId(2))),
        &["1.000000000", "node 2 is running"],
    );
    refuse(
        &mut sim,
        FaultSchedule::new().at(
            Instant::from_secs(1),
            Fault::LinkDown(vipe_platforms::sim::LinkId(0)),
        ),
        &["link 0 does not exist"],
    );
    // A join makes node 3 exist for later steps.
    sim.schedule(
        FaultSchedule::new()
            .at(Instant::from_secs(1), Fault::Join)
            .at(Instant::from_secs(2), Fault::Crash(NodeId(3))),
    )
    .unwrap();
    // A step that conflicts with one already scheduled is refused too.
    refuse(
        &mut sim,
        FaultSchedule::new().at(Instant::from_secs(5), Fault::Crash(NodeId(3))),
        &["5.000000000", "node 3 is already down"],
    );
    // Nothing refused was scheduled: the run sees only the join and the crash.
    let run = sim.run_until(Instant::from_secs(10));
    assert_eq!(run.stopped, None);
    assert_eq!((sim.stats().joins, sim.stats().crashes), (1, 1));
}

#[test]
fn a_step_made_impossible_by_hand_stops_the_run_at_that_step() {
    let (mut sim, _) = world(1, 2, "const:1ms", Duration::ZERO, |_| vec![]);
    sim.schedule(FaultSchedule::new().at(Instant::from_secs(2), Fault::Crash(NodeId(1))))
        .unwrap();
    sim.run_until(Instant::from_secs(1));
    sim.crash(NodeId(1)).unwrap();
    assert!(
        sim.crash(NodeId(1))
            .unwrap_err()
            .to_string()
            .contains("already down")
    );
    let run = sim.run_until(Instant::from_secs(5));
    let Some(StopReason::Fault(e)) = run.stopped else {
        panic!("{run:?}")
    };
    assert_eq!(e.time, Instant::from_secs(2));
    assert!(e.to_string().contains("node 1 is already down"), "{e}");
    assert_eq!(run.now, Instant::from_secs(2));
}

#[test]
fn links_go_down_and_up_and_change() {
    let mut sim = Simulator::new(1);
    let nodes: Vec<NodeId> = (0..2).map(|_| sim.add_node()).collect();
    let links = topology::line(
        &mut sim,
        &nodes,
        LinkConfig::default()
            .latency(Duration::from_millis(5))
            .bandwidth_bps(0),
    )
    .unwrap();
    let hs: Vec<Handle<FramePing>> = nodes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let dev = if i == 0 {
                links[0].a.device
            } else {
                links[0].b.device
            };
            let node = sim.node_mut(n).unwrap();
            let h = node.add(FramePing {
                send: i == 0,
                ..FramePing::default()
            });
            node.attach(dev, h.port(FramePingPort::Lower)).unwrap();
            h
        })
        .collect();
    let id = links[0].id;
    sim.schedule(
        FaultSchedule::new()
            .at(Instant::from_millis(25), Fault::LinkDown(id))
            .at(Instant::from_millis(55), Fault::LinkUp(id))
            .at(
                Instant::from_millis(75),
                Fault::LinkChange(
                    id,
                    LinkConfig::default()
                        .latency(Duration::from_millis(1))
                        .bandwidth_bps(0),
                ),
            ),
    )
    .unwrap();
    sim.run_until(Instant::from_millis(100));
    let got: Vec<u64> = sim
        .node(nodes[1])
        .unwrap()
        .protocol(hs[1])
        .unwrap()
        .arrivals
        .iter()
        .map(|t| t.as_millis())
        .collect();
    // Sent every 10 ms from 10, arriving 5 ms later; the frame sent at 20 is on the wire
    // when the link goes down at 25 (the fault was scheduled first, so it runs first) and
    // is lost; those sent at 30, 40, 50 are dropped; 1 ms latency from 75 on.
    assert_eq!(got, [15, 65, 75, 81, 91]);
    assert_eq!(sim.stats().drops_for("link down"), 4);
}

/// Sends a frame every 10 ms if `send`; records arrivals.
#[protocol]
#[derive(Debug, Default)]
struct FramePing {
    send: bool,
    arrivals: Vec<Instant>,
}

#[protocol]
impl FramePing {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.send {
            cx.start_periodic(FramePingTimer::Tick, Duration::from_millis(10));
        }
    }
    #[on_timer]
    fn tick(&mut self, cx: &mut Cx<Self>) {
        let mut pkt = cx.alloc();
        pkt.put(60).fill(1);
        cx.send(FramePingPort::Lower, pkt);
    }
    #[on_packet(port = "lower")]
    fn rx(&mut self, cx: &mut Cx<Self>, _pkt: Packet) {
        self.arrivals.push(cx.now());
    }
}

#[test]
fn observers_read_typed_state_at_intervals_and_can_stop_the_run() {
    let (mut sim, h) = world(1, 2, "const:10ms", Duration::from_millis(100), |i| {
        vec![1 - i]
    });
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    let h1 = h[1];
    sim.observe_every(
        Instant::from_millis(50),
        Duration::from_millis(100),
        move |view| {
            let heard = view
                .node(NodeId(1))
                .unwrap()
                .protocol(h1)
                .unwrap()
                .received
                .len();
            log.borrow_mut()
                .push((view.now().as_millis(), heard, view.stats().delivered));
            if heard >= 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    );
    let once = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = once.clone();
    sim.observe_at(Instant::from_millis(120), move |_| {
        count.set(count.get() + 1);
        Control::Continue
    });
    let run = sim.run_until(Instant::from_secs(10));
    assert_eq!(run.stopped, Some(StopReason::Observer));
    assert_eq!(run.now, Instant::from_millis(350));
    assert_eq!(
        *seen.borrow(),
        [(50, 0, 0), (150, 1, 2), (250, 2, 4), (350, 3, 6)]
    );
    assert_eq!(once.get(), 1);
}

#[test]
fn the_trace_streams_to_disk_and_the_digest_tells_runs_apart() {
    let dir = scratch("trace-stream");
    let run = |seed: u64, path: Option<PathBuf>| {
        let (mut sim, _) = world(seed, 5, "exp:20ms", Duration::from_millis(10), |i| {
            vec![(i + 1) % 5]
        });
        sim.enable_trace();
        sim.enable_digest();
        if let Some(path) = &path {
            sim.stream_trace(path).unwrap();
        }
        sim.run_until(Instant::from_secs(1));
        sim.finish_captures().unwrap();
        (sim.trace().to_vec(), sim.trace_digest().unwrap())
    };
    let path = dir.join("trace.txt");
    let (trace, digest) = run(1, Some(path.clone()));
    let lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), trace.len());
    assert_eq!(lines[0], trace[0].to_string());
    assert_eq!(run(1, None).1, digest);
    assert_ne!(run(2, None).1, digest);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vipe-sim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn poisson_churn_has_its_rates() {
    let config = ChurnConfig {
        nodes: 1000,
        start: Instant::ZERO,
        end: Instant::from_secs(10_000),
        departure: Departure::Crash,
        arrival: Arrival::Restart,
        seed: 4,
    };
    let schedule = churn::poisson(&config, 2.0, 2.0);
    let crashes: Vec<Instant> = schedule
        .steps()
        .iter()
        .filter(|(_, f)| matches!(f, Fault::Crash(_)))
        .map(|(t, _)| *t)
        .collect();
    let restarts = schedule.len() - crashes.len();
    // Poisson(20000): sd 141.
    for count in [crashes.len(), restarts] {
        assert!(
            (count as f64 - 20_000.0).abs() < 3.0 * 141.5 + 2.0,
            "{count}"
        );
    }
    // Gaps are exponential with mean 1/rate = 0.5 s: mean and P(gap > mean) = 1/e.
    let gaps: Vec<f64> = crashes
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!(
        (mean - 0.5).abs() < 3.0 * 0.5 / (gaps.len() as f64).sqrt(),
        "{mean}"
    );
    let above = gaps.iter().filter(|&&g| g > 0.5).count() as f64 / gaps.len() as f64;
    assert!((above - (-1.0f64).exp()).abs() < 0.015, "{above}");
}

#[test]
fn session_churn_has_its_mean_session_within_the_confidence_interval() {
    let config = ChurnConfig {
        nodes: 500,
        start: Instant::ZERO,
        end: Instant::from_secs(100_000),
        departure: Departure::Leave,
        arrival: Arrival::Restart,
        seed: 8,
    };
    let mean_session = Duration::from_secs(100);
    let schedule = churn::sessions(
        &config,
        Lifetime::Exponential(mean_session),
        Lifetime::Exponential(Duration::from_secs(50)),
    );
    let mut up_since = vec![Some(Instant::ZERO); 500];
    let mut sessions = Vec::new();
    for (t, f) in schedule.steps() {
        match f {
            Fault::Leave(n) => {
                sessions.push((*t - up_since[n.0 as usize].take().unwrap()).as_secs_f64())
            }
            Fault::Restart(n) => up_since[n.0 as usize] = Some(*t),
            other => panic!("{other:?}"),
        }
    }
    let n = sessions.len() as f64;
    let mean = sessions.iter().sum::<f64>() / n;
    let sd = (sessions.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // 95% CI of the mean; censoring at the end shortens few of ~330 000 sessions.
    let half = 1.96 * sd / n.sqrt();
    assert!((mean - 100.0).abs() < half.max(0.5), "mean {mean} ± {half}");
    assert!((sd - 100.0).abs() < 2.0, "exponential: sd = mean, got {sd}");
    // The same schedule runs: every step is valid in order.
    let mut sim = Simulator::new(1);
    for _ in 0..500 {
        sim.add_node();
    }
    sim.set_factory(|_| Ok(()));
    let small = churn::sessions(
        &ChurnConfig {
            end: Instant::from_secs(1000),
            ..config
        },
        Lifetime::Exponential(mean_session),
        Lifetime::Exponential(Duration::from_secs(50)),
    );
    let leaves = small
        .steps()
        .iter()
        .filter(|(_, f)| matches!(f, Fault::Leave(_)))
        .count() as u64;
    sim.schedule(small).unwrap();
    sim.run_until(Instant::from_secs(1000));
    assert_eq!(sim.stats().leaves, leaves);
}

#[test]
fn session_churn_with_new_nodes_numbers_joins_in_time_order() {
    let config = ChurnConfig {
        nodes: 50,
        start: Instant::ZERO,
        end: Instant::from_secs(2000),
        departure: Departure::Crash,
        arrival: Arrival::NewNode,
        seed: 2,
    };
    let schedule = churn::sessions(
        &config,
        Lifetime::Pareto {
            shape: 2.0,
            min: Duration::from_secs(50),
        },
        Lifetime::Uniform(Duration::from_secs(1), Duration::from_secs(10)),
    );
    assert!(schedule.steps().iter().any(|(_, f)| *f == Fault::Join));
    let mut sim = Simulator::new(1);
    for _ in 0..50 {
        sim.add_node();
    }
    sim.set_factory(|_| Ok(()));
    sim.schedule(schedule)
        .expect("every departure names a node that is up");
    let run = sim.run_until(Instant::from_secs(2000));
    assert_eq!(run.stopped, None);
    assert!(sim.stats().joins > 0 && sim.stats().crashes > sim.stats().joins / 2);
}

#[test]
fn topology_builders_make_the_expected_links() {
    let mut sim = Simulator::new(1);
    let n: Vec<NodeId> = (0..12).map(|_| sim.add_node()).collect();
    let c = LinkConfig::default();
    assert_eq!(topology::line(&mut sim, &n[..4], c).unwrap().len(), 3);
    assert_eq!(topology::ring(&mut sim, &n[..4], c).unwrap().len(), 4);
    assert_eq!(
        topology::star(&mut sim, n[0], &n[1..6], c).unwrap().len(),
        5
    );
    assert_eq!(topology::full_mesh(&mut sim, &n[..5], c).unwrap().len(), 10);
    assert_eq!(topology::grid(&mut sim, &n, 3, 4, c).unwrap().len(), 17);
    assert!(topology::grid(&mut sim, &n, 5, 5, c).is_err());
    let er = topology::erdos_renyi(&mut sim, &n, 1.0, 3, c).unwrap();
    assert_eq!(er.len(), 66);
    assert!(
        topology::erdos_renyi(&mut sim, &n, 0.0, 3, c)
            .unwrap()
            .is_empty()
    );
    let w1 = topology::waxman(&mut sim, &n, 0.9, 0.5, 3, c)
        .unwrap()
        .len();
    assert!(w1 > 0 && w1 < 66, "{w1}");
    let dir = scratch("edges");
    std::fs::write(
        dir.join("ok.txt"),
        "# a b [ms]\n0 1\n1,2, 7.5\n\n3\t4 # tab\n",
    )
    .unwrap();
    let links = topology::edge_list(&mut sim, dir.join("ok.txt"), c).unwrap();
    assert_eq!(links.len(), 3);
    std::fs::write(dir.join("bad.txt"), "0 1\n0 99\n").unwrap();
    let err = topology::edge_list(&mut sim, dir.join("bad.txt"), c)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("node 99 does not exist"),
        "{err}"
    );
}

/// Datagram devices are captured as raw IPv4: tshark reads every record as a UDP datagram
/// between the two node addresses with valid checksums, the sender's file has what it
/// sent (lost ones too), the receiver's what arrived.
#[test]
fn datagram_captures_are_udp_over_ipv4_that_tshark_reads() {
    let dir = scratch("datagram-pcap");
    let (mut sim, _) = world(3, 2, "const:10ms", Duration::from_millis(10), |i| {
        if i == 0 { vec![1] } else { vec![] }
    });
    let mut path = PathConfig::new("const:10ms".parse().unwrap());
    path.loss = 0.3;
    sim.set_underlay(path).unwrap();
    sim.capture(NodeId(0), DeviceId(0), dir.join("a.pcap"))
        .unwrap();
    sim.capture(NodeId(1), DeviceId(0), dir.join("b.pcap"))
        .unwrap();
    sim.run_until(Instant::from_millis(1005));
    sim.finish_captures().unwrap();
    let (sent, arrived) = (sim.stats().transmitted, sim.stats().delivered);
    assert!(
        sent == 100 && arrived < 90 && arrived > 50,
        "{sent} {arrived}"
    );

    for (file, expect) in [("a.pcap", sent), ("b.pcap", arrived)] {
        let out = std::process::Command::new("tshark")
            .args([
                "-n",
                "-o",
                "udp.check_checksum:TRUE",
                "-o",
                "ip.check_checksum:TRUE",
            ])
            .arg("-r")
            .arg(dir.join(file))
            .args(["-T", "fields", "-E", "separator=,"])
            .args([
                "-e",
                "ip.src",
                "-e",
                "ip.dst",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
            ])
            .args([
                "-e",
                "udp.length",
                "-e",
                "data.data",
                "-e",
                "udp.checksum.status",
                "-e",
                "ip.checksum.status",
                "-e",
                "_ws.expert.severity",
            ])
            .output()
            .unwrap_or_else(|e| {
                panic!("tshark is needed ({e}); install it: apt-get install tshark")
            });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, expect, "{file}");
        let (a, b) = (node_addr(NodeId(0), PORT), node_addr(NodeId(1), PORT));
        for (n, line) in lines.iter().enumerate() {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(
                cols[..5],
                [
                    &a.ip().to_string()[..],
                    &b.ip().to_string(),
                    "4000",
                    "4000",
                    "13"
                ],
                "{file}: {line}"
            );
            // The payload: tag 0, then the sequence number (every one on the sender's side).
            assert!(cols[5].starts_with("00000000"), "{file}: {line}");
            if file == "a.pcap" {
                assert_eq!(cols[5], format!("00{:08x}", n), "{file}: {line}");
            }
            // Checksums verified good (status 1) and nothing else flagged.
            assert_eq!(cols[6..], ["1", "1", ""], "{file}: {line}");
        }
    }
}
