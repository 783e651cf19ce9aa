//! Chord in the simulator: rings built by joins converge to the true ring; lookups reach
//! the key's successor in about ½·log2 N hops, the same whether the ring was built by
//! joins or started converged; failed nodes are routed around; keys survive failures
//! through replicas and move on graceful leave; hostile datagrams are dropped and counted.

use vipe_examples::chord::{self, Build, Ring, RingConfig};
use vipe_protocols::chord::app::{self, AppOp, AppReply, AppStatus};
use vipe_protocols::chord::{Chord, ChordPort, Id, Workload};
use vipe_rt::NodeId;
use vipe_rt::prelude::*;

fn workload(count: u32) -> Workload {
    Workload {
        start: Duration::from_secs(1),
        count,
        interval: Duration::from_millis(200),
        poisson: false,
        keys: 0,
    }
}

fn mean_hops(ring: &Ring) -> f64 {
    let records = ring.records();
    records.iter().map(|r| f64::from(r.hops)).sum::<f64>() / records.len() as f64
}

fn joined(nodes: u32, seed: u64) -> RingConfig {
    let mut config = RingConfig::new(nodes, seed);
    config.build = Build::Joins {
        growth: 0.05,
        settle: Duration::from_secs(120),
    };
    config.chord.stabilize = Duration::from_secs(1);
    config.chord.fix_fingers = Duration::from_millis(500);
    config.latency = "exp:20ms".parse().unwrap();
    config
}

#[test]
fn joins_converge_to_the_true_ring_and_lookups_find_the_owner() {
    let mut ring = chord::build(&joined(64, 1), Some(workload(20))).unwrap();
    assert_eq!(
        ring.wrong_neighbours(),
        0,
        "successors and predecessors all right"
    );
    let truth = ring.live_ring();
    // Every node knows its true successor list and its fingers are the true ones.
    for m in &ring.members {
        let c = ring.chord(m).unwrap();
        let ideal = Chord::converged(vipe_protocols::chord::ChordConfig::new(m.peer.addr), &truth);
        assert_eq!(c.table().successors(), ideal.table().successors());
        assert_eq!(
            c.table().fingers(),
            ideal.table().fingers(),
            "fingers of {}",
            m.peer.id
        );
    }
    let end = ring.ready_at + Duration::from_secs(10);
    ring.sim.run_until(end);
    let records = ring.records();
    assert_eq!(records.len(), 64 * 20);
    assert!(records.iter().all(|r| Ring::correct(r, &truth)));
    assert!(records.iter().all(|r| r.timeouts == 0));
}

#[test]
fn converged_ring_lookups_take_about_half_log2_n_hops() {
    for (nodes, expected) in [(256u32, 4.0), (2048, 5.5)] {
        // r = 1: routing by fingers alone, as the SIGCOMM paper's analysis assumes (a
        // successor list answers for keys further ahead and shortens the last steps).
        let mut config = RingConfig::new(nodes, 7);
        config.chord.successors = 1;
        let mut ring = chord::build(&config, Some(workload(5))).unwrap();
        ring.sim.run_until(Instant::from_secs(5));
        let truth = ring.live_ring();
        let records = ring.records();
        assert_eq!(records.len(), nodes as usize * 5);
        assert!(records.iter().all(|r| Ring::correct(r, &truth)));
        let mean = mean_hops(&ring);
        // ½·log2 N is 4 at 256 nodes and 5.5 at 2048.
        assert!((mean - expected).abs() < 0.6, "N={nodes}: mean path {mean}");
    }
}

