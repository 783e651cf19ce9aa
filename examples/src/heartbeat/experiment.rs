//! The heartbeat experiment in the built-in simulator: two nodes, one lossy link.

use std::fmt::Write as _;
use std::path::PathBuf;

use vipe_platforms::sim::{LinkConfig, SimStats, Simulator, TraceEvent};
use vipe_rt::{Duration, Instant, NodeStats};

use super::protocol::{ProbeOutcome, Prober, ProberConfig, ProberPort, Responder, ResponderPort};
use crate::stats::Summary;

const PROBER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const RESPONDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// The experiment's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct HeartbeatConfig {
    /// Seed of every random draw (link loss).
    pub seed: u64,
    /// Probes to send.
    pub count: u32,
    /// Time between new probes.
    pub interval: Duration,
    /// Retransmission timeout.
    pub rto: Duration,
    /// Retransmissions before giving a probe up.
    pub max_retries: u8,
    /// The link between prober and responder.
    pub link: LinkConfig,
    /// Where to write pcaps and the CSV (nothing is written if `None`).
    pub out_dir: Option<PathBuf>,
    /// Record the simulator's packet trace.
    pub trace: bool,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            seed: 1,
            count: 200,
            interval: Duration::from_millis(20),
            rto: Duration::from_millis(60),
            max_retries: 5,
            link: LinkConfig::default()
                .latency(Duration::from_millis(10))
                .bandwidth_bps(10_000_000)
                .queue_limit(32)
                .loss(0.1),
            out_dir: None,
            trace: false,
        }
    }
}

impl HeartbeatConfig {
    /// Checks the parameters before anything runs; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        self.link.validate()?;
        if self.count == 0 {
            return Err("count must be at least 1 probe".into());
        }
        if self.rto.is_zero() {
            return Err("the retransmission timeout must be positive, e.g. --rto-ms 60".into());
        }
        let min_rtt = self.link.latency.saturating_mul(2);
        if self.rto < min_rtt {
            return Err(format!(
                "the retransmission timeout ({}) is below the link's round-trip latency ({min_rtt}): \
                 every probe would be retransmitted; raise --rto-ms",
                self.rto
            ));
        }
        Ok(())
    }

    /// Simulated time by which every probe is settled, even the last one after all its
    /// retransmissions (plus a second of slack): the run stops there at the latest.
    pub fn time_cap(&self) -> Duration {
        self.interval.saturating_mul(u64::from(self.count))
            + self.rto.saturating_mul(u64::from(self.max_retries) + 2)
            + Duration::from_secs(1)
    }
}

/// What the experiment measured.
#[derive(Clone, Debug)]
pub struct HeartbeatReport {
    /// The parameters it ran with.
    pub config: HeartbeatConfig,
    /// Per probe: sequence number and outcome.
    pub outcomes: Vec<(u32, ProbeOutcome)>,
    /// Retransmissions over all probes.
    pub retransmissions: u64,
    /// Replies that arrived after their probe was settled.
    pub duplicate_replies: u64,
    /// Simulated time when the last probe was settled.
    pub finished_at: Instant,
    /// Simulator counters.
    pub sim: SimStats,
    /// The prober's and responder's node counters.
    pub nodes: [NodeStats; 2],
    /// The packet trace, if asked for.
    pub trace: Vec<TraceEvent>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl HeartbeatReport {
    /// RTTs of the answered probes.
    pub fn rtts(&self) -> Vec<Duration> {
        self.outcomes
            .iter()
            .filter_map(|(_, o)| match o {
                ProbeOutcome::Answered { rtt, .. } => Some(*rtt),
                _ => None,
            })
            .collect()
    }

    /// Probes given up after every retransmission.
    pub fn lost(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, ProbeOutcome::GaveUp { .. }))
            .count()
    }

    /// Per-probe results as CSV: `seq,outcome,attempts,rtt_ms`.
    pub fn csv(&self) -> String {
        let mut out = String::from("seq,outcome,attempts,rtt_ms\n");
        for (seq, outcome) in &self.outcomes {
            let _ = match outcome {
                ProbeOutcome::Answered { rtt, attempts } => {
                    writeln!(out, "{seq},answered,{attempts},{:.6}", rtt.as_millis_f64())
                }
                ProbeOutcome::GaveUp { attempts } => writeln!(out, "{seq},lost,{attempts},"),
                ProbeOutcome::Pending => writeln!(out, "{seq},pending,,"),
            };
        }
        out
    }

    /// A human-readable summary.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "heartbeat: {} probes every {}, rto {}, up to {} retries; link {} one way, {} Mbit/s, {:.1}% loss, queue {} (seed {})",
            c.count,
            c.interval,
            c.rto,
            c.max_retries,
            c.link.latency,
            c.link.bandwidth_bps as f64 / 1e6,
            c.link.loss * 100.0,
            c.link.queue_limit,
            c.seed
        );
        let answered = self.rtts().len();
        let _ = writeln!(
            s,
            "probes:   {answered} answered, {} lost after {} retries, {} retransmissions, {} duplicate replies",
            self.lost(),
            c.max_retries,
            self.retransmissions,
            self.duplicate_replies
        );
        if let Some(r) = Summary::of(&self.rtts()) {
            let ms = |d: Duration| d.as_millis_f64();
            let _ = writeln!(
                s,
                "rtt (ms): min {:.3}  mean {:.3}  p50 {:.3}  p99 {:.3}  max {:.3}",
                ms(r.min),
                ms(r.mean),
                ms(r.p50),
                ms(r.p99),
                ms(r.max)
            );
        }
        let drops: Vec<String> = self
            .sim
            .drops
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(
            s,
            "link:     {} frames sent, {} delivered, dropped [{}]",
            self.sim.transmitted,
            self.sim.delivered,
            drops.join(", ")
        );
        let _ = writeln!(
            s,
            "sim:      finished at {:.3} s simulated, {} events",
            self.finished_at.as_secs_f64(),
            self.sim.events
        );
        for file in &self.files {
            let _ = writeln!(s, "wrote:    {}", file.display());
        }
        s
    }
}

