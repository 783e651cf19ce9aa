//! The Pastry experiments: the set-ups of Rowstron & Druschel, Middleware 2001, §3, run
//! with the Pastry of `vipe_protocols::pastry` in the built-in simulator. Nodes sit at
//! points uniform in a [0, 1000]² plane; the delay between two nodes, and the proximity
//! metric, is their Euclidean distance (100 ms across a side).
//!
//! **How a hop is counted.** A route's hops are the messages that carry it from the node
//! it starts at to the node that delivers it (the live node numerically closest to the
//! key); a route between two random nodes whose destination is in the source's leaf set
//! takes one hop. A next hop that does not answer (a dead node) is not a hop; the message
//! is routed on from the same node and the timeout is counted apart.
//!
//! **Relative distance.** The proximity distance a message travels along its route,
//! divided by the distance between its source and destination (what it travels with
//! complete routing tables: one hop). Reported both as the ratio of sums over all routes
//! (`relative_distance`) and as the mean of per-route ratios (`relative_distance_per_route`).

use serde::Deserialize;
use vipe_examples::pastry::{self, Build, NetConfig, Network, closest};
use vipe_protocols::pastry::{Id, JoinStrategy, Peer, RouteRecord};
use vipe_rt::{Duration, Instant};

use crate::experiment::{
    Distribution, Experiment, FigureKind, FigureSpec, Info, MetricSpec, Quick, Reference,
    RunContext, RunOutput, SampleSpec, TableSpec, Y,
};
use crate::param::ParamSpec;

fn check_build(text: &str) -> Result<(), String> {
    match text {
        "joins" | "converged" => Ok(()),
        _ => Err(format!("'{text}' is not a build: write joins or converged")),
    }
}

fn check_join(text: &str) -> Result<(), String> {
    join_strategy(text).map(|_| ())
}

fn join_strategy(text: &str) -> Result<JoinStrategy, String> {
    match text {
        "sl" => Ok(JoinStrategy::RowsOnly),
        "wt" => Ok(JoinStrategy::WholeTables),
        "wtf" => Ok(JoinStrategy::WithSecondPhase),
        _ => Err(format!(
            "'{text}' is not a join strategy: write sl (rows only), wt (whole tables) or wtf (with the second phase)"
        )),
    }
}

fn check_phase(text: &str) -> Result<(), String> {
    match text {
        "before" | "failed" | "repaired" => Ok(()),
        _ => Err(format!(
            "'{text}' is not a phase: write before, failed or repaired"
        )),
    }
}

/// The parameters every Pastry experiment shares.
fn common_params(nodes: ParamSpec, b: i64, leaf_set: i64, neighbourhood: i64) -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("b", "bits", b, 1, 8).help("bits per identifier digit"),
        ParamSpec::int("leaf-set", "", leaf_set, 2, 128).help("leaf set size |L| (even)"),
        ParamSpec::int("neighbourhood", "", neighbourhood, 0, 256)
            .help("neighbourhood set size |M|"),
        nodes,
    ]
}

/// The `--nodes` parameter with this default.
fn nodes_param(default: i64) -> ParamSpec {
    ParamSpec::int("nodes", "nodes", default, 2, 2_000_000).help("Pastry nodes")
}

/// A leaf set has two equal sides.
fn check_leaf_set(leaf_set: u32) -> Result<(), String> {
    if leaf_set.is_multiple_of(2) {
        Ok(())
    } else {
        Err(format!("--leaf-set {leaf_set} must be even"))
    }
}

fn net_config(
    nodes: u32,
    b: u32,
    leaf_set: u32,
    neighbourhood: u32,
    build: &str,
    seed: u64,
) -> Result<NetConfig, String> {
    let mut config = NetConfig::new(nodes, seed);
    config.pastry.b = b;
    config.pastry.leaf_set = leaf_set as usize;
    config.pastry.neighbourhood = neighbourhood as usize;
    if build == "converged" {
        config.build = Build::Converged;
    }
    config.pastry.validate()?;
    Ok(config)
}

