//! The Chord experiments: the papers' set-ups (Stoica et al., SIGCOMM 2001 §6; IEEE/ACM
//! ToN 2003 §V) run with the Chord of `vipe_protocols::chord` in the built-in simulator.
//!
//! **How a hop is counted.** A lookup is iterative. `hops` is the number of nodes that
//! answer a step, up to the key's predecessor (the originator's own table is step zero).
//! The SIGCOMM path length ("nodes traversed", mean ½·log2 N) is `hops`; the ToN path
//! length counts reaching the key's successor too (its model is ½·log2 N − ½·log2 r + 1,
//! the +1 being that last step), so the ToN experiments report `hops + 1`.

use serde::Deserialize;
use vipe_examples::chord::{self, Build, Ring, RingConfig};
use vipe_platforms::sim::DelayModel;
use vipe_protocols::chord::{Id, Workload};
use vipe_rt::{Duration, Instant};

use crate::experiment::{
    Distribution, Experiment, FigureKind, FigureSpec, Info, MetricSpec, Quick, Reference,
    RunContext, RunOutput, SampleSpec, Y,
};
use crate::param::ParamSpec;

fn check_build(text: &str) -> Result<(), String> {
    match text {
        "joins" | "converged" => Ok(()),
        _ => Err(format!("'{text}' is not a build: write joins or converged")),
    }
}

