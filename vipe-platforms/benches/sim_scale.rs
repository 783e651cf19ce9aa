//! The sim-scale workload as a criterion benchmark: N nodes on the datagram underlay,
//! each keeping 8 datagrams of 64 bytes in flight to random peers (`exp:50ms`), digest
//! on — the hot path of the simulator (wheel, packet records, node records, the node's
//! dispatch, the trace hash). Throughput is simulator events per second; the numbers
//! in docs/BENCHMARKS.md come from `target/release/sim_scale` at 10^3…10^6 nodes.
//!
//! `cargo bench -p vipe-platforms --bench sim_scale`
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vipe_platforms::sim::{DelayModel, PathConfig, Simulator, node_addr};
use vipe_rt::prelude::*;

/// Sends every datagram it receives on to a random peer.
#[protocol]
struct Bouncer {
    nodes: u32,
}

#[protocol]
impl Bouncer {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        for _ in 0..8 {
            let mut pkt = cx.alloc();
            pkt.put(64).fill(7);
            self.send_on(cx, pkt);
        }
    }

    #[on_packet(port = "net")]
    fn forward(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.send_on(cx, pkt);
    }
}

impl Bouncer {
    fn send_on(&self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let peer = cx.rng().below(0, u64::from(self.nodes)) as u32;
        pkt.meta_mut().dst = Some(node_addr(NodeId(peer), 4000));
        cx.send(BouncerPort::Net, pkt);
    }
}

fn build(nodes: u32) -> Simulator {
    let mut sim = Simulator::new(1);
    sim.set_node_buffers(192, 4096);
    sim.set_underlay(PathConfig::new(DelayModel::Exponential {
        mean: Duration::from_millis(50),
    }))
    .unwrap();
    sim.enable_digest();
    for _ in 0..nodes {
        let id = sim.add_node();
        let end = sim.add_datagram_device(id, 4000).unwrap();
        let node = sim.node_mut(id).unwrap();
        let h = node.add(Bouncer { nodes });
        node.attach(end.device, h.port(BouncerPort::Net)).unwrap();
    }
    sim
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim-scale 8 in flight");
    group.sample_size(10);
    for nodes in [1_000u32, 100_000] {
        let mut sim = build(nodes);
        // Past the start-up burst into steady state.
        sim.run_for(Duration::from_millis(200));
        // ~160 events per node per simulated second: measure 10^6 events per iteration.
        let slice = Duration::from_secs_f64(1e6 / (160.0 * f64::from(nodes)));
        let before = sim.stats().events;
        sim.run_for(slice);
        group.throughput(Throughput::Elements(sim.stats().events - before));
        group.bench_with_input(BenchmarkId::new("events", nodes), &nodes, |b, _| {
            b.iter(|| sim.run_for(slice).events)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