/// `count` routes between random pairs of distinct nodes drawn from `among` (indices
/// into `peers`), one every `spacing` from `start`, per source node.
fn pair_routes(
    peers: &[Peer],
    among: &[usize],
    count: u64,
    start: Instant,
    spacing: Duration,
    seed: u64,
    routes: &mut [Vec<(Instant, Id)>],
) {
    let mut rng = vipe_rt::NodeRng::seed_from_u64(seed);
    let n = among.len() as u64;
    for k in 0..count {
        let s = rng.below(0, n) as usize;
        let mut d = rng.below(0, n - 1) as usize;
        if d >= s {
            d += 1;
        }
        let (src, dst) = (among[s], among[d]);
        let at = start + Duration::from_nanos(spacing.as_nanos() * k);
        routes[src].push((at, peers[dst].id));
    }
}

/// Runs until `expected` routes have reported back or `limit` passes.
/// Each record comes with the index of the member that made it.
fn run_until_reported(
    net: &mut Network,
    limit: Instant,
    expected: usize,
) -> Vec<(usize, RouteRecord)> {
    let mut records = Vec::new();
    while records.len() < expected && net.sim.now() < limit {
        let step = (net.sim.now() + Duration::from_secs(10)).min(limit);
        net.sim.run_until(step);
        records.extend(net.take_records());
    }
    records
}

/// What a set of routes measured: hops, misdeliveries and distances.
struct RouteStats {
    hops: Vec<f64>,
    misdelivered: usize,
    relative: f64,
    relative_per_route: f64,
    route_distance: f64,
    direct_distance: f64,
    timeouts: u64,
}

fn route_stats(records: &[RouteRecord], sources: &[Peer], live: &[Peer]) -> RouteStats {
    let mut hops = Vec::with_capacity(records.len());
    let (mut total, mut direct, mut ratios, mut counted) = (0.0, 0.0, 0.0, 0usize);
    let mut misdelivered = 0;
    let mut timeouts = 0;
    for (r, src) in records.iter().zip(sources) {
        hops.push(f64::from(r.hops));
        timeouts += u64::from(r.timeouts);
        if r.node.id != closest(live, r.key).id {
            misdelivered += 1;
        }
        let d = f64::from(src.distance_to(r.node.pos));
        if d > 0.0 {
            total += f64::from(r.distance);
            direct += d;
            ratios += f64::from(r.distance) / d;
            counted += 1;
        }
    }
    let n = counted.max(1) as f64;
    RouteStats {
        hops,
        misdelivered,
        relative: total / direct.max(f64::MIN_POSITIVE),
        relative_per_route: ratios / n,
        route_distance: total / n,
        direct_distance: direct / n,
        timeouts,
    }
}

/// The source peer of each record (its maker), in the records' order.
fn records_with_sources(
    net: &Network,
    taken: Vec<(usize, RouteRecord)>,
) -> (Vec<RouteRecord>, Vec<Peer>) {
    let sources = taken.iter().map(|(i, _)| net.members[*i].peer).collect();
    (taken.into_iter().map(|(_, r)| r).collect(), sources)
}

// --- pastry-hops ---------------------------------------------------------------------

/// `pastry-hops`: routing hops, their distribution and route distance against N (the
/// paper's Fig. 4, 5 and 6), and routing-table size.
pub struct PastryHops;

/// One point of pastry-hops.
#[derive(Debug, Deserialize)]
pub struct HopsParams {
    /// Nodes.
    pub nodes: u32,
    /// Routes per run.
    pub routes: u32,
    /// Bits per digit.
    pub b: u32,
    /// |L|.
    pub leaf_set: u32,
    /// |M|.
    pub neighbourhood: u32,
    /// `joins` or `converged`.
    pub build: String,
}

/// Fig. 4: mean hops at N = 1,000 … 100,000 (b = 4, |L| = 16, |M| = 32).
const HOPS_PAPER: [(f64, f64); 7] = [
    (1_000.0, 2.49),
    (2_000.0, 2.69),
    (5_000.0, 2.95),
    (10_000.0, 3.23),
    (20_000.0, 3.49),
    (50_000.0, 3.75),
    (100_000.0, 3.98),
];

