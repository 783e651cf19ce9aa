//! The simulator's link model: serialisation delay, drop-tail queueing, loss, and
//! experiment validation.

use vipe_platforms::sim::{LinkConfig, SimError, Simulator, TraceKind};
use vipe_rt::prelude::*;

/// Sends `burst` 1000-byte frames at start; counts what arrives and when.
#[protocol]
#[derive(Default)]
struct Burst {
    burst: u32,
    arrivals: Vec<Instant>,
}

#[protocol]
impl Burst {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        for _ in 0..self.burst {
            let mut pkt = cx.alloc();
            pkt.put(1000).fill(0xab);
            cx.send(BurstPort::Lower, pkt);
        }
    }

    #[on_packet(port = "lower")]
    fn rx(&mut self, cx: &mut Cx<Self>, _pkt: Packet) {
        self.arrivals.push(cx.now());
    }
}

fn burst_over(config: LinkConfig, burst: u32) -> (Simulator, Vec<Instant>) {
    let mut sim = Simulator::new(9);
    sim.enable_trace();
    let a = sim.add_node();
    let b = sim.add_node();
    let link = sim.link(a, b, config).unwrap();
    let tx = sim.node_mut(a).unwrap().add(Burst {
        burst,
        ..Burst::default()
    });
    sim.node_mut(a)
        .unwrap()
        .attach(link.a.device, tx.port(BurstPort::Lower))
        .unwrap();
    let rx = sim.node_mut(b).unwrap().add(Burst::default());
    sim.node_mut(b)
        .unwrap()
        .attach(link.b.device, rx.port(BurstPort::Lower))
        .unwrap();
    sim.run_until(Instant::from_secs(10));
    let arrivals = sim.node(b).unwrap().protocol(rx).unwrap().arrivals.clone();
    (sim, arrivals)
}

#[test]
fn frames_queue_behind_each_other_at_the_link_rate() {
    // 1000 bytes at 8 Mbit/s = 1 ms each, plus 5 ms propagation.
    let config = LinkConfig::default()
        .latency(Duration::from_millis(5))
        .bandwidth_bps(8_000_000)
        .queue_limit(10);
    let (_, arrivals) = burst_over(config, 4);
    let ms: Vec<u64> = arrivals.iter().map(|t| t.as_millis()).collect();
    assert_eq!(ms, [6, 7, 8, 9]);
}

#[test]
fn a_full_queue_drops_the_tail() {
    let config = LinkConfig::default()
        .bandwidth_bps(8_000_000)
        .queue_limit(3);
    let (sim, arrivals) = burst_over(config, 10);
    // One on the wire, three queued; six dropped.
    assert_eq!(arrivals.len(), 4);
    assert_eq!(sim.stats().drops.get("queue full"), Some(&6));
    let drops = sim
        .trace()
        .iter()
        .filter(|e| e.kind == TraceKind::QueueDrop)
        .count();
    assert_eq!(drops, 6);
}

#[test]
fn loss_probability_is_honoured_and_seeded() {
    let config = LinkConfig::default()
        .bandwidth_bps(0)
        .queue_limit(10_000)
        .loss(0.25);
    let (sim, arrivals) = burst_over(config, 4000);
    let lost = sim.stats().drops["link loss"];
    assert_eq!(arrivals.len() as u64 + lost, 4000);
    assert!(
        (850..1150).contains(&lost),
        "lost {lost} of 4000 at p = 0.25"
    );
    let (again, _) = burst_over(config, 4000);
    assert_eq!(again.trace(), sim.trace(), "same seed, same losses");
}

#[test]
fn misconfigured_links_are_refused_before_running() {
    let mut sim = Simulator::new(1);
    let a = sim.add_node();
    assert_eq!(
        sim.link(a, a, LinkConfig::default()),
        Err(SimError::SelfLink(a))
    );
    let ghost = NodeId(42);
    assert_eq!(
        sim.link(a, ghost, LinkConfig::default()),
        Err(SimError::UnknownNode(ghost))
    );
    let err = sim
        .link(a, a, LinkConfig::default().loss(-0.1))
        .unwrap_err();
    assert!(err.to_string().contains("[0, 1]"), "{err}");
    let err = sim.capture(a, DeviceId(3), "/tmp/never.pcap").unwrap_err();
    assert!(err.to_string().contains("no device 3"), "{err}");
}
