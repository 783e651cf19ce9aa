//! `heartbeat`: a prober and a responder over one lossy simulated link; each probe is
//! retransmitted on a timer until answered or given up. Measures how many probes get
//! through, how many retransmissions that costs and how long an answer takes, against
//! the closed-form model of independent losses.

use serde::Deserialize;
use vipe_examples::heartbeat::{self, HeartbeatConfig, ProbeOutcome};
use vipe_platforms::sim::LinkConfig;
use vipe_rt::{Duration, Instant};

use crate::experiment::{
    Distribution, Experiment, FigureKind, FigureSpec, Info, Lookup, MetricSpec, Quick, Reference,
    RunContext, RunOutput, SampleSpec, TableSpec, Y,
};
use crate::param::ParamSpec;

/// The heartbeat experiment.
pub struct Heartbeat;

/// One point of the heartbeat experiment.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// Probes to send.
    pub count: u32,
    /// Milliseconds between new probes.
    pub interval_ms: f64,
    /// Retransmission timeout, ms.
    pub rto_ms: f64,
    /// Retransmissions before a probe is given up.
    pub retries: u8,
    /// One-way link latency, ms.
    pub latency_ms: f64,
    /// Link bandwidth, Mbit/s (0: unlimited).
    pub bandwidth_mbps: f64,
    /// Probability that the link loses a frame.
    pub loss: f64,
    /// Frames the link queues behind the one on the wire.
    pub queue: u32,
}

impl Params {
    fn config(&self, seed: u64) -> HeartbeatConfig {
        HeartbeatConfig {
            seed,
            count: self.count,
            interval: Duration::from_secs_f64(self.interval_ms / 1e3),
            rto: Duration::from_secs_f64(self.rto_ms / 1e3),
            max_retries: self.retries,
            link: LinkConfig::default()
                .latency(Duration::from_secs_f64(self.latency_ms / 1e3))
                .bandwidth_bps((self.bandwidth_mbps * 1e6) as u64)
                .queue_limit(self.queue as usize)
                .loss(self.loss),
            out_dir: None,
            trace: false,
        }
    }
}

/// An attempt is answered if the probe and its reply both survive: (1 − loss)².
fn attempt_success(p: Lookup<'_>) -> Option<f64> {
    Some((1.0 - p("loss")?).powi(2))
}

/// With independent losses, a probe is answered unless all `retries + 1` attempts fail.
fn model_answered(p: Lookup<'_>) -> Option<f64> {
    let q = attempt_success(p)?;
    Some(1.0 - (1.0 - q).powi(p("retries")? as i32 + 1))
}

/// Expected retransmissions per probe: attempt k + 1 is sent if the first k failed,
/// so E = Σ_{k=1..retries} (1 − q)^k.
fn model_retransmissions(p: Lookup<'_>) -> Option<f64> {
    let q = attempt_success(p)?;
    Some((1..=p("retries")? as i32).map(|k| (1.0 - q).powi(k)).sum())
}

impl Experiment for Heartbeat {
    type Params = Params;