fn check_latency(spec: &str) -> Result<(), String> {
    spec.parse::<DelayModel>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Ring-building parameters shared by the Chord experiments.
fn ring_config(nodes: u32, build: &str, successors: u32, latency: &str, seed: u64) -> RingConfig {
    let mut config = RingConfig::new(nodes, seed);
    config.chord.successors = successors as usize;
    config.latency = latency
        .parse()
        .unwrap_or(DelayModel::Constant(Duration::from_millis(50)));
    if build == "joins" {
        // Joins through random earlier nodes, the ring growing 5% per second;
        // stabilisation every 1 s and one finger every 0.5 s (both jittered ±50%); then
        // 120 s to settle.
        config.build = Build::Joins {
            growth: 0.05,
            settle: Duration::from_secs(120),
        };
        config.chord.stabilize = Duration::from_secs(1);
        config.chord.fix_fingers = Duration::from_millis(500);
        config.chord.check_predecessor = Duration::from_secs(2);
    } else {
        // A converged ring of live nodes: nothing to repair, so no stabilisation.
        config.chord.stabilize = Duration::ZERO;
        config.chord.fix_fingers = Duration::ZERO;
        config.chord.check_predecessor = Duration::ZERO;
    }
    config
}

/// `lookups` lookups spread over `members` instances, over `window` from `start`.
fn spread(
    lookups: u64,
    members: usize,
    keys: u64,
    start: Duration,
    window: Duration,
) -> impl Fn(usize) -> Option<Workload> {
    move |i| {
        let per = lookups / members as u64;
        let count = per + u64::from((i as u64) < lookups % members as u64);
        (count > 0).then(|| Workload {
            start,
            count: count as u32,
            interval: Duration::from_nanos(window.as_nanos() / count.max(1)),
            poisson: true,
            keys,
        })
    }
}

/// Runs until every one of `expected` workload lookups has ended, in 10-second steps,
/// giving up at `start + 3 × window + 600 s`.
fn run_until_done(ring: &mut Ring, start: Instant, window: Duration, expected: usize) {
    let limit = start + window.saturating_mul(3) + Duration::from_secs(600);
    ring.sim.run_until(start + window);
    while ring.sim.now() < limit && ring.records().len() < expected {
        ring.sim.run_for(Duration::from_secs(10));
    }
}

// --- chord-paths ---------------------------------------------------------------------

/// `chord-paths`: path length against N (SIGCOMM Fig. 10).
pub struct ChordPaths;

/// One point of chord-paths.
#[derive(Debug, Deserialize)]
pub struct PathsParams {
    /// Nodes.
    pub nodes: u32,
    /// Keys per node (the key set lookups draw from).
    pub keys_per_node: u32,
    /// Lookups per run.
    pub lookups: u32,
    /// `joins` or `converged`.
    pub build: String,
    /// Successor-list length.
    pub successors: u32,
    /// The underlay's delay model.
    pub latency: String,
}

/// SIGCOMM 2001 Fig. 10(a): mean path length at N = 2^3 … 2^14.
const PATHS_PAPER: [(f64, f64); 12] = [
    (8.0, 1.72),
    (16.0, 2.09),
    (32.0, 2.49),
    (64.0, 2.96),
    (128.0, 3.39),
    (256.0, 3.88),
    (512.0, 4.38),
    (1024.0, 4.89),
    (2048.0, 5.36),
    (4096.0, 5.85),
    (8192.0, 6.35),
    (16384.0, 6.87),
];

impl Experiment for ChordPaths {
    type Params = PathsParams;

    fn info(&self) -> Info {
        Info {
            name: "chord-paths",
            measures: "Chord lookup path length against the number of nodes (iterative lookups, 100·N keys)",
            reproduces: Some(
                "Stoica et al., SIGCOMM 2001, Fig. 10 (path length vs. N; PDF at N = 2^12)",
            ),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("nodes", "nodes", 4096, 2, 2_000_000)
                .sweep_by_default("8..16384:x2")
                .help("nodes in the ring"),
            ParamSpec::int("keys-per-node", "keys", 100, 1, 10_000)
                .help("keys in the system per node; lookups draw keys from them"),
            ParamSpec::int("lookups", "lookups", 100_000, 1, 100_000_000)
                .help("lookups per run, from random nodes"),
            ParamSpec::text("build", "joins", "joins | converged", check_build)
                .help("build the ring by protocol joins and stabilisation, or start converged"),
            ParamSpec::int("successors", "", 1, 1, 32).help("successor-list length r"),
            ParamSpec::text(
                "latency",
                "const:50ms",
                "const:D | uniform:A..B | exp:MEAN | euclid:SIDE | matrix:FILE.csv",
                check_latency,
            )
            .help("one-way delays (constant by default: delays do not change hop counts, and a static network has no timeouts)"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("nodes", "8..1024:x2"), ("lookups", "20000")],
            seeds: 2,
            what: "N = 2^3 … 2^10 instead of 2^14, 20,000 lookups per run instead of 100,000, 2 seeds instead of 3",
        }
    }

    fn default_seeds(&self) -> u32 {
        3
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "failed",
                unit: "fraction",
                help: "lookups that did not reach the key's successor",
            },
            MetricSpec {
                name: "stale_tables",
                unit: "fraction",
                help: "nodes whose fingers differ from the true ring's when lookups start",
            },
        ]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![SampleSpec {
            name: "path",
            unit: "hops",
            help: "nodes a lookup traverses after the originator, up to the key's predecessor",
            percentiles: &[1.0, 50.0, 99.0],
            distribution: Distribution::Pdf,
            value_column: "path_length",
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "path_length",
                title: "Chord path length vs. number of nodes",
                kind: FigureKind::Line {
                    x: "nodes",
                    ys: vec![
                        Y::SampleMean("path"),
                        Y::Percentile("path", 1.0),
                        Y::Percentile("path", 99.0),
                    ],
                },
                y_label: "path length (hops)",
                y_log: false,
                references: vec![
                    Reference::Points {
                        label: "Stoica et al. 2001, Fig. 10(a), mean",
                        points: PATHS_PAPER.to_vec(),
                    },
                    Reference::Model {
                        label: "½·log2 N",
                        value: |p| Some(0.5 * p("nodes")?.log2()),
                    },
                ],
            },
            FigureSpec {
                file: "path_pdf",
                title: "Chord path length distribution",
                kind: FigureKind::Pdf { sample: "path" },
                y_label: "path length (hops)",
                y_log: false,
                references: vec![],
            },
        ]
    }

    fn memory_per_run(&self, p: &PathsParams) -> Option<u64> {
        // ~3 KB per node (state, simulator, buffers) measured at 10^4, doubled.
        Some(u64::from(p.nodes) * 6_000 + u64::from(p.lookups) * 64 + (64 << 20))
    }

    fn run(&self, p: &PathsParams, cx: &RunContext) -> Result<RunOutput, String> {
        let config = ring_config(p.nodes, &p.build, p.successors, &p.latency, cx.seed);
        let keys = u64::from(p.nodes) * u64::from(p.keys_per_node);
        // About one lookup per node per second, over at least 10 s.
        let window = Duration::from_secs((u64::from(p.lookups) / u64::from(p.nodes)).max(10));
        let ready = match config.build {
            Build::Joins { growth, settle } => {
                *chord::join_schedule(p.nodes as usize, growth)
                    .last()
                    .unwrap_or(&Instant::ZERO)
                    + settle
            }
            Build::Converged => Instant::ZERO,
        };
        let end = ready + window + Duration::from_secs(60);
        let start = Duration::from_secs(1);
        let mut ring = chord::build_with(
            &config,
            spread(u64::from(p.lookups), p.nodes as usize, keys, start, window),
            |sim| cx.watch(sim, end),
        )?;
        let stale = ring.stale_tables() as f64 / f64::from(p.nodes);
        let from = ring.ready_at + start;
        run_until_done(&mut ring, from, window, p.lookups as usize);
        let truth = ring.live_ring();
        let records = ring.records();
        let failed = records.iter().filter(|r| !Ring::correct(r, &truth)).count();
        let mut out = RunOutput::new();
        out.metric("failed", failed as f64 / records.len().max(1) as f64)
            .metric("stale_tables", stale)
            .samples(
                "path",
                records
                    .iter()
                    .filter(|r| r.owner.is_some())
                    .map(|r| f64::from(r.hops))
                    .collect(),
            )
            .events(ring.sim.stats().events);
        if records.len() as u64 != u64::from(p.lookups) {
            return Err(format!(
                "{} of {} lookups ended; the others were still running at the end",
                records.len(),
                p.lookups
            ));
        }
        Ok(out)
    }
}