/// Fig. 5: the fraction of routes taking each number of hops at N = 100,000.
const HOPS_PDF_PAPER: [(f64, f64); 7] = [
    (0.0, 0.0),
    (1.0, 0.0006),
    (2.0, 0.0156),
    (3.0, 0.1643),
    (4.0, 0.6449),
    (5.0, 0.1745),
    (6.0, 0.0),
];

impl Experiment for PastryHops {
    type Params = HopsParams;

    fn info(&self) -> Info {
        Info {
            name: "pastry-hops",
            measures: "Pastry routing hops, their distribution and the route's distance relative to complete routing tables, against N",
            reproduces: Some(
                "Rowstron & Druschel, Middleware 2001, Fig. 4 (hops vs. N), Fig. 5 (hop PDF at 10^5), Fig. 6 (route distance)",
            ),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        let nodes = nodes_param(10_000).sweep_by_default("1000,2000,5000,10000,20000,50000,100000");
        let mut params = common_params(nodes, 4, 16, 32);
        params.push(
            ParamSpec::int("routes", "routes", 200_000, 1, 100_000_000)
                .help("messages routed between random pairs of nodes"),
        );
        params.push(
            ParamSpec::text("build", "joins", "joins | converged", check_build).help(
                "nodes join one by one through the nearest node (the paper), or start converged",
            ),
        );
        params
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("nodes", "1000,2000,5000"), ("routes", "20000")],
            seeds: 2,
            what: "N = 1,000 … 5,000 instead of 1,000 … 100,000, 20,000 routes per run instead of 200,000, 2 seeds instead of 3",
        }
    }

    fn default_seeds(&self) -> u32 {
        3
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "relative_distance",
                unit: "ratio",
                help: "distance travelled along Pastry's routes over the distance with complete routing tables (ratio of sums; the paper's Fig. 6)",
            },
            MetricSpec {
                name: "relative_distance_per_route",
                unit: "ratio",
                help: "the same ratio averaged over routes",
            },
            MetricSpec {
                name: "route_distance",
                unit: "plane units",
                help: "mean distance a route travels",
            },
            MetricSpec {
                name: "direct_distance",
                unit: "plane units",
                help: "mean distance with complete routing tables (source to destination)",
            },
            MetricSpec {
                name: "table_entries",
                unit: "entries",
                help: "routing table entries per node",
            },
            MetricSpec {
                name: "misdelivered",
                unit: "fraction",
                help: "routes delivered to a node other than the numerically closest",
            },
            MetricSpec {
                name: "join_messages",
                unit: "messages",
                help: "messages a node sent to join (route, state requests, announcements)",
            },
        ]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![SampleSpec {
            name: "hops",
            unit: "hops",
            help: "messages that carried a route from its source to the node that delivered it",
            percentiles: &[50.0, 99.0],
            distribution: Distribution::Pdf,
            value_column: "hops",
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "hops",
                title: "Pastry routing hops vs. number of nodes (b = 4, |L| = 16, |M| = 32)",
                kind: FigureKind::Line {
                    x: "nodes",
                    ys: vec![Y::SampleMean("hops")],
                },
                y_label: "routing hops",
                y_log: false,
                references: vec![
                    Reference::Points {
                        label: "Rowstron & Druschel 2001, Fig. 4",
                        points: HOPS_PAPER.to_vec(),
                    },
                    Reference::Model {
                        label: "log16 N",
                        value: |p| Some(p("nodes")?.ln() / 16f64.ln()),
                    },
                ],
            },
            FigureSpec {
                file: "hops_pdf",
                title: "Pastry routing hops distribution",
                kind: FigureKind::Pdf { sample: "hops" },
                y_label: "routing hops",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Rowstron & Druschel 2001, Fig. 5 (N = 100,000)",
                    points: HOPS_PDF_PAPER.to_vec(),
                }],
            },
            FigureSpec {
                file: "route_distance",
                title: "Distance a route travels: Pastry vs. complete routing tables",
                kind: FigureKind::Line {
                    x: "nodes",
                    ys: vec![Y::Metric("route_distance"), Y::Metric("direct_distance")],
                },
                y_label: "mean route distance (plane units)",
                y_log: false,
                references: vec![],
            },
            FigureSpec {
                file: "relative_distance",
                title: "Pastry route distance relative to complete routing tables",
                kind: FigureKind::Line {
                    x: "nodes",
                    ys: vec![
                        Y::Metric("relative_distance"),
                        Y::Metric("relative_distance_per_route"),
                    ],
                },
                y_label: "relative distance",
                y_log: false,
                references: vec![
                    Reference::Model {
                        label: "paper's range, low end (1.30)",
                        value: |_| Some(1.30),
                    },
                    Reference::Model {
                        label: "paper's range, high end (1.36)",
                        value: |_| Some(1.36),
                    },
                ],
            },
            FigureSpec {
                file: "table_entries",
                title: "Routing table entries per node",
                kind: FigureKind::Line {
                    x: "nodes",
                    ys: vec![Y::Metric("table_entries")],
                },
                y_label: "entries",
                y_log: false,
                references: vec![Reference::Model {
                    label: "(2^b − 1)·⌈log_2^b N⌉",
                    value: |p| {
                        let (n, b) = (p("nodes")?, p("b")?);
                        let base = 2f64.powf(b);
                        Some((base - 1.0) * (n.ln() / base.ln()).ceil())
                    },
                }],
            },
        ]
    }

    fn check(&self, p: &HopsParams) -> Result<(), String> {
        check_leaf_set(p.leaf_set)?;
        if p.build == "joins" && p.nodes > 200_000 {
            return Err(format!(
                "--nodes {} by joins would take hours; use --build converged beyond 200,000",
                p.nodes
            ));
        }
        Ok(())
    }

    fn memory_per_run(&self, p: &HopsParams) -> Option<u64> {
        // Per node: 5–9 KB of Pastry state and ~1 KB of simulator, plus the converged
        // start's indexes or the joins' messages in flight.
        let per_node = if p.build == "converged" {
            12_000
        } else {
            16_000
        };
        Some(u64::from(p.nodes) * per_node + u64::from(p.routes) * 128 + (64 << 20))
    }

    fn run(&self, p: &HopsParams, cx: &RunContext) -> Result<RunOutput, String> {
        let config = net_config(p.nodes, p.b, p.leaf_set, p.neighbourhood, &p.build, cx.seed)?;
        let peers = config.peers();
        let n = peers.len();
        let start = config.ready_at();
        // One route every 5 ms network-wide: nothing else runs, so this only spaces them.
        let spacing = Duration::from_millis(5);
        let mut routes = vec![Vec::new(); n];
        let all: Vec<usize> = (0..n).collect();
        pair_routes(
            &peers,
            &all,
            u64::from(p.routes),
            start,
            spacing,
            cx.seed ^ 0x7061_7374,
            &mut routes,
        );
        let end = start + Duration::from_nanos(spacing.as_nanos() * u64::from(p.routes));
        let mut net = pastry::build(
            &config,
            |i| routes[i].clone(),
            |sim| cx.watch(sim, end + Duration::from_secs(10)),
        )?;
        drop(routes);
        let taken = run_until_reported(&mut net, end + Duration::from_secs(60), p.routes as usize);
        let (records, sources) = records_with_sources(&net, taken);
        let live = net.live();
        let stats = route_stats(&records, &sources, &live);
        let mut entries = 0usize;
        let mut join_messages = 0u64;
        for m in &net.members {
            if let Some(pastry) = net.pastry(m) {
                entries += pastry.routing_table().len();
                join_messages += pastry.stats.join_messages;
            }
        }
        if records.len() != p.routes as usize {
            return Err(format!(
                "{} of {} routes reported back; the others were lost",
                records.len(),
                p.routes
            ));
        }
        let mut out = RunOutput::new();
        out.metric("relative_distance", stats.relative)
            .metric("relative_distance_per_route", stats.relative_per_route)
            .metric("route_distance", stats.route_distance)
            .metric("direct_distance", stats.direct_distance)
            .metric("table_entries", entries as f64 / n as f64)
            .metric(
                "misdelivered",
                stats.misdelivered as f64 / records.len().max(1) as f64,
            )
            .metric(
                "join_messages",
                if p.build == "joins" {
                    join_messages as f64 / n as f64
                } else {
                    f64::NAN
                },
            )
            .samples("hops", stats.hops)
            .events(net.sim.stats().events);
        Ok(out)
    }
}

