//! `sim-scale`: how the built-in simulator scales. N nodes on the datagram underlay, each
//! keeping K datagrams in flight to random peers (or idle with one periodic timer per
//! node); the events and deliveries go to the CSVs with a digest of the ordered event
//! sequence (the same seed gives the same digest); events per wall second and memory go
//! to the manifest and the printed cost table.

use std::str::FromStr;

use serde::Deserialize;
use vipe_examples::sim_scale::{self, SimScaleConfig};
use vipe_platforms::sim::DelayModel;
use vipe_rt::{Duration, Instant};

use crate::experiment::{
    Experiment, FigureKind, FigureSpec, Info, MetricSpec, Quick, RunContext, RunOutput, TextSpec, Y,
};
use crate::param::ParamSpec;

/// The sim-scale experiment.
pub struct SimScale;

/// One point of sim-scale.
#[derive(Debug, Deserialize)]
pub struct Params {
    /// Nodes.
    pub nodes: u32,
    /// Datagrams each node keeps outstanding (0: idle).
    pub in_flight: u16,
    /// Payload bytes per datagram.
    pub payload: u16,
    /// The underlay's delay model, e.g. `exp:50ms`.
    pub latency: String,
    /// Simulated seconds.
    pub sim_seconds: f64,
}

fn check_latency(spec: &str) -> Result<(), String> {
    DelayModel::from_str(spec)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl Params {
    fn config(&self, seed: u64) -> Result<SimScaleConfig, String> {
        Ok(SimScaleConfig {
            nodes: self.nodes,
            in_flight: self.in_flight,
            payload: self.payload,
            latency: DelayModel::from_str(&self.latency).map_err(|e| e.to_string())?,
            sim_seconds: self.sim_seconds,
            seed,
            digest: true,
        })
    }
}

impl Experiment for SimScale {
    type Params = Params;

    fn info(&self) -> Info {
        Info {
            name: "sim-scale",
            measures: "simulator events and deliveries for N nodes with K datagrams in flight each (events/s and memory in the manifest)",
            reproduces: None,
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("nodes", "nodes", 1000, 1, 16_000_000).help("simulated nodes"),
            ParamSpec::int("in-flight", "datagrams", 8, 0, 1024)
                .help("datagrams each node keeps outstanding to random peers (0: idle, one periodic timer per node)"),
            ParamSpec::int("payload", "bytes", 64, 0, 65_000).help("payload of each datagram"),
            ParamSpec::text(
                "latency",
                "exp:50ms",
                "const:D | uniform:A..B | exp:MEAN | euclid:SIDE | matrix:FILE.csv",
                check_latency,
            )
            .help("the underlay's one-way delay model"),
            ParamSpec::float("sim-seconds", "s", 10.0, 0.0, 1e6).help("simulated time to run"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("nodes", "1000,10000"), ("sim-seconds", "2")],
            seeds: 2,
            what: "10^3 and 10^4 nodes for 2 simulated seconds, 2 seeds (instead of 10^3 nodes for 10 s, 3 seeds)",
        }
    }

    fn default_seeds(&self) -> u32 {
        3
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "events",
                unit: "events",
                help: "simulator events processed",
            },
            MetricSpec {
                name: "delivered",
                unit: "datagrams",
                help: "datagrams delivered",
            },
        ]
    }

    fn texts(&self) -> Vec<TextSpec> {
        vec![TextSpec {
            name: "trace_digest",
            help: "hash of the ordered event sequence: equal for equal seeds",
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![FigureSpec {
            file: "events",
            title: "Simulator events vs. nodes",
            kind: FigureKind::Line {
                x: "nodes",
                ys: vec![Y::Metric("events"), Y::Metric("delivered")],
            },
            y_label: "events, datagrams",
            y_log: true,
            references: vec![],
        }]
    }

    fn check(&self, params: &Params) -> Result<(), String> {
        params.config(0).map(|_| ())
    }

    fn memory_per_run(&self, p: &Params) -> Option<u64> {
        // Measured: ~1.5 KB per idle node, plus per datagram in flight its buffer and
        // queue entry; doubled for headroom.
        let per_node = 1_536 + u64::from(p.in_flight) * (u64::from(p.payload) + 256);
        Some(u64::from(p.nodes) * per_node * 2 + (64 << 20))
    }

    fn run(&self, params: &Params, cx: &RunContext) -> Result<RunOutput, String> {
        let config = params.config(cx.seed)?;
        let target = Instant::ZERO + Duration::from_secs_f64(params.sim_seconds);
        let report = sim_scale::run(&config, cx.reporter(target))?;
        let mut out = RunOutput::new();
        out.metric("events", report.events as f64)
            .metric("delivered", report.delivered as f64)
            .text("trace_digest", format!("{:016x}", report.trace_digest))
            .events(report.events);
        Ok(out)
    }
}