    fn info(&self) -> Info {
        Info {
            name: "heartbeat",
            measures: "probes answered, retransmissions and answer delay over a lossy link (vs. the independent-loss model)",
            reproduces: None,
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("count", "probes", 200, 1, 1_000_000).help("probes to send"),
            ParamSpec::float("interval-ms", "ms", 20.0, 0.001, 1e6).help("time between new probes"),
            ParamSpec::float("rto-ms", "ms", 60.0, 0.001, 1e6).help("retransmission timeout"),
            ParamSpec::int("retries", "", 5, 0, 255)
                .help("retransmissions before a probe is given up"),
            ParamSpec::float("latency-ms", "ms", 10.0, 0.0, 1e6).help("one-way link latency"),
            ParamSpec::float("bandwidth-mbps", "Mbit/s", 10.0, 0.0, 1e6)
                .help("link bandwidth (0: unlimited)"),
            ParamSpec::float("loss", "probability", 0.1, 0.0, 1.0)
                .sweep_by_default("0,0.05,0.1,0.15,0.2,0.25,0.3")
                .help("probability that the link loses a frame, each way"),
            ParamSpec::int("queue", "frames", 32, 0, 1_000_000)
                .help("frames the link queues behind the one on the wire"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("count", "50"), ("loss", "0,0.1,0.3")],
            seeds: 3,
            what: "50 probes instead of 200, loss 0, 0.1, 0.3 instead of 0 to 0.3 by 0.05, 3 seeds instead of 5",
        }
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "answered",
                unit: "fraction",
                help: "probes answered, of those sent",
            },
            MetricSpec {
                name: "retransmissions_per_probe",
                unit: "per probe",
                help: "retransmissions sent, per probe",
            },
            MetricSpec {
                name: "duplicate_replies",
                unit: "replies",
                help: "replies that arrived after their probe was settled",
            },
        ]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![
            SampleSpec {
                name: "rtt_ms",
                unit: "ms",
                help: "round-trip time of the attempt that was answered",
                percentiles: &[50.0, 99.0],
                distribution: Distribution::None,
                value_column: "rtt_ms",
            },
            SampleSpec {
                name: "delay_ms",
                unit: "ms",
                help: "time from a probe's first transmission to its answer: rtt + (attempts − 1) · rto (retransmit timers fire exactly rto after each attempt)",
                percentiles: &[50.0, 90.0, 99.0],
                distribution: Distribution::Cdf,
                value_column: "delay_ms",
            },
        ]
    }

    fn tables(&self) -> Vec<TableSpec> {
        vec![TableSpec {
            name: "probes",
            columns: &["probe", "outcome", "attempts", "rtt_ms"],
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "answered",
                title: "Probes answered vs. link loss",
                kind: FigureKind::Line {
                    x: "loss",
                    ys: vec![Y::Metric("answered")],
                },
                y_label: "probes answered (fraction)",
                y_log: false,
                references: vec![Reference::Model {
                    label: "model: 1 − (1 − (1−loss)²)^(retries+1)",
                    value: model_answered,
                }],
            },
            FigureSpec {
                file: "retransmissions",
                title: "Retransmissions vs. link loss",
                kind: FigureKind::Line {
                    x: "loss",
                    ys: vec![Y::Metric("retransmissions_per_probe")],
                },
                y_label: "retransmissions per probe",
                y_log: false,
                references: vec![Reference::Model {
                    label: "model: Σ_{k=1..retries} (1 − (1−loss)²)^k",
                    value: model_retransmissions,
                }],
            },
            FigureSpec {
                file: "delay",
                title: "Answer delay vs. link loss",
                kind: FigureKind::Line {
                    x: "loss",
                    ys: vec![
                        Y::SampleMean("delay_ms"),
                        Y::Percentile("delay_ms", 90.0),
                        Y::Percentile("delay_ms", 99.0),
                    ],
                },
                y_label: "first transmission to answer (ms)",
                y_log: false,
                references: vec![],
            },
            FigureSpec {
                file: "delay_cdf",
                title: "Answer delay, all seeds pooled",
                kind: FigureKind::Cdf { sample: "delay_ms" },
                y_label: "first transmission to answer (ms)",
                y_log: false,
                references: vec![],
            },
        ]
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        params.config(0).validate()
    }

    fn run(&self, params: &Params, cx: &RunContext) -> Result<RunOutput, String> {
        let config = params.config(cx.seed);
        let target = Instant::ZERO + config.time_cap();
        let report = heartbeat::run_with(&config, |sim| cx.watch(sim, target))?;
        let mut out = RunOutput::new();
        let count = f64::from(params.count);
        let rto_ms = params.rto_ms;
        let mut delays = Vec::new();
        for (seq, outcome) in &report.outcomes {
            let (name, attempts, rtt) = match outcome {
                ProbeOutcome::Answered { rtt, attempts } => {
                    delays.push(rtt.as_millis_f64() + f64::from(attempts - 1) * rto_ms);
                    (
                        "answered",
                        attempts.to_string(),
                        format!("{}", rtt.as_millis_f64()),
                    )
                }
                ProbeOutcome::GaveUp { attempts } => ("lost", attempts.to_string(), String::new()),
                ProbeOutcome::Pending => ("pending", String::new(), String::new()),
            };
            out.row("probes", &[seq.to_string(), name.into(), attempts, rtt]);
        }
        let rtts: Vec<f64> = report.rtts().iter().map(|d| d.as_millis_f64()).collect();
        out.metric("answered", rtts.len() as f64 / count)
            .metric(
                "retransmissions_per_probe",
                report.retransmissions as f64 / count,
            )
            .metric("duplicate_replies", report.duplicate_replies as f64)
            .samples("rtt_ms", rtts)
            .samples("delay_ms", delays)
            .events(report.sim.events);
        Ok(out)
    }
}