// --- chord-load ----------------------------------------------------------------------

/// `chord-load`: keys per node (SIGCOMM Fig. 8, 9).
pub struct ChordLoad;

/// One point of chord-load.
#[derive(Debug, Deserialize)]
pub struct LoadParams {
    /// Real nodes.
    pub nodes: u32,
    /// Keys in the system.
    pub keys: u32,
    /// Chord identifiers (virtual nodes) per real node.
    #[serde(rename = "virtual")]
    pub virtual_nodes: u32,
}

impl Experiment for ChordLoad {
    type Params = LoadParams;

    fn info(&self) -> Info {
        Info {
            name: "chord-load",
            measures: "keys per real node for 10^4 nodes, 10^5 … 10^6 keys, with r virtual nodes per real node",
            reproduces: Some(
                "Stoica et al., SIGCOMM 2001, Fig. 8 (keys per node) and Fig. 9 (virtual nodes)",
            ),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("nodes", "nodes", 10_000, 1, 1_000_000).help("real nodes"),
            ParamSpec::int("keys", "keys", 500_000, 1, 100_000_000)
                .sweep_by_default("100000..1000000:+100000")
                .help("keys in the system"),
            ParamSpec::int("virtual", "", 1, 1, 64)
                .help("Chord identifiers per real node; keys are counted per real node"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("keys", "100000,500000,1000000")],
            seeds: 4,
            what: "3 key counts instead of 10, 4 seeds instead of 20",
        }
    }

    fn default_seeds(&self) -> u32 {
        20
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec {
            name: "max_keys",
            unit: "keys",
            help: "most keys on one real node",
        }]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![SampleSpec {
            name: "keys",
            unit: "keys",
            help: "keys on one real node",
            percentiles: &[1.0, 50.0, 99.0],
            distribution: Distribution::Pdf,
            value_column: "keys_per_node",
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "keys_per_node",
                title: "Keys per node vs. keys in the system",
                kind: FigureKind::Line {
                    x: "keys",
                    ys: vec![
                        Y::SampleMean("keys"),
                        Y::Percentile("keys", 1.0),
                        Y::Percentile("keys", 99.0),
                        Y::Metric("max_keys"),
                    ],
                },
                y_label: "keys per node",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Stoica et al. 2001 (5·10^5 keys): p99 4.6×, max 9.1× the mean",
                    points: vec![(500_000.0, 4.6 * 50.0), (500_000.0, 9.1 * 50.0)],
                }],
            },
            FigureSpec {
                file: "keys_pdf",
                title: "Keys per node, distribution",
                kind: FigureKind::Pdf { sample: "keys" },
                y_label: "keys per node",
                y_log: false,
                references: vec![],
            },
        ]
    }

    fn memory_per_run(&self, p: &LoadParams) -> Option<u64> {
        Some(
            u64::from(p.nodes) * u64::from(p.virtual_nodes) * 4_000
                + u64::from(p.keys) * 48
                + (64 << 20),
        )
    }

    fn run(&self, p: &LoadParams, cx: &RunContext) -> Result<RunOutput, String> {
        let mut config = ring_config(p.nodes, "converged", 1, "const:50ms", cx.seed);
        config.virtual_nodes = p.virtual_nodes;
        let ring = chord::build_with(&config, |_| None, |sim| cx.watch(sim, Instant::ZERO))?;
        // Each key belongs to the instance whose Chord table says it owns it:
        // (predecessor, id]. Find the candidate by the sorted ids, then ask its table.
        let mut instances: Vec<(Id, usize)> = ring
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.peer.id, i))
            .collect();
        instances.sort_unstable();
        let mut per_node = vec![0u64; p.nodes as usize];
        let salt = cx.seed.to_be_bytes();
        for k in 0..p.keys {
            // Keys differ from run to run: SHA-1 of (seed, k).
            let mut name = [0u8; 12];
            name[..8].copy_from_slice(&salt);
            name[8..].copy_from_slice(&k.to_be_bytes());
            let key = Id::of_key(&name);
            let at = instances.partition_point(|o| o.0 < key) % instances.len();
            let member = &ring.members[instances[at].1];
            let owns = ring.chord(member).is_some_and(|c| c.table().owns(key));
            if !owns {
                return Err(format!("no instance's table owns key {key}"));
            }
            per_node[instances[at].1 / p.virtual_nodes as usize] += 1;
        }
        let max = per_node.iter().copied().max().unwrap_or(0);
        let mut out = RunOutput::new();
        out.metric("max_keys", max as f64)
            .samples("keys", per_node.iter().map(|&k| k as f64).collect());
        Ok(out)
    }
}