#[test]
fn joined_and_converged_rings_have_the_same_path_lengths() {
    let nodes = 400;
    let mut by_joins = chord::build(&joined(nodes, 3), Some(workload(25))).unwrap();
    let end = by_joins.ready_at + Duration::from_secs(10);
    by_joins.sim.run_until(end);
    let mut converged_config = joined(nodes, 3);
    converged_config.build = Build::Converged;
    let mut converged = chord::build(&converged_config, Some(workload(25))).unwrap();
    converged.sim.run_until(Instant::from_secs(10));
    let (a, b) = (mean_hops(&by_joins), mean_hops(&converged));
    assert!((a - b).abs() < 0.1, "joins {a} vs converged {b}");
    // Same distribution: the fraction at each hop count within 2 points.
    let pdf = |ring: &Ring| {
        let records = ring.records();
        let mut counts = [0f64; 16];
        for r in &records {
            counts[usize::from(r.hops).min(15)] += 1.0;
        }
        counts.map(|c| c / records.len() as f64)
    };
    for (pa, pb) in pdf(&by_joins).iter().zip(pdf(&converged)) {
        assert!(
            (pa - pb).abs() < 0.02,
            "{:?} vs {:?}",
            pdf(&by_joins),
            pdf(&converged)
        );
    }
}

#[test]
fn failed_nodes_are_routed_around() {
    // A frozen ring (no stabilisation), 20% of the nodes crash at 1 s, lookups from 5 s:
    // nothing repairs the tables, so lookups meet dead fingers and route around them.
    let mut config = RingConfig::new(500, 11);
    config.chord.successors = 8;
    config.chord.rpc_timeout = Duration::from_millis(500);
    config.chord.stabilize = Duration::ZERO;
    config.chord.fix_fingers = Duration::ZERO;
    config.chord.check_predecessor = Duration::ZERO;
    let mut lookups = workload(4);
    lookups.start = Duration::from_secs(5);
    let mut ring = chord::build(&config, Some(lookups)).unwrap();
    ring.sim.run_until(Instant::from_secs(1));
    let crashed = ring.crash_fraction(0.2, 11).unwrap();
    assert_eq!(crashed, 100);
    ring.sim.run_until(Instant::from_secs(60));
    let truth = ring.live_ring();
    let records = ring.records();
    assert_eq!(records.len(), 400 * 4, "every survivor's lookups ended");
    let correct = records.iter().filter(|r| Ring::correct(r, &truth)).count();
    assert!(
        correct as f64 >= 0.98 * records.len() as f64,
        "{correct} of {}",
        records.len()
    );
    let timeouts: u32 = records.iter().map(|r| u32::from(r.timeouts)).sum();
    assert!(timeouts > 100, "lookups met dead fingers {timeouts} times");
}

/// Sends scripted app requests to the Chord instance beside it and keeps the replies.
#[protocol(name = "kv-script")]
struct KvScript {
    requests: Vec<(AppOp, u32, Id, Vec<u8>)>,
    at: Duration,
    replies: Vec<AppReply>,
}

#[protocol(ports(chord))]
impl KvScript {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_timer(KvScriptTimer::Go, self.at);
    }

    #[on_timer]
    fn go(&mut self, cx: &mut Cx<Self>) {
        for (op, tag, key, value) in std::mem::take(&mut self.requests) {
            let mut pkt = cx.alloc();
            app::encode_request(&mut pkt, op, tag, key, &value);
            cx.send(KvScriptPort::Chord, pkt);
        }
    }

    #[on_packet(port = "chord")]
    fn reply(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match app::decode_reply(pkt.data()) {
            Ok(reply) => self.replies.push(reply),
            Err(reason) => cx.drop_packet(pkt, reason),
        }
    }
}

fn script(
    ring: &mut Ring,
    member: usize,
    at: Duration,
    requests: Vec<(AppOp, u32, Id, Vec<u8>)>,
) -> (NodeId, Handle<KvScript>) {
    let m = ring.members[member];
    let node = ring.sim.node_mut(m.node).unwrap();
    let h = node.add(KvScript {
        requests,
        at,
        replies: Vec::new(),
    });
    node.connect(h.port(KvScriptPort::Chord), m.handle.port(ChordPort::App))
        .unwrap();
    (m.node, h)
}

