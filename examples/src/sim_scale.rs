//! The `sim-scale` workload: N nodes on the simulator's datagram underlay, each keeping
//! `in_flight` datagrams of `payload` bytes outstanding to random peers (every datagram
//! that arrives is sent on to a new random peer), or, with `in_flight = 0`, idle with one
//! periodic timer each. It measures what the simulator itself costs per node and per
//! event; the `sim-scale` experiment of `vipe-lab` sweeps it.
//!
//! ```
//! use vipe_examples::sim_scale::{SimScaleConfig, run};
//! let config = SimScaleConfig { nodes: 100, sim_seconds: 0.5, ..SimScaleConfig::default() };
//! let report = run(&config, |_| {}).unwrap();
//! assert!(report.delivered > 0);
//! assert_eq!(report.trace_digest, run(&config, |_| {}).unwrap().trace_digest);
//! ```

use std::time::Instant as WallClock;

use vipe_platforms::sim::{DelayModel, PathConfig, Simulator, node_addr};
use vipe_rt::prelude::*;

/// The port every node listens on.
pub const PORT: u16 = 4000;

/// Keeps datagrams moving between random peers.
#[protocol(name = "scale-node")]
#[derive(Debug)]
pub struct ScaleNode {
    nodes: u32,
    in_flight: u16,
    payload: u16,
    /// Datagrams received.
    pub received: u64,
    /// Idle ticks.
    pub ticks: u64,
}

impl ScaleNode {
    /// A node among `nodes` keeping `in_flight` datagrams of `payload` bytes going.
    pub fn new(nodes: u32, in_flight: u16, payload: u16) -> Self {
        ScaleNode {
            nodes,
            in_flight,
            payload,
            received: 0,
            ticks: 0,
        }
    }

    fn send_to_random(&self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let peer = cx.rng().below(0, u64::from(self.nodes)) as u32;
        pkt.meta_mut().dst = Some(node_addr(NodeId(peer), PORT));
        cx.send(ScaleNodePort::Net, pkt);
    }
}

#[protocol]
impl ScaleNode {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.in_flight == 0 {
            cx.start_periodic(ScaleNodeTimer::Tick, Duration::from_secs(1));
            return;
        }
        for i in 0..self.in_flight {
            let mut pkt = cx.alloc();
            let body = pkt.put(usize::from(self.payload));
            body.fill(0);
            let id = cx.node_id().0.to_be_bytes();
            let n = body.len().min(4);
            body[..n].copy_from_slice(&id[..n]);
            if let Some(b) = body.get_mut(4) {
                *b = i as u8;
            }
            self.send_to_random(cx, pkt);
        }
    }

    #[on_timer]
    fn tick(&mut self, _cx: &mut Cx<Self>) {
        self.ticks += 1;
    }

    #[on_packet(port = "net")]
    fn forward(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.received += 1;
        self.send_to_random(cx, pkt);
    }
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct SimScaleConfig {
    /// Number of nodes.
    pub nodes: u32,
    /// Datagrams each node keeps outstanding; 0: idle, one periodic timer per node.
    pub in_flight: u16,
    /// Payload bytes per datagram.
    pub payload: u16,
    /// The underlay's delay model.
    pub latency: DelayModel,
    /// Simulated seconds to run.
    pub sim_seconds: f64,
    /// The seed.
    pub seed: u64,
    /// Whether to fold every event into `trace_digest` (costs a hash per event).
    pub digest: bool,
}

impl Default for SimScaleConfig {
    /// 1000 nodes, 8 in flight, 64-byte payloads, `exp:50ms`, 10 s, seed 1, digest on.
    fn default() -> Self {
        SimScaleConfig {
            nodes: 1000,
            in_flight: 8,
            payload: 64,
            latency: DelayModel::Exponential {
                mean: Duration::from_millis(50),
            },
            sim_seconds: 10.0,
            seed: 1,
            digest: true,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct SimScaleReport {
    /// Simulator events processed.
    pub events: u64,
    /// Datagrams delivered.
    pub delivered: u64,
    /// Hash of the ordered event sequence (0 if the digest was off).
    pub trace_digest: u64,
    /// Wall seconds to build the nodes.
    pub setup_seconds: f64,
    /// Wall seconds the run took (without set-up).
    pub run_seconds: f64,
}

impl SimScaleReport {
    /// Events per wall second of the run.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.run_seconds.max(1e-9)
    }
}

/// Builds the nodes and runs them for `sim_seconds`; `progress` is told the simulated
/// time at most every ~100 ms of wall time.
pub fn run(
    config: &SimScaleConfig,
    progress: impl FnMut(Instant) + 'static,
) -> Result<SimScaleReport, String> {
    if config.nodes == 0 {
        return Err("sim-scale needs at least one node; give --nodes 1 or more".into());
    }
    if config.sim_seconds.is_nan() || config.sim_seconds < 0.0 {
        return Err(format!(
            "sim seconds must be zero or more, got {}",
            config.sim_seconds
        ));
    }
    let setup = WallClock::now();
    let mut sim = Simulator::new(config.seed);
    // Buffers sized to the payload plus headroom, shared by all nodes.
    sim.set_node_buffers(128 + usize::from(config.payload), 4096);
    sim.set_underlay(PathConfig::new(config.latency.clone()))
        .map_err(|e| e.to_string())?;
    if config.digest {
        sim.enable_digest();
    }
    sim.set_progress(std::time::Duration::from_millis(100), progress);
    for _ in 0..config.nodes {
        let id = sim.add_node();
        let end = sim
            .add_datagram_device(id, PORT)
            .map_err(|e| e.to_string())?;
        let node = sim.node_mut(id).ok_or("node just added")?;
        let h = node.add(ScaleNode::new(
            config.nodes,
            config.in_flight,
            config.payload,
        ));
        node.attach(end.device, h.port(ScaleNodePort::Net))
            .map_err(|e| e.to_string())?;
    }
    let setup_seconds = setup.elapsed().as_secs_f64();
    let wall = WallClock::now();
    sim.run_until(Instant::ZERO + Duration::from_secs_f64(config.sim_seconds));
    let run_seconds = wall.elapsed().as_secs_f64();
    let stats = sim.stats();
    Ok(SimScaleReport {
        events: stats.events,
        delivered: stats.delivered,
        trace_digest: sim.trace_digest().unwrap_or(0),
        setup_seconds,
        run_seconds,
    })
}