// --- chord-fail ----------------------------------------------------------------------

/// `chord-fail`: lookups after a fraction of the nodes fails at once (SIGCOMM Fig. 11).
pub struct ChordFail;

/// One point of chord-fail.
#[derive(Debug, Deserialize)]
pub struct FailParams {
    /// Nodes.
    pub nodes: u32,
    /// Keys in the system.
    pub keys: u32,
    /// Fraction of the nodes that fails at once.
    pub fail: f64,
    /// Lookups after the ring has stabilised.
    pub lookups: u32,
    /// Successor-list length.
    pub successors: u32,
    /// `joins` or `converged`.
    pub build: String,
}

impl Experiment for ChordFail {
    type Params = FailParams;

    fn info(&self) -> Info {
        Info {
            name: "chord-fail",
            measures: "fraction of lookups that miss the key's original owner after a fraction p of the nodes fails at once and the ring stabilises",
            reproduces: Some(
                "Stoica et al., SIGCOMM 2001, Fig. 11 (failed lookups vs. fraction of failed nodes)",
            ),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("nodes", "nodes", 10_000, 2, 1_000_000).help("nodes in the ring"),
            ParamSpec::int("keys", "keys", 1_000_000, 1, 100_000_000)
                .help("keys in the system (lookups draw from them)"),
            ParamSpec::float("fail", "fraction", 0.1, 0.0, 0.95)
                .sweep_by_default("0.01,0.02,0.05,0.1,0.15,0.2")
                .help("fraction of the nodes that fails at once"),
            ParamSpec::int("lookups", "lookups", 10_000, 1, 10_000_000)
                .help("lookups after the ring has stabilised"),
            ParamSpec::int("successors", "", 4, 1, 64).help("successor-list length r"),
            ParamSpec::text("build", "joins", "joins | converged", check_build)
                .help("build the ring by protocol joins, or start converged"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![
                ("nodes", "1000"),
                ("keys", "100000"),
                ("fail", "0.05,0.1,0.2"),
            ],
            seeds: 2,
            what: "10^3 nodes and 10^5 keys instead of 10^4 and 10^6, p = 0.05, 0.1, 0.2, 2 seeds instead of 5",
        }
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "failed_lookup_fraction",
                unit: "fraction",
                help: "lookups that did not end at the key's original owner (its node failed, or the lookup failed)",
            },
            MetricSpec {
                name: "unstable",
                unit: "fraction",
                help: "live nodes whose successor or predecessor is still wrong when lookups start",
            },
        ]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![FigureSpec {
            file: "failed_lookups",
            title: "Failed lookups vs. fraction of failed nodes",
            kind: FigureKind::Line {
                x: "fail",
                ys: vec![Y::Metric("failed_lookup_fraction")],
            },
            y_label: "failed lookups (fraction)",
            y_log: false,
            references: vec![Reference::Model {
                label: "paper: ≈ p (keys of failed nodes are lost)",
                value: |p| p("fail"),
            }],
        }]
    }

    fn memory_per_run(&self, p: &FailParams) -> Option<u64> {
        Some(u64::from(p.nodes) * 8_000 + (64 << 20))
    }

    fn run(&self, p: &FailParams, cx: &RunContext) -> Result<RunOutput, String> {
        let config = ring_config(p.nodes, &p.build, p.successors, "const:50ms", cx.seed);
        let ready = ready_time(&config, p.nodes);
        // Fail at ready + 1 s, stabilise for 120 s, then the lookups over 30 s.
        let start = Duration::from_secs(122);
        let window = Duration::from_secs(30);
        let end = ready + start + window + Duration::from_secs(60);
        let mut ring = chord::build_with(
            &config,
            spread(
                u64::from(p.lookups),
                p.nodes as usize,
                u64::from(p.keys),
                start,
                window,
            ),
            |sim| cx.watch(sim, end),
        )?;
        let original = ring.live_ring();
        ring.sim.run_until(ring.ready_at + Duration::from_secs(1));
        // The lookups of the failed nodes never run: count what the survivors asked.
        let failed_nodes = ring.crash_fraction(p.fail, cx.seed)?;
        ring.sim.run_until(ring.ready_at + start);
        let unstable = ring.wrong_neighbours() as f64 / ring.live_ring().len().max(1) as f64;
        let from = ring.ready_at + start;
        let per = u64::from(p.lookups) / u64::from(p.nodes);
        let survivors_lookups = ring
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| ring.chord(m).is_some())
            .map(|(i, _)| per + u64::from((i as u64) < u64::from(p.lookups) % u64::from(p.nodes)))
            .sum::<u64>() as usize;
        run_until_done(&mut ring, from, window, survivors_lookups);
        let records = ring.records();
        let missed = records
            .iter()
            .filter(|r| !Ring::correct(r, &original))
            .count();
        let mut out = RunOutput::new();
        out.metric(
            "failed_lookup_fraction",
            missed as f64 / records.len().max(1) as f64,
        )
        .metric("unstable", unstable)
        .events(ring.sim.stats().events);
        if failed_nodes == 0 && p.fail > 0.0 {
            return Err("no node failed: raise --nodes or --fail".into());
        }
        Ok(out)
    }
}