#[test]
fn keys_survive_failures_through_replicas_and_move_on_leave() {
    let mut config = RingConfig::new(100, 5);
    config.chord.successors = 6;
    config.chord.replicas = 3;
    config.chord.stabilize = Duration::from_secs(1);
    config.chord.fix_fingers = Duration::from_secs(1);
    let mut ring = chord::build(&config, None).unwrap();
    let keys: Vec<Id> = (0..200u32).map(|k| Id::of_key(&k.to_be_bytes())).collect();
    let puts = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (AppOp::Put, i as u32, *k, format!("value {i}").into_bytes()))
        .collect();
    let (writer, w) = script(&mut ring, 0, Duration::from_secs(1), puts);
    ring.sim.run_until(Instant::from_secs(10));
    let replies = &ring.sim.node(writer).unwrap().protocol(w).unwrap().replies;
    assert_eq!(replies.len(), 200);
    assert!(
        replies.iter().all(|r| r.status == AppStatus::Ok),
        "{replies:?}"
    );
    // Every key is on its owner and the owner's two successors.
    let truth = ring.live_ring();
    for k in &keys {
        let at = truth.partition_point(|p| p.id < *k) % truth.len();
        for j in 0..3 {
            let holder = truth[(at + j) % truth.len()];
            let m = ring
                .members
                .iter()
                .find(|m| m.peer.id == holder.id)
                .unwrap();
            assert!(
                ring.chord(m).unwrap().store().contains_key(k),
                "copy {j} of {k}"
            );
        }
    }
    // Crash one node in ten (never the reader, member 1), then leave one gracefully.
    for i in (10..100).step_by(10) {
        ring.sim.crash(ring.members[i].node).unwrap();
    }
    ring.sim.run_until(Instant::from_secs(40));
    ring.sim.leave(ring.members[55].node).unwrap();
    ring.sim.run_until(Instant::from_secs(70));
    assert_eq!(ring.wrong_neighbours(), 0);
    let gets = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (AppOp::Get, i as u32, *k, Vec::new()))
        .collect();
    let (reader, r) = script(&mut ring, 1, Duration::from_millis(1), gets);
    ring.sim.run_until(Instant::from_secs(80));
    let replies = &ring.sim.node(reader).unwrap().protocol(r).unwrap().replies;
    assert_eq!(replies.len(), 200);
    // A key is lost only if all three nodes that held it at put time failed (no
    // re-replication yet); every other key must come back, with its value.
    let mut everyone: Vec<_> = ring.members.iter().map(|m| m.peer).collect();
    everyone.sort_unstable_by_key(|p| p.id);
    let live = ring.live_ring();
    let mut lost = 0;
    for reply in replies {
        let at = everyone.partition_point(|p| p.id < reply.key);
        let survives = (0..3).any(|j| {
            let holder = everyone[(at + j) % everyone.len()];
            live.iter().any(|p| p.id == holder.id) || holder.id == ring.members[55].peer.id
        });
        if !survives {
            assert_eq!(reply.status, AppStatus::NotFound);
            lost += 1;
            continue;
        }
        assert_eq!(reply.status, AppStatus::Ok, "key {} lost", reply.key);
        assert_eq!(reply.value, format!("value {}", reply.tag).into_bytes());
    }
    assert!(lost <= 10, "{lost} keys lost");
}

