//! Topology builders for link-level experiments: each links existing nodes with
//! point-to-point links of one [`LinkConfig`] and returns the links it made, in order.
//!
//! ```
//! use vipe_platforms::sim::{LinkConfig, Simulator, topology};
//!
//! let mut sim = Simulator::new(1);
//! let nodes: Vec<_> = (0..9).map(|_| sim.add_node()).collect();
//! let links = topology::grid(&mut sim, &nodes, 3, 3, LinkConfig::default()).unwrap();
//! assert_eq!(links.len(), 12);
//! ```

use std::path::Path;

use vipe_rt::{NodeId, NodeRng};

use super::delay::{PLANE_SIDE, coordinates};
use super::link::LinkConfig;
use super::{LinkInfo, SimError, Simulator};

/// `n0 - n1 - ... - nk`.
pub fn line(
    sim: &mut Simulator,
    nodes: &[NodeId],
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    nodes
        .windows(2)
        .map(|w| sim.link(w[0], w[1], config))
        .collect()
}

/// A line closed into a cycle (three nodes or more; fewer give a line).
pub fn ring(
    sim: &mut Simulator,
    nodes: &[NodeId],
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    let mut links = line(sim, nodes, config)?;
    if nodes.len() >= 3 {
        links.push(sim.link(nodes[nodes.len() - 1], nodes[0], config)?);
    }
    Ok(links)
}

/// `center` linked to every leaf.
pub fn star(
    sim: &mut Simulator,
    center: NodeId,
    leaves: &[NodeId],
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    leaves
        .iter()
        .map(|&leaf| sim.link(center, leaf, config))
        .collect()
}

/// Every pair linked (n(n-1)/2 links).
pub fn full_mesh(
    sim: &mut Simulator,
    nodes: &[NodeId],
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    let mut links = Vec::new();
    for (i, &a) in nodes.iter().enumerate() {
        for &b in &nodes[i + 1..] {
            links.push(sim.link(a, b, config)?);
        }
    }
    Ok(links)
}

/// A `rows` × `cols` grid, nodes in row-major order, each linked to its right and lower
/// neighbours.
pub fn grid(
    sim: &mut Simulator,
    nodes: &[NodeId],
    rows: usize,
    cols: usize,
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    if nodes.len() != rows * cols {
        return Err(SimError::BadLink(format!(
            "a {rows}x{cols} grid needs {} nodes, got {}",
            rows * cols,
            nodes.len()
        )));
    }
    let mut links = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let here = nodes[r * cols + c];
            if c + 1 < cols {
                links.push(sim.link(here, nodes[r * cols + c + 1], config)?);
            }
            if r + 1 < rows {
                links.push(sim.link(here, nodes[(r + 1) * cols + c], config)?);
            }
        }
    }
    Ok(links)
}

fn probability(p: f64, what: &str) -> Result<(), SimError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(SimError::BadLink(format!(
            "{what} must be a probability in [0, 1], got {p}"
        )))
    }
}

/// Erdős–Rényi G(n, p): each pair linked with probability `p`, drawn from `seed`.
pub fn erdos_renyi(
    sim: &mut Simulator,
    nodes: &[NodeId],
    p: f64,
    seed: u64,
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    probability(p, "the Erdős–Rényi link probability")?;
    let mut rng = NodeRng::seed_from_u64(seed);
    let mut links = Vec::new();
    for (i, &a) in nodes.iter().enumerate() {
        for &b in &nodes[i + 1..] {
            if rng.chance(p) {
                links.push(sim.link(a, b, config)?);
            }
        }
    }
    Ok(links)
}

/// Waxman: nodes at the points the Euclidean delay model gives them (uniform in the
/// `[0,1000]²` plane, from the simulation's seed); a pair at distance `d` is linked with
/// probability `alpha · exp(-d / (beta · L))`, `L` the plane's diagonal; drawn from `seed`.
pub fn waxman(
    sim: &mut Simulator,
    nodes: &[NodeId],
    alpha: f64,
    beta: f64,
    seed: u64,
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    probability(alpha, "Waxman's alpha")?;
    if beta <= 0.0 || !beta.is_finite() {
        return Err(SimError::BadLink(format!(
            "Waxman's beta must be positive, got {beta}"
        )));
    }
    let diagonal = PLANE_SIDE * std::f64::consts::SQRT_2;
    let plane_seed = sim.seed();
    let mut rng = NodeRng::seed_from_u64(seed);
    let mut links = Vec::new();
    for (i, &a) in nodes.iter().enumerate() {
        let (ax, ay) = coordinates(plane_seed, a.0);
        for &b in &nodes[i + 1..] {
            let (bx, by) = coordinates(plane_seed, b.0);
            let d = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
            if rng.chance(alpha * (-d / (beta * diagonal)).exp()) {
                links.push(sim.link(a, b, config)?);
            }
        }
    }
    Ok(links)
}

/// Links read from an edge-list file: one `a b` pair of node ids per line (spaces, tabs
/// or a comma between; `#` starts a comment). An optional third column is the latency
/// in milliseconds for that link (the rest of `config` applies).
pub fn edge_list(
    sim: &mut Simulator,
    path: impl AsRef<Path>,
    config: LinkConfig,
) -> Result<Vec<LinkInfo>, SimError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::BadLink(format!("cannot read edge list {}: {e}", path.display())))?;
    let mut links = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = || format!("{} line {}", path.display(), lineno + 1);
        let fields: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        if !(2..=3).contains(&fields.len()) {
            return Err(SimError::BadLink(format!(
                "{}: expected `a b` or `a b latency_ms`, got `{line}`",
                at()
            )));
        }
        let id = |f: &str| -> Result<NodeId, SimError> {
            let n: u32 = f
                .parse()
                .map_err(|_| SimError::BadLink(format!("{}: `{f}` is not a node id", at())))?;
            if n as usize >= sim.node_count() {
                return Err(SimError::BadLink(format!(
                    "{}: node {n} does not exist; add at least {} nodes first",
                    at(),
                    n + 1
                )));
            }
            Ok(NodeId(n))
        };
        let (a, b) = (id(fields[0])?, id(fields[1])?);
        let mut link_config = config;
        if let Some(ms) = fields.get(2) {
            let ms: f64 = ms.parse().ok().filter(|v: &f64| *v >= 0.0).ok_or_else(|| {
                SimError::BadLink(format!("{}: `{ms}` is not a latency in ms", at()))
            })?;
            link_config = link_config.latency(vipe_rt::Duration::from_nanos((ms * 1e6) as u64));
        }
        links.push(sim.link(a, b, link_config)?);
    }
    Ok(links)
}