/// When a ring built with `config` is ready.
fn ready_time(config: &RingConfig, nodes: u32) -> Instant {
    match config.build {
        Build::Joins { growth, settle } => {
            *chord::join_schedule(nodes as usize * config.virtual_nodes as usize, growth)
                .last()
                .unwrap_or(&Instant::ZERO)
                + settle
        }
        Build::Converged => Instant::ZERO,
    }
}

// --- chord-frozen --------------------------------------------------------------------

/// `chord-frozen`: lookups in a frozen ring after failures (ToN Table II).
pub struct ChordFrozen;

/// One point of chord-frozen.
#[derive(Debug, Deserialize)]
pub struct FrozenParams {
    /// Nodes.
    pub nodes: u32,
    /// Successor-list length r.
    pub successors: u32,
    /// Fraction of the nodes that fails.
    pub fail: f64,
    /// Lookups after the failures.
    pub lookups: u32,
}

/// ToN Table II: (p, mean path, mean timeouts).
const FROZEN_PAPER: [(f64, f64, f64); 6] = [
    (0.0, 3.84, 0.0),
    (0.1, 4.03, 0.60),
    (0.2, 4.22, 1.17),
    (0.3, 4.44, 2.02),
    (0.4, 4.69, 3.23),
    (0.5, 5.09, 5.10),
];

impl Experiment for ChordFrozen {
    type Params = FrozenParams;