// --- pastry-fail ---------------------------------------------------------------------

/// `pastry-fail`: routing after 10% of the nodes fail silently, before and after lazy
/// repair (the paper's §3.4, Fig. 8).
pub struct PastryFail;

/// One point of pastry-fail.
#[derive(Debug, Deserialize)]
pub struct FailParams {
    /// Nodes.
    pub nodes: u32,
    /// Routes measured per run.
    pub routes: u32,
    /// Fraction of the nodes that fail.
    pub fail: f64,
    /// `before`, `failed` or `repaired`.
    pub phase: String,
    /// Bits per digit.
    pub b: u32,
    /// |L|.
    pub leaf_set: u32,
    /// |M|.
    pub neighbourhood: u32,
}

/// Fig. 8: mean hops before the failures, after them with no repair, after repair
/// (5,000 nodes, 10% failed; b = 4, |L| = 16, |M| = 32), at x = 0, 1, 2.
const FAIL_PAPER: [(f64, f64); 3] = [(0.0, 2.73), (1.0, 2.96), (2.0, 2.74)];

impl Experiment for PastryFail {
    type Params = FailParams;

    fn info(&self) -> Info {
        Info {
            name: "pastry-fail",
            measures: "Pastry routing hops before a silent failure of a fraction of the nodes, after it with no repair, and after lazy repair; repair RPCs per failed node",
            reproduces: Some("Rowstron & Druschel, Middleware 2001, §3.4, Fig. 8"),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        let mut params = common_params(nodes_param(5_000), 4, 16, 32);
        params.push(
            ParamSpec::int("routes", "routes", 200_000, 1, 100_000_000)
                .help("messages routed between random pairs of live nodes in the measured pass"),
        );
        params.push(
            ParamSpec::float("fail", "fraction", 0.1, 0.0, 0.9)
                .help("fraction of the nodes that fail silently"),
        );
        params.push(
            ParamSpec::text("phase", "before", "before | failed | repaired", check_phase)
                .sweep_by_default("before,failed,repaired")
                .help("route before the failure, after it with no repair, or after a pass of routes that repaired the tables lazily"),
        );
        params
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("nodes", "1000"), ("routes", "20000")],
            seeds: 2,
            what: "1,000 nodes instead of 5,000, 20,000 routes per pass instead of 200,000, 2 seeds instead of 3",
        }
    }

    fn default_seeds(&self) -> u32 {
        3
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: "rpcs_per_failed_node",
                unit: "RPCs",
                help: "repair requests (routing-table entries, leaf sets, neighbourhood sets) per failed node, in the repair pass (0 without repair)",
            },
            MetricSpec {
                name: "table_rpcs_per_failed_node",
                unit: "RPCs",
                help: "of those, routing-table entry requests",
            },
            MetricSpec {
                name: "timeouts_per_route",
                unit: "timeouts",
                help: "dead next hops a measured route met (each routed around)",
            },
            MetricSpec {
                name: "misdelivered",
                unit: "fraction",
                help: "measured routes delivered to a node other than the live node numerically closest to the key",
            },
            MetricSpec {
                name: "lost",
                unit: "fraction",
                help: "measured routes never reported back",
            },
        ]
    }

    fn samples(&self) -> Vec<SampleSpec> {
        vec![SampleSpec {
            name: "hops",
            unit: "hops",
            help: "messages that carried a route from its source to the node that delivered it (timeouts not counted)",
            percentiles: &[50.0, 99.0],
            distribution: Distribution::Pdf,
            value_column: "hops",
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "hops",
                title: "Pastry routing hops around a silent failure of 10% of the nodes",
                kind: FigureKind::Line {
                    x: "phase",
                    ys: vec![Y::SampleMean("hops")],
                },
                y_label: "routing hops",
                y_log: false,
                references: vec![Reference::Points {
                    label: "Rowstron & Druschel 2001, Fig. 8",
                    points: FAIL_PAPER.to_vec(),
                }],
            },
            FigureSpec {
                file: "repair_rpcs",
                title: "Repair requests per failed node",
                kind: FigureKind::Line {
                    x: "phase",
                    ys: vec![
                        Y::Metric("rpcs_per_failed_node"),
                        Y::Metric("table_rpcs_per_failed_node"),
                    ],
                },
                y_label: "RPCs per failed node",
                y_log: false,
                references: vec![],
            },
        ]
    }

    fn check(&self, p: &FailParams) -> Result<(), String> {
        check_leaf_set(p.leaf_set)?;
        if ((1.0 - p.fail) * f64::from(p.nodes)) < 2.0 {
            return Err(format!(
                "--fail {} leaves fewer than two of {} nodes alive",
                p.fail, p.nodes
            ));
        }
        Ok(())
    }

    fn memory_per_run(&self, p: &FailParams) -> Option<u64> {
        Some(u64::from(p.nodes) * 20_000 + u64::from(p.routes) * 256 + (64 << 20))
    }

    fn run(&self, p: &FailParams, cx: &RunContext) -> Result<RunOutput, String> {
        let mut config = net_config(p.nodes, p.b, p.leaf_set, p.neighbourhood, "joins", cx.seed)?;
        config.pastry.repair = false;
        let peers = config.peers();
        let n = peers.len();
        // The same nodes fail, and the same pairs are measured, in every phase.
        let mut rng = vipe_rt::NodeRng::seed_from_u64(cx.seed ^ 0xfa11);
        let mut order: Vec<usize> = (0..n).collect();
        let failing = ((p.fail * n as f64).round() as usize).min(n - 2);
        for i in 0..failing {
            let j = rng.below(i as u64, n as u64) as usize;
            order.swap(i, j);
        }
        let victims: Vec<usize> = order[..failing].to_vec();
        let mut alive: Vec<usize> = order[failing..].to_vec();
        alive.sort_unstable();
        let spacing = Duration::from_millis(5);
        let pass = Duration::from_nanos(spacing.as_nanos() * u64::from(p.routes));
        let t_fail = config.ready_at() + Duration::from_secs(1);
        let repair_start = t_fail + Duration::from_secs(1);
        let measure_start = if p.phase == "repaired" {
            repair_start + pass + Duration::from_secs(30)
        } else {
            repair_start
        };
        let mut routes = vec![Vec::new(); n];
        if p.phase == "repaired" {
            pair_routes(
                &peers,
                &alive,
                u64::from(p.routes),
                repair_start,
                spacing,
                cx.seed ^ 0x7265_7061,
                &mut routes,
            );
        }
        let repair_routes: usize = routes.iter().map(Vec::len).sum();
        pair_routes(
            &peers,
            &alive,
            u64::from(p.routes),
            measure_start,
            spacing,
            cx.seed ^ 0x7061_7374,
            &mut routes,
        );
        let end = measure_start + pass;
        let mut net = pastry::build(
            &config,
            |i| routes[i].clone(),
            |sim| cx.watch(sim, end + Duration::from_secs(10)),
        )?;
        drop(routes);
        net.sim.run_until(t_fail);
        if p.phase != "before" {
            for &v in &victims {
                let node = net.members[v].node;
                net.sim.crash(node).map_err(|e| e.to_string())?;
            }
        }
        let (mut rpcs, mut table_rpcs) = (0u64, 0u64);
        if p.phase == "repaired" {
            net.set_repair(true);
            let repaired = run_until_reported(&mut net, measure_start, repair_routes);
            drop(repaired);
            net.sim.run_until(measure_start);
            net.take_records();
            for m in &net.members {
                if let Some(pastry) = net.pastry(m) {
                    rpcs += pastry.stats.repair_rpcs;
                    table_rpcs += pastry.stats.table_repair_rpcs;
                }
            }
            // Measure the repaired tables as they are: no more repair.
            net.set_repair(false);
        }
        let taken = run_until_reported(&mut net, end + Duration::from_secs(120), p.routes as usize);
        let (records, sources) = records_with_sources(&net, taken);
        let live = net.live();
        let stats = route_stats(&records, &sources, &live);
        let per_failed = |x: u64| {
            if failing == 0 {
                0.0
            } else {
                x as f64 / failing as f64
            }
        };
        let mut out = RunOutput::new();
        out.metric("rpcs_per_failed_node", per_failed(rpcs))
            .metric("table_rpcs_per_failed_node", per_failed(table_rpcs))
            .metric(
                "timeouts_per_route",
                stats.timeouts as f64 / records.len().max(1) as f64,
            )
            .metric(
                "misdelivered",
                stats.misdelivered as f64 / records.len().max(1) as f64,
            )
            .metric(
                "lost",
                1.0 - records.len() as f64 / f64::from(p.routes.max(1)),
            )
            .samples("hops", stats.hops)
            .events(net.sim.stats().events);
        Ok(out)
    }
}