/// Runs the experiment. Fails before running if the configuration is inconsistent, and
/// if the output files cannot be created.
pub fn run(config: &HeartbeatConfig) -> Result<HeartbeatReport, String> {
    run_with(config, |_| {})
}

/// Like [`run`], with a look at the simulator before it starts (e.g. to install a
/// progress hook with [`Simulator::set_progress`]).
pub fn run_with(
    config: &HeartbeatConfig,
    prepare: impl FnOnce(&mut Simulator),
) -> Result<HeartbeatReport, String> {
    config.validate()?;
    let mut sim = Simulator::new(config.seed);
    prepare(&mut sim);
    if config.trace {
        sim.enable_trace();
    }
    let a = sim.add_node();
    let b = sim.add_node();
    let link = sim.link(a, b, config.link).map_err(|e| e.to_string())?;

    let prober = {
        let node = sim.node_mut(a).expect("node a exists");
        let prober = node.add(Prober::new(ProberConfig {
            mac: PROBER_MAC,
            peer: RESPONDER_MAC,
            count: config.count,
            interval: config.interval,
            rto: config.rto,
            max_retries: config.max_retries,
        }));
        node.attach(link.a.device, prober.port(ProberPort::Lower))
            .map_err(|e| e.to_string())?;
        prober
    };
    {
        let node = sim.node_mut(b).expect("node b exists");
        let responder = node.add(Responder::new(RESPONDER_MAC));
        node.attach(link.b.device, responder.port(ResponderPort::Lower))
            .map_err(|e| e.to_string())?;
    }

    let mut files = Vec::new();
    if let Some(dir) = &config.out_dir {
        for (name, end) in [("prober", link.a), ("responder", link.b)] {
            let path = dir.join(format!("heartbeat-{name}.pcap"));
            sim.capture(end.node, end.device, &path)
                .map_err(|e| e.to_string())?;
            files.push(path);
        }
    }

    // Step in slices until every probe is settled; a generous cap guards against a
    // protocol bug keeping the simulation alive forever.
    let worst_case = config.time_cap();
    let slice = Duration::from_millis(100);
    loop {
        sim.run_for(slice);
        let done = sim
            .node(a)
            .and_then(|n| n.protocol(prober))
            .is_some_and(Prober::done);
        if done || sim.now() > Instant::ZERO + worst_case {
            break;
        }
    }
    let finished_at = sim.now();
    sim.stop().map_err(|e| format!("writing captures: {e}"))?;

    let node_a = sim.node(a).expect("node a exists");
    let p = node_a.protocol(prober).expect("prober lives in node a");
    let mut report = HeartbeatReport {
        config: config.clone(),
        outcomes: p.outcomes().collect(),
        retransmissions: p.retransmissions,
        duplicate_replies: p.duplicate_replies,
        finished_at,
        sim: sim.stats().clone(),
        nodes: [
            node_a.stats().clone(),
            sim.node(b).expect("node b").stats().clone(),
        ],
        trace: sim.trace().to_vec(),
        files,
    };
    if let Some(dir) = &config.out_dir {
        let path = dir.join("heartbeat-probes.csv");
        std::fs::write(&path, report.csv())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        report.files.push(path);
    }
    Ok(report)
}