    fn info(&self) -> Info {
        Info {
            name: "chord-frozen",
            measures: "path length and timeouts of lookups in a ring frozen just before a fraction p of its nodes fails",
            reproduces: Some("Stoica et al., IEEE/ACM ToN 2003, Table II"),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("nodes", "nodes", 1000, 2, 1_000_000).help("nodes in the ring"),
            ParamSpec::int("successors", "", 20, 1, 64).help("successor-list length r"),
            ParamSpec::float("fail", "fraction", 0.1, 0.0, 0.95)
                .sweep_by_default("0,0.1,0.2,0.3,0.4,0.5")
                .help("fraction of the nodes that fails"),
            ParamSpec::int("lookups", "lookups", 10_000, 1, 10_000_000)
                .help("lookups after the failures, from random live nodes"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("fail", "0,0.2,0.5"), ("lookups", "3000")],
            seeds: 2,
            what: "p = 0, 0.2, 0.5 instead of 0 … 0.5 by 0.1, 3,000 lookups instead of 10,000, 2 seeds instead of 5",
        }
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec {
            name: "failed_lookups",
            unit: "lookups",
            help: "lookups that did not reach the key's current successor",
        }]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![
            SampleSpec {
                name: "path",
                unit: "hops",
                help: "nodes contacted up to and including the key's successor (ToN's count: hops + 1)",
                percentiles: &[1.0, 50.0, 99.0],
                distribution: Distribution::None,
                value_column: "path",
            },
            SampleSpec {
                name: "timeouts",
                unit: "timeouts",
                help: "steps of a lookup that timed out",
                percentiles: &[1.0, 50.0, 99.0],
                distribution: Distribution::None,
                value_column: "timeouts",
            },
        ]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "path",
                title: "Path length in a frozen ring vs. fraction of failed nodes",
                kind: FigureKind::Line {
                    x: "fail",
                    ys: vec![
                        Y::SampleMean("path"),
                        Y::Percentile("path", 1.0),
                        Y::Percentile("path", 99.0),
                    ],
                },
                y_label: "path length (nodes contacted)",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Stoica et al. 2003, Table II, mean",
                    points: FROZEN_PAPER.iter().map(|&(p, m, _)| (p, m)).collect(),
                }],
            },
            FigureSpec {
                file: "timeouts",
                title: "Timeouts per lookup in a frozen ring",
                kind: FigureKind::Line {
                    x: "fail",
                    ys: vec![Y::SampleMean("timeouts"), Y::Percentile("timeouts", 99.0)],
                },
                y_label: "timeouts per lookup",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Stoica et al. 2003, Table II, mean",
                    points: FROZEN_PAPER.iter().map(|&(p, _, t)| (p, t)).collect(),
                }],
            },
        ]
    }

    fn run(&self, p: &FrozenParams, cx: &RunContext) -> Result<RunOutput, String> {
        // ToN §V-A: exponential delays, mean 50 ms; a peer silent for 500 ms has failed.
        let mut config = ring_config(p.nodes, "joins", p.successors, "exp:50ms", cx.seed);
        config.chord.rpc_timeout = Duration::from_millis(500);
        let ready = ready_time(&config, p.nodes);
        let start = Duration::from_secs(2);
        let window = Duration::from_secs(60);
        let end = ready + start + window + Duration::from_secs(60);
        // The failed nodes' share of the lookups never runs: ask for lookups / (1 − p)
        // so that the survivors make about `lookups`.
        let asked = (f64::from(p.lookups) / (1.0 - p.fail)).round() as u64;
        let mut ring = chord::build_with(
            &config,
            spread(asked, p.nodes as usize, 0, start, window),
            |sim| cx.watch(sim, end),
        )?;
        // Freeze (no stabilisation, no purging) just before the failures.
        ring.freeze();
        ring.sim.run_until(ring.ready_at + Duration::from_secs(1));
        ring.crash_fraction(p.fail, cx.seed)?;
        let from = ring.ready_at + start;
        let expected = ring
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| ring.chord(m).is_some())
            .map(|(i, _)| {
                let per = asked / u64::from(p.nodes);
                (per + u64::from((i as u64) < asked % u64::from(p.nodes))) as usize
            })
            .sum();
        run_until_done(&mut ring, from, window, expected);
        let truth = ring.live_ring();
        let records = ring.records();
        let failed = records.iter().filter(|r| !Ring::correct(r, &truth)).count();
        let ok: Vec<_> = records
            .iter()
            .filter(|r| Ring::correct(r, &truth))
            .collect();
        let mut out = RunOutput::new();
        out.metric("failed_lookups", failed as f64)
            .samples("path", ok.iter().map(|r| f64::from(r.hops) + 1.0).collect())
            .samples(
                "timeouts",
                records.iter().map(|r| f64::from(r.timeouts)).collect(),
            )
            .events(ring.sim.stats().events);
        Ok(out)
    }
}

// --- chord-churn ---------------------------------------------------------------------

/// `chord-churn`: lookups while nodes join and fail (ToN Table III).
pub struct ChordChurn;

/// One point of chord-churn.
#[derive(Debug, Deserialize)]
pub struct ChurnParams {
    /// Nodes at the start.
    pub nodes: u32,
    /// Successor-list length r.
    pub successors: u32,
    /// Joins per second, and failures per second (each a Poisson process).
    pub rate: f64,
    /// Lookups (Poisson, one per second over the whole system).
    pub lookups: u32,
    /// Mean stabilisation period, s (each wait uniform in [0.5, 1.5] × it).
    pub stabilize_s: f64,
    /// `joins` or `converged`: how the starting ring is built.
    pub build: String,
}

impl Experiment for ChordChurn {
    type Params = ChurnParams;

