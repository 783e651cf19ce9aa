//! Simulator throughput, in the same workloads as `bench/ns3/event_chain.cc`:
//! - `chain`: K periodic timers each firing every 1 µs in one node (timer-driven events);
//! - `pingpong`: two nodes bounce a frame over a 1 ms link (packet events over a link).
//!
//! `cargo bench -p vipe-platforms --bench sim_events -- [chain|pingpong] [K] [N]`;
//! `bench/sim-vs-ns3.sh` runs it beside ns-3.
#![allow(missing_docs)]

use std::time::Instant as WallClock;

use vipe_platforms::sim::{LinkConfig, Simulator};
use vipe_rt::prelude::*;

/// Arms `chains` periodic timers, each firing every microsecond.
#[protocol]
struct Chains {
    chains: u32,
    fired: u64,
}

#[protocol]
impl Chains {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        for chain in 0..self.chains {
            cx.start_periodic(ChainsTimer::Tick(chain), Duration::from_micros(1));
        }
    }

    #[on_timer]
    fn tick(&mut self, _cx: &mut Cx<Self>, _chain: u32) {
        self.fired += 1;
    }
}

/// Sends back every frame it receives.
#[protocol]
struct Pong {
    received: u64,
}

#[protocol]
impl Pong {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if cx.node_id().0 == 0 {
            let mut pkt = cx.alloc();
            pkt.put(60).fill(0);
            cx.send(PongPort::Lower, pkt);
        }
    }

    #[on_packet(port = "lower")]
    fn bounce(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.received += 1;
        cx.send(PongPort::Lower, pkt);
    }
}

fn chain(chains: u32, events: u64) -> (u64, f64) {
    let mut sim = Simulator::new(1);
    let n = sim.add_node();
    let h = sim.node_mut(n).unwrap().add(Chains { chains, fired: 0 });
    // Each chain fires once per simulated microsecond.
    let end = Instant::from_nanos(events * 1000 / u64::from(chains));
    let start = WallClock::now();
    sim.run_until(end);
    let secs = start.elapsed().as_secs_f64();
    let fired = sim.node(n).unwrap().protocol(h).unwrap().fired;
    (fired, secs)
}

fn pingpong(events: u64) -> (u64, f64) {
    let mut sim = Simulator::new(1);
    let a = sim.add_node();
    let b = sim.add_node();
    let link = sim
        .link(
            a,
            b,
            LinkConfig::default()
                .latency(Duration::from_millis(1))
                .bandwidth_bps(0),
        )
        .unwrap();
    let ha = sim.node_mut(a).unwrap().add(Pong { received: 0 });
    sim.node_mut(a)
        .unwrap()
        .attach(link.a.device, ha.port(PongPort::Lower))
        .unwrap();
    let hb = sim.node_mut(b).unwrap().add(Pong { received: 0 });
    sim.node_mut(b)
        .unwrap()
        .attach(link.b.device, hb.port(PongPort::Lower))
        .unwrap();
    let end = Instant::from_millis(events);
    let start = WallClock::now();
    sim.run_until(end);
    let secs = start.elapsed().as_secs_f64();
    let received = sim.node(a).unwrap().protocol(ha).unwrap().received
        + sim.node(b).unwrap().protocol(hb).unwrap().received;
    (received, secs)
}

fn main() {
    // `cargo bench` passes `--bench`; skip flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let workload = args.first().map_or("all", String::as_str);
    let k: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let n: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let report = |name: &str, extra: String, (events, secs): (u64, f64)| {
        println!(
            "vipe-sim workload={name} {extra} events={events} seconds={secs:.3} events_per_sec={:.3e}",
            events as f64 / secs
        );
    };
    if matches!(workload, "chain" | "all") {
        report("chain", format!("chains={k}"), chain(k, n));
    }
    if workload == "all" {
        report("chain", "chains=1000".into(), chain(1000, n));
    }
    if matches!(workload, "pingpong" | "all") {
        report("pingpong", "chains=1".into(), pingpong(n));
    }
}