#[test]
fn hostile_datagrams_are_dropped_and_counted() {
    let config = RingConfig::new(8, 9);
    let mut ring = chord::build(&config, Some(workload(10))).unwrap();
    // A fake node sends garbage and truncated messages to member 0.
    #[protocol(name = "garbage")]
    struct Garbage {
        to: std::net::SocketAddr,
    }
    #[protocol(ports(net))]
    impl Garbage {
        #[on_start]
        fn start(&mut self, cx: &mut Cx<Self>) {
            let mut real = Packet::from_slice(&[]);
            let envelope = vipe_protocols::chord::wire::Envelope {
                kind: vipe_protocols::chord::wire::Kind::Find,
                flags: 0,
                request: 1,
                sender: Id::from_top_u64(1),
                target: Id::from_top_u64(2),
                split: 0,
            };
            vipe_protocols::chord::wire::encode(&mut real, envelope, &[], &[]);
            let bytes = real.data().to_vec();
            let mut cases: Vec<Vec<u8>> = vec![
                vec![],
                vec![0x43],
                bytes[..bytes.len() - 1].to_vec(),
                [bytes.clone(), vec![0; 39]].concat(), // an entry the header does not count
            ];
            let mut bad_kind = bytes.clone();
            bad_kind[2] = 99;
            cases.push(bad_kind);
            for mut case in cases {
                let mut pkt = cx.alloc();
                pkt.put_slice(&case);
                pkt.meta_mut().dst = Some(self.to);
                cx.send(GarbagePort::Net, pkt);
                case.clear();
            }
            // An unsolicited answer.
            let mut pkt = cx.alloc();
            let envelope = vipe_protocols::chord::wire::Envelope {
                kind: vipe_protocols::chord::wire::Kind::Found,
                ..envelope
            };
            vipe_protocols::chord::wire::encode(&mut pkt, envelope, &[], &[]);
            pkt.meta_mut().dst = Some(self.to);
            cx.send(GarbagePort::Net, pkt);
        }
        #[on_packet(port = "net")]
        fn receive(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
    }
    let attacker = ring.sim.add_node();
    let end = ring.sim.add_datagram_device(attacker, chord::PORT).unwrap();
    let target = ring.members[0];
    let node = ring.sim.node_mut(attacker).unwrap();
    let g = node.add(Garbage {
        to: target.peer.addr,
    });
    node.attach(end.device, g.port(GarbagePort::Net)).unwrap();
    ring.sim.run_until(Instant::from_secs(10));
    let stats = ring.sim.node(target.node).unwrap().stats();
    assert_eq!(stats.drops_for("chord: bad header"), 4);
    assert_eq!(stats.drops_for("chord: length mismatch"), 1);
    assert_eq!(stats.counter_total("chord: answer to no request"), 1);
    assert!(ring.sim.node(target.node).unwrap().faults().is_empty());
    let truth = ring.live_ring();
    assert!(ring.records().iter().all(|r| Ring::correct(r, &truth)));
}

#[test]
fn recursive_lookups_take_the_iterative_paths_and_survive_failures() {
    let mut iterative = RingConfig::new(1024, 21);
    iterative.chord.successors = 1;
    let mut recursive = iterative.clone();
    recursive.chord.recursive = true;
    let mut a = chord::build(&iterative, Some(workload(10))).unwrap();
    let mut b = chord::build(&recursive, Some(workload(10))).unwrap();
    a.sim.run_until(Instant::from_secs(10));
    b.sim.run_until(Instant::from_secs(10));
    let truth = b.live_ring();
    let records = b.records();
    assert_eq!(records.len(), 10_240);
    assert!(
        records
            .iter()
            .all(|r| Ring::correct(r, &truth) && r.timeouts == 0)
    );
    // Same ring, same lookups (same seeds): the same hops.
    assert!(
        (mean_hops(&a) - mean_hops(&b)).abs() < 1e-9,
        "{} vs {}",
        mean_hops(&a),
        mean_hops(&b)
    );

    // A frozen ring with 20% of its nodes failed: a recursive lookup that meets a dead
    // node times out and is retried iteratively.
    let mut config = RingConfig::new(500, 23);
    config.chord.successors = 8;
    config.chord.recursive = true;
    config.chord.stabilize = Duration::ZERO;
    config.chord.fix_fingers = Duration::ZERO;
    config.chord.check_predecessor = Duration::ZERO;
    let mut lookups = workload(4);
    lookups.start = Duration::from_secs(5);
    let mut ring = chord::build(&config, Some(lookups)).unwrap();
    ring.sim.run_until(Instant::from_secs(1));
    ring.crash_fraction(0.2, 23).unwrap();
    ring.sim.run_until(Instant::from_secs(60));
    let truth = ring.live_ring();
    let records = ring.records();
    assert_eq!(records.len(), 400 * 4);
    let correct = records.iter().filter(|r| Ring::correct(r, &truth)).count();
    assert!(
        correct as f64 >= 0.98 * records.len() as f64,
        "{correct} of {}",
        records.len()
    );
    assert!(records.iter().any(|r| r.timeouts > 0));
}