    fn info(&self) -> Info {
        Info {
            name: "chord-churn",
            measures: "path length, timeouts and failed lookups while nodes join and fail at rate R",
            reproduces: Some("Stoica et al., IEEE/ACM ToN 2003, Table III"),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("nodes", "nodes", 1000, 2, 1_000_000).help("nodes at the start"),
            ParamSpec::int("successors", "", 20, 1, 64).help("successor-list length r"),
            ParamSpec::float("rate", "per s", 0.05, 0.0, 1000.0)
                .sweep_by_default("0.05..0.4:+0.05")
                .help("joins per second, and as many failures per second (Poisson)"),
            ParamSpec::int("lookups", "lookups", 10_000, 1, 100_000_000)
                .help("lookups, one per second over the whole system (Poisson): the run lasts about this many seconds"),
            ParamSpec::float("stabilize-s", "s", 30.0, 0.1, 3600.0)
                .help("mean stabilisation period; each round waits U[0.5, 1.5] × it, i.e. U[15, 45] s by default"),
            ParamSpec::text("build", "joins", "joins | converged", check_build)
                .help("build the starting ring by protocol joins, or start converged"),
        ]
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("rate", "0.05,0.2,0.4"), ("lookups", "2000")],
            seeds: 2,
            what: "R = 0.05, 0.2, 0.4 instead of 0.05 … 0.4 by 0.05, 2,000 lookups (s) instead of 10,000, 2 seeds instead of 5",
        }
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "failures_per_10k",
                unit: "per 10^4 lookups",
                help: "lookups that did not reach the key's current successor, per 10,000",
            },
            MetricSpec {
                name: "churn_per_stabilization",
                unit: "joins per period",
                help: "joins (and failures) per mean stabilisation period: R × period",
            },
        ]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![
            SampleSpec {
                name: "path",
                unit: "hops",
                help: "nodes contacted up to and including the key's successor (hops + 1), lookups that reached it",
                percentiles: &[1.0, 50.0, 99.0],
                distribution: Distribution::None,
                value_column: "path",
            },
            SampleSpec {
                name: "timeouts",
                unit: "timeouts",
                help: "steps of a lookup that timed out",
                percentiles: &[50.0, 99.0],
                distribution: Distribution::None,
                value_column: "timeouts",
            },
        ]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "failures",
                title: "Failed lookups under churn",
                kind: FigureKind::Line {
                    x: "rate",
                    ys: vec![Y::Metric("failures_per_10k")],
                },
                y_label: "failed lookups per 10,000",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Stoica et al. 2003, Table III (R = 0.05 and 0.40)",
                    points: vec![(0.05, 0.0), (0.4, 16.0)],
                }],
            },
            FigureSpec {
                file: "timeouts",
                title: "Timeouts per lookup under churn",
                kind: FigureKind::Line {
                    x: "rate",
                    ys: vec![Y::SampleMean("timeouts")],
                },
                y_label: "timeouts per lookup",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Stoica et al. 2003, Table III (R = 0.05 and 0.40)",
                    points: vec![(0.05, 0.05), (0.4, 0.46)],
                }],
            },
            FigureSpec {
                file: "path",
                title: "Path length under churn",
                kind: FigureKind::Line {
                    x: "rate",
                    ys: vec![Y::SampleMean("path")],
                },
                y_label: "path length (nodes contacted)",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Stoica et al. 2003, Table III (R = 0.05 and 0.40)",
                    points: vec![(0.05, 3.81), (0.4, 4.06)],
                }],
            },
        ]
    }

    fn memory_per_run(&self, p: &ChurnParams) -> Option<u64> {
        let joined = (p.rate * f64::from(p.lookups)) as u64;
        Some((u64::from(p.nodes) + joined) * 8_000 + u64::from(p.lookups) * 64 + (64 << 20))
    }

    fn run(&self, p: &ChurnParams, cx: &RunContext) -> Result<RunOutput, String> {
        use std::collections::BTreeSet;

        let mut config = ring_config(p.nodes, &p.build, p.successors, "exp:50ms", cx.seed);
        config.chord.rpc_timeout = Duration::from_millis(500);
        let ready = ready_time(&config, p.nodes);
        let period = Duration::from_secs_f64(p.stabilize_s);
        if config.build == Build::Converged {
            // A converged ring starts with the ToN maintenance periods armed.
            config.chord.stabilize = period;
            config.chord.fix_fingers = period;
            config.chord.check_predecessor = period;
        }
        // One lookup per second over the system: each node at rate 1/N.
        let per_node = Workload {
            start: Duration::from_secs(1),
            count: u32::MAX,
            interval: Duration::from_secs(u64::from(p.nodes)),
            poisson: true,
            keys: 0,
        };
        let run_time = Duration::from_secs(u64::from(p.lookups));
        let end = ready + run_time + Duration::from_secs(2);
        let mut ring = chord::build_with(&config, |_| Some(per_node), |sim| cx.watch(sim, end))?;
        // From now on, the ToN settings: one stabilisation round (successor, one finger,
        // predecessor check) every U[15, 45] s.
        for m in ring.members.clone() {
            if let Some(node) = ring.sim.node_mut(m.node)
                && let Some(c) = node.protocol_mut(m.handle)
            {
                c.set_maintenance(period, period, period);
            }
        }
        let mut join_config = config.clone();
        join_config.chord.stabilize = period;
        join_config.chord.fix_fingers = period;
        join_config.chord.check_predecessor = period;
        // The churn: joins and failures, each a Poisson process at `rate`.
        let mut rng = vipe_rt::NodeRng::seed_from_u64(cx.seed ^ 0xc4_u64);
        let exp = |rng: &mut vipe_rt::NodeRng, rate: f64| {
            if rate <= 0.0 {
                Duration::from_secs(u64::MAX / 4_000_000_000)
            } else {
                Duration::from_secs_f64(-(1.0 - rng.f64()).ln() / rate)
            }
        };
        let start = ring.ready_at;
        let stop = start + run_time;
        let mut next_join = start + exp(&mut rng, p.rate);
        let mut next_fail = start + exp(&mut rng, p.rate);
        let mut live: BTreeSet<Id> = ring.live_ring().iter().map(|q| q.id).collect();
        // Membership changes in time order, for judging each lookup at its end.
        let initial = live.clone();
        let mut changes: Vec<(Instant, bool, Id)> = Vec::new();
        let mut harvested = Vec::new();
        while next_join.min(next_fail) < stop {
            if next_join <= next_fail {
                ring.sim.run_until(next_join);
                let m = ring.join(&join_config, &mut rng, Some(per_node))?;
                changes.push((next_join, true, m.peer.id));
                live.insert(m.peer.id);
                next_join += exp(&mut rng, p.rate);
            } else {
                ring.sim.run_until(next_fail);
                // Keep the victim's finished lookups: its state goes with the crash.
                let live_members: Vec<_> = ring
                    .members
                    .iter()
                    .filter(|m| ring.chord(m).is_some())
                    .copied()
                    .collect();
                if live_members.len() > 1 {
                    let victim = live_members[rng.below(0, live_members.len() as u64) as usize];
                    if let Some(c) = ring.chord(&victim) {
                        harvested.extend(c.records.iter().copied());
                    }
                    ring.sim.crash(victim.node).map_err(|e| e.to_string())?;
                    changes.push((next_fail, false, victim.peer.id));
                    live.remove(&victim.peer.id);
                }
                next_fail += exp(&mut rng, p.rate);
            }
        }
        ring.sim.run_until(stop);
        // Lookups that started in the measured window and ended, from every member that
        // ever lived (the crashed ones' taken just before their crash).
        let mut records: Vec<_> = ring
            .members
            .iter()
            .filter_map(|m| ring.chord(m))
            .flat_map(|c| c.records.iter().copied())
            .chain(harvested)
            .filter(|r| r.started >= start && r.started + r.latency <= stop)
            .collect();
        records.sort_by_key(|r| (r.started + r.latency, r.target));
        let mut members = initial;
        let mut next_change = 0;
        let mut failed = 0usize;
        let mut paths = Vec::new();
        for r in &records {
            let done = r.started + r.latency;
            while next_change < changes.len() && changes[next_change].0 <= done {
                let (_, joined, id) = changes[next_change];
                if joined {
                    members.insert(id);
                } else {
                    members.remove(&id);
                }
                next_change += 1;
            }
            let truth = members
                .range(r.target..)
                .next()
                .or_else(|| members.iter().next())
                .copied();
            match r.owner {
                Some(o) if Some(o.id) == truth => paths.push(f64::from(r.hops) + 1.0),
                _ => failed += 1,
            }
        }
        let mut out = RunOutput::new();
        out.metric(
            "failures_per_10k",
            failed as f64 * 1e4 / records.len().max(1) as f64,
        )
        .metric("churn_per_stabilization", p.rate * p.stabilize_s)
        .samples("path", paths)
        .samples(
            "timeouts",
            records.iter().map(|r| f64::from(r.timeouts)).collect(),
        )
        .events(ring.sim.stats().events);
        Ok(out)
    }
}