// --- pastry-locality -----------------------------------------------------------------

/// `pastry-locality`: how near the routing-table entries are after joins, for the three
/// ways of gathering state (the paper's §3.3, Fig. 7).
pub struct PastryLocality;

/// One point of pastry-locality.
#[derive(Debug, Deserialize)]
pub struct LocalityParams {
    /// Nodes.
    pub nodes: u32,
    /// `sl`, `wt` or `wtf`.
    pub join: String,
    /// Bits per digit.
    pub b: u32,
    /// |L|.
    pub leaf_set: u32,
    /// |M|.
    pub neighbourhood: u32,
}

/// Rows of the table the figure shows (the paper's levels 0–3).
const LEVELS: usize = 4;

const OPTIMAL: [&str; LEVELS] = [
    "optimal_row0",
    "optimal_row1",
    "optimal_row2",
    "optimal_row3",
];
const SUBOPTIMAL: [&str; LEVELS] = [
    "suboptimal_row0",
    "suboptimal_row1",
    "suboptimal_row2",
    "suboptimal_row3",
];
const EMPTY: [&str; LEVELS] = ["empty_row0", "empty_row1", "empty_row2", "empty_row3"];

impl Experiment for PastryLocality {
    type Params = LocalityParams;

    fn info(&self) -> Info {
        Info {
            name: "pastry-locality",
            measures: "routing-table entries per row that are the nearest possible (optimal), another node (sub-optimal) or empty, after joins that gather state three ways",
            reproduces: Some("Rowstron & Druschel, Middleware 2001, §3.3, Fig. 7 (SL, WT, WTF)"),
        }
    }

    fn params(&self) -> Vec<ParamSpec> {
        let mut params = common_params(nodes_param(5_000), 3, 8, 16);
        params.push(
            ParamSpec::text("join", "wtf", "sl | wt | wtf", check_join)
                .sweep_by_default("sl,wt,wtf")
                .help("row i from the i-th node of the join route only (sl), every node's whole state (wt), or wt and the second phase (wtf, Pastry's)"),
        );
        params
    }

    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![("nodes", "1000")],
            seeds: 2,
            what: "1,000 nodes instead of 5,000, 2 seeds instead of 3",
        }
    }

    fn default_seeds(&self) -> u32 {
        3
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        let mut m = Vec::new();
        for level in 0..LEVELS {
            m.push(MetricSpec {
                name: OPTIMAL[level],
                unit: "entries",
                help: "entries of the row that hold the nearest node with the slot's prefix (per node)",
            });
            m.push(MetricSpec {
                name: SUBOPTIMAL[level],
                unit: "entries",
                help: "entries of the row that hold another node (per node)",
            });
            m.push(MetricSpec {
                name: EMPTY[level],
                unit: "entries",
                help: "empty entries of the row (per node), whether or not a node with the prefix exists",
            });
        }
        m.push(MetricSpec {
            name: "missing",
            unit: "entries",
            help: "empty entries (all rows) although a node with the slot's prefix exists (per node)",
        });
        m
    }

    fn tables(&self) -> Vec<TableSpec> {
        vec![TableSpec {
            name: "quality",
            columns: &["row", "optimal", "suboptimal", "empty", "empty_with_a_node"],
        }]
    }

    fn figures(&self) -> Vec<FigureSpec> {
        vec![
            FigureSpec {
                file: "optimal",
                title: "Routing table entries that are optimal, per row",
                kind: FigureKind::Line {
                    x: "join",
                    ys: OPTIMAL.iter().map(|m| Y::Metric(m)).collect(),
                },
                y_label: "entries per node",
                y_log: false,
                references: vec![],
            },
            FigureSpec {
                file: "suboptimal",
                title: "Routing table entries that are sub-optimal, per row",
                kind: FigureKind::Line {
                    x: "join",
                    ys: SUBOPTIMAL.iter().map(|m| Y::Metric(m)).collect(),
                },
                y_label: "entries per node",
                y_log: false,
                references: vec![],
            },
        ]
    }

    fn check(&self, p: &LocalityParams) -> Result<(), String> {
        check_leaf_set(p.leaf_set)
    }

    fn memory_per_run(&self, p: &LocalityParams) -> Option<u64> {
        Some(u64::from(p.nodes) * 20_000 + (64 << 20))
    }

    fn run(&self, p: &LocalityParams, cx: &RunContext) -> Result<RunOutput, String> {
        let mut config = net_config(p.nodes, p.b, p.leaf_set, p.neighbourhood, "joins", cx.seed)?;
        config.pastry.join = join_strategy(&p.join)?;
        let peers = config.peers();
        let n = peers.len();
        let end = config.ready_at();
        let net = pastry::build(&config, |_| Vec::new(), |sim| cx.watch(sim, end))?;
        let b = p.b;
        let mut sorted: Vec<usize> = (0..n).collect();
        sorted.sort_unstable_by_key(|&i| peers[i].id);
        let ids: Vec<u128> = sorted.iter().map(|&i| peers[i].id.get()).collect();
        // (optimal, suboptimal, empty, empty with a node) per row, summed over nodes.
        let mut counts = [[0u64; 4]; LEVELS];
        let mut missing = 0u64;
        for m in &net.members {
            let Some(pastry) = net.pastry(m) else {
                continue;
            };
            let me = m.peer;
            let table = pastry.routing_table();
            for (row, level) in counts.iter_mut().enumerate() {
                let row = row as u32;
                if (row + 1) * b > 128 {
                    break;
                }
                for col in 0..(1usize << b) {
                    if col == me.id.digit(row, b) {
                        continue;
                    }
                    let (lo, hi) = me.id.slot_range(row, col, b);
                    let start = ids.partition_point(|&x| x < lo.get());
                    let stop = ids.partition_point(|&x| x <= hi.get());
                    let best = sorted[start..stop]
                        .iter()
                        .map(|&i| me.distance_to(peers[i].pos))
                        .fold(f32::INFINITY, f32::min);
                    match table.get(row, col) {
                        None if start == stop => level[2] += 1,
                        None => {
                            level[2] += 1;
                            level[3] += 1;
                        }
                        Some(entry) if me.distance_to(entry.pos) <= best => level[0] += 1,
                        Some(_) => level[1] += 1,
                    }
                }
            }
            // Rows past the figure's: only the empty slots some node could fill.
            for row in LEVELS as u32..table.rows() as u32 {
                if (row + 1) * b > 128 {
                    break;
                }
                for col in 0..(1usize << b) {
                    if col == me.id.digit(row, b) || table.get(row, col).is_some() {
                        continue;
                    }
                    let (lo, hi) = me.id.slot_range(row, col, b);
                    if ids.partition_point(|&x| x <= hi.get())
                        > ids.partition_point(|&x| x < lo.get())
                    {
                        missing += 1;
                    }
                }
            }
        }
        let nodes = n as f64;
        let mut out = RunOutput::new();
        for (level, c) in counts.iter().enumerate() {
            out.metric(OPTIMAL[level], c[0] as f64 / nodes)
                .metric(SUBOPTIMAL[level], c[1] as f64 / nodes)
                .metric(EMPTY[level], c[2] as f64 / nodes)
                .row(
                    "quality",
                    &[
                        level.to_string(),
                        format!("{}", c[0] as f64 / nodes),
                        format!("{}", c[1] as f64 / nodes),
                        format!("{}", c[2] as f64 / nodes),
                        format!("{}", c[3] as f64 / nodes),
                    ],
                );
            missing += c[3];
        }
        out.metric("missing", missing as f64 / nodes)
            .events(net.sim.stats().events);
        Ok(out)
    }
}
