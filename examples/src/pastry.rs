//! Pastry networks in the built-in simulator, as the paper's emulation set them up:
//! nodes placed uniformly in a [0, 1000]² plane whose Euclidean distance is both the
//! delay and the proximity metric; nodes join one by one, each through the nearest node
//! already in (or start converged: every table holding the nearest node of each slot).
//! The Pastry experiments of `vipe-lab` and the Pastry tests are built on this.

use std::net::SocketAddr;

use vipe_platforms::sim::{DelayModel, NodeState, PathConfig, Simulator, coordinates};
use vipe_protocols::pastry::{Id, Pastry, PastryConfig, PastryPort, Peer, RouteRecord, Workload};
use vipe_rt::{Duration, Handle, Instant, NodeId};

/// The UDP port every Pastry node listens on.
pub const PORT: u16 = 5000;

/// How the network comes to be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Build {
    /// Node 0 starts; node i joins at i · `gap` through the node nearest to it among
    /// those already in (the paper: "a nearby node A"). Joins are one at a time when
    /// `gap` exceeds a join's duration (a route plus two round trips).
    Joins {
        /// Time between joins.
        gap: Duration,
    },
    /// Every node starts with the state a perfect join would give it: the true leaf
    /// set, the nearest node (by the proximity metric) of each routing-table slot, and
    /// the |M| nearest nodes. For sizes beyond those the paper built by joins.
    Converged,
}

/// A network to build.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Nodes.
    pub nodes: u32,
    /// How it is built.
    pub build: Build,
    /// The protocol's settings (address, id, position and bootstrap are set per node).
    pub pastry: PastryConfig,
    /// The delay of a datagram across one side of the plane (distance 1000).
    pub per_side: Duration,
    /// The seed: node positions and identifiers come from it.
    pub seed: u64,
}

impl NetConfig {
    /// `nodes` nodes with the paper's parameters, built by joins 2 s apart, 100 ms
    /// across the plane.
    pub fn new(nodes: u32, seed: u64) -> NetConfig {
        NetConfig {
            nodes,
            build: Build::Joins {
                gap: Duration::from_secs(2),
            },
            pastry: PastryConfig::new(SocketAddr::from(([0, 0, 0, 0], PORT))),
            per_side: Duration::from_millis(100),
            seed,
        }
    }

    /// When the build is over and workloads may start.
    pub fn ready_at(&self) -> Instant {
        let build = match self.build {
            Build::Joins { gap } => Duration::from_nanos(gap.as_nanos() * u64::from(self.nodes)),
            Build::Converged => Duration::ZERO,
        };
        Instant::ZERO + build + Duration::from_secs(1)
    }

    /// Every node's identifier, address and position, in the order they are added.
    pub fn peers(&self) -> Vec<Peer> {
        (0..self.nodes)
            .map(|i| {
                let node = NodeId(i);
                let (x, y) = coordinates(self.seed, i);
                let mut seed_bytes = [0u8; 12];
                seed_bytes[..8].copy_from_slice(&self.seed.to_be_bytes());
                seed_bytes[8..].copy_from_slice(&i.to_be_bytes());
                Peer {
                    id: Id::hash(&seed_bytes),
                    addr: vipe_platforms::sim::node_addr(node, PORT),
                    pos: [x as f32, y as f32],
                }
            })
            .collect()
    }
}

/// A Pastry node in the network.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// The simulated node holding it.
    pub node: NodeId,
    /// The instance.
    pub handle: Handle<Pastry>,
    /// Its identifier, address and position.
    pub peer: Peer,
}

/// A built network.
pub struct Network {
    /// The simulator.
    pub sim: Simulator,
    /// Every member, in the order they were added.
    pub members: Vec<Member>,
    /// When the build ended.
    pub ready_at: Instant,
}

/// Builds the network; member `i` makes the routes `routes(i)` (absolute times, each at
/// or after [`NetConfig::ready_at`]); `prepare` sees the simulator first. With
/// [`Build::Joins`] the simulation has run until `ready_at`.
pub fn build(
    config: &NetConfig,
    routes: impl Fn(usize) -> Vec<(Instant, Id)>,
    prepare: impl FnOnce(&mut Simulator),
) -> Result<Network, String> {
    config.pastry.validate()?;
    if config.nodes == 0 {
        return Err("a Pastry network needs at least one node".into());
    }
    let mut sim = Simulator::new(config.seed);
    sim.set_node_buffers(2048, 1024);
    sim.set_underlay(PathConfig::new(DelayModel::Euclidean {
        per_side: config.per_side,
    }))
    .map_err(|e| e.to_string())?;
    prepare(&mut sim);
    let peers = config.peers();
    let ids: Vec<NodeId> = (0..config.nodes).map(|_| sim.add_node()).collect();
    let ready_at = config.ready_at();
    let mut members = Vec::with_capacity(peers.len());
    let workload = |i: usize, start: Instant| {
        let r = routes(i);
        (!r.is_empty()).then(|| Workload {
            routes: r
                .into_iter()
                .map(|(at, key)| (at.saturating_duration_since(start), key))
                .collect(),
        })
    };
    let node_config = |peer: &Peer, bootstrap: Option<SocketAddr>| {
        let mut c = config.pastry.clone();
        c.addr = peer.addr;
        c.id = Some(peer.id);
        c.pos = peer.pos;
        c.bootstrap = bootstrap;
        c
    };
    match config.build {
        Build::Converged => {
            let states = converged_states(&peers, &config.pastry);
            for (i, (peer, state)) in peers.iter().zip(states).enumerate() {
                let mut pastry = Pastry::new(node_config(peer, None));
                let (leaves, table, neighbours) = pastry.state_mut();
                for p in state.leaves {
                    leaves.insert(peers[p as usize]);
                }
                for p in state.table {
                    table.set(peers[p as usize]);
                }
                for p in state.neighbours {
                    neighbours.consider(peers[p as usize]);
                }
                if let Some(w) = workload(i, Instant::ZERO) {
                    pastry = pastry.with_workload(w);
                }
                members.push(add_member(&mut sim, ids[i], peer, pastry)?);
            }
        }
        Build::Joins { gap } => {
            let mut index = PlaneIndex::new(peers.len());
            for (i, peer) in peers.iter().enumerate() {
                let at = Instant::ZERO + Duration::from_nanos(gap.as_nanos() * i as u64);
                sim.run_until(at);
                let bootstrap = index.nearest(peer.pos, &peers).map(|j| peers[j].addr);
                let mut pastry = Pastry::new(node_config(peer, bootstrap));
                if let Some(w) = workload(i, at) {
                    pastry = pastry.with_workload(w);
                }
                members.push(add_member(&mut sim, ids[i], peer, pastry)?);
                index.insert(i, peer.pos);
            }
            sim.run_until(ready_at);
        }
    }
    Ok(Network {
        sim,
        members,
        ready_at,
    })
}

fn add_member(
    sim: &mut Simulator,
    node: NodeId,
    peer: &Peer,
    pastry: Pastry,
) -> Result<Member, String> {
    let end = sim
        .add_datagram_device(node, peer.addr.port())
        .map_err(|e| e.to_string())?;
    let n = sim.node_mut(node).ok_or("node just added")?;
    let handle = n.add(pastry);
    n.attach(end.device, handle.port(PastryPort::Net))
        .map_err(|e| e.to_string())?;
    Ok(Member {
        node,
        handle,
        peer: *peer,
    })
}

impl Network {
    /// A member's Pastry instance, if its node is up.
    pub fn pastry(&self, member: &Member) -> Option<&Pastry> {
        if self.sim.node_state(member.node) != Some(NodeState::Up) {
            return None;
        }
        self.sim.node(member.node)?.protocol(member.handle)
    }

    /// A member's Pastry instance to change, if its node is up.
    pub fn pastry_mut(&mut self, member: &Member) -> Option<&mut Pastry> {
        if self.sim.node_state(member.node) != Some(NodeState::Up) {
            return None;
        }
        self.sim.node_mut(member.node)?.protocol_mut(member.handle)
    }

    /// The live members' peers, sorted by identifier.
    pub fn live(&self) -> Vec<Peer> {
        let mut live: Vec<Peer> = self
            .members
            .iter()
            .filter(|m| self.pastry(m).is_some())
            .map(|m| m.peer)
            .collect();
        live.sort_unstable_by_key(|p| p.id);
        live
    }

    /// Takes every live member's route records (emptying them), with the index of the
    /// member that made each.
    pub fn take_records(&mut self) -> Vec<(usize, RouteRecord)> {
        let mut out = Vec::new();
        for i in 0..self.members.len() {
            let m = self.members[i];
            if let Some(p) = self.pastry_mut(&m) {
                out.extend(p.records.drain(..).map(|r| (i, r)));
            }
        }
        out
    }

    /// Sets lazy repair on every live member.
    pub fn set_repair(&mut self, repair: bool) {
        for i in 0..self.members.len() {
            let m = self.members[i];
            if let Some(p) = self.pastry_mut(&m) {
                p.set_repair(repair);
            }
        }
    }

    /// Crashes exactly `round(fraction · N)` members chosen uniformly at random from
    /// `seed` (never all of them); returns their indices.
    pub fn crash_fraction(&mut self, fraction: f64, seed: u64) -> Result<Vec<usize>, String> {
        let mut rng = vipe_rt::NodeRng::seed_from_u64(seed ^ 0xfa11);
        let n = self.members.len();
        let mut order: Vec<usize> = (0..n).collect();
        let target = ((fraction * n as f64).round() as usize).min(n.saturating_sub(1));
        for i in 0..target {
            let j = rng.below(i as u64, n as u64) as usize;
            order.swap(i, j);
        }
        let chosen = order[..target].to_vec();
        for &i in &chosen {
            self.sim
                .crash(self.members[i].node)
                .map_err(|e| e.to_string())?;
        }
        Ok(chosen)
    }
}

/// The live node numerically closest to `key` on `live` (sorted by identifier).
pub fn closest(live: &[Peer], key: Id) -> Peer {
    let at = live.partition_point(|p| p.id < key);
    let n = live.len();
    let (a, b) = (live[at % n], live[(at + n - 1) % n]);
    if key.closer(a.id, b.id) { a } else { b }
}

/// The state a node starts with under [`Build::Converged`]: indices into the peers.
#[derive(Clone, Debug, Default)]
pub struct ConvergedState {
    /// Leaf set members.
    pub leaves: Vec<u32>,
    /// Routing table entries.
    pub table: Vec<u32>,
    /// Neighbourhood set members.
    pub neighbours: Vec<u32>,
}

/// Groups larger than this get a spatial index; smaller ones are scanned.
const SCAN_LIMIT: usize = 96;

/// Every node's converged state: the |L|/2 nearest identifiers on each side, for each
/// routing-table slot the nearest node (by distance in the plane) whose identifier has
/// the slot's prefix, and the |M| nearest nodes.
pub fn converged_states(peers: &[Peer], config: &PastryConfig) -> Vec<ConvergedState> {
    let n = peers.len();
    let b = config.b;
    let mut by_id: Vec<u32> = (0..n as u32).collect();
    by_id.sort_unstable_by_key(|&i| peers[i as usize].id);
    let sorted_ids: Vec<u128> = by_id.iter().map(|&i| peers[i as usize].id.get()).collect();
    let half = config.leaf_set / 2;
    // Spatial indexes of the prefix groups too large to scan, built lazily per group.
    let mut group_index: std::collections::HashMap<(u32, u128), PlaneIndex> =
        std::collections::HashMap::new();
    let all = {
        let mut all = PlaneIndex::new(n);
        for (i, p) in peers.iter().enumerate() {
            all.insert(i, p.pos);
        }
        all
    };
    let mut out = Vec::with_capacity(n);
    for (rank, &i) in by_id.iter().enumerate() {
        let me = peers[i as usize];
        let mut state = ConvergedState::default();
        for k in 1..=half.min(n - 1) {
            state.leaves.push(by_id[(rank + k) % n]);
            state.leaves.push(by_id[(rank + n - k) % n]);
        }
        let digits = Id::digits(b);
        for row in 0..digits {
            let width = (row + 1) * b;
            if width > 128 {
                break;
            }
            let mut any = false;
            for col in 0..(1usize << b) {
                if col == me.id.digit(row, b) {
                    continue;
                }
                let (lo, hi) = me.id.slot_range(row, col, b);
                let (lo, hi) = (lo.get(), hi.get());
                let start = sorted_ids.partition_point(|&x| x < lo);
                let end = sorted_ids.partition_point(|&x| x <= hi);
                if start == end {
                    continue;
                }
                any = true;
                let best = if end - start <= SCAN_LIMIT {
                    (start..end)
                        .map(|r| by_id[r] as usize)
                        .min_by(|&a, &c| {
                            me.distance_to(peers[a].pos)
                                .total_cmp(&me.distance_to(peers[c].pos))
                        })
                        .unwrap_or(by_id[start] as usize)
                } else {
                    let index = group_index.entry((row, lo)).or_insert_with(|| {
                        let mut index = PlaneIndex::new(end - start);
                        for r in start..end {
                            index.insert(by_id[r] as usize, peers[by_id[r] as usize].pos);
                        }
                        index
                    });
                    index
                        .nearest(me.pos, peers)
                        .unwrap_or(by_id[start] as usize)
                };
                state.table.push(best as u32);
            }
            // Past the first row with no other node, every row below is empty too.
            if !any && end_of_prefix(&sorted_ids, me.id, row, b) {
                break;
            }
        }
        let m = config.neighbourhood;
        state.neighbours = all
            .nearest_k(me.pos, m + 1, peers)
            .into_iter()
            .filter(|&j| j != i as usize)
            .take(m)
            .map(|j| j as u32)
            .collect();
        out.push((i, state));
    }
    out.sort_unstable_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

/// Whether `me` is the only identifier sharing its first `row + 1` digits.
fn end_of_prefix(sorted_ids: &[u128], me: Id, row: u32, b: u32) -> bool {
    let (lo, hi) = me.slot_range(row, me.digit(row, b), b);
    let (lo, hi) = (lo.get(), hi.get());
    let start = sorted_ids.partition_point(|&x| x < lo);
    let end = sorted_ids.partition_point(|&x| x <= hi);
    end - start <= 1
}

/// A grid over the [0, 1000]² plane for nearest-node queries.
pub struct PlaneIndex {
    side: usize,
    cells: Vec<Vec<u32>>,
}

impl PlaneIndex {
    /// An empty index sized for about `n` points (about two per cell).
    pub fn new(n: usize) -> PlaneIndex {
        let side = ((n as f64 / 2.0).sqrt().ceil() as usize).clamp(1, 2048);
        PlaneIndex {
            side,
            cells: vec![Vec::new(); side * side],
        }
    }

    fn cell(&self, pos: [f32; 2]) -> (usize, usize) {
        let f = |v: f32| ((v / 1000.0 * self.side as f32) as usize).min(self.side - 1);
        (f(pos[0]), f(pos[1]))
    }

    /// Adds point `i` at `pos`.
    pub fn insert(&mut self, i: usize, pos: [f32; 2]) {
        let (x, y) = self.cell(pos);
        self.cells[y * self.side + x].push(i as u32);
    }

    /// The point nearest to `pos`.
    pub fn nearest(&self, pos: [f32; 2], peers: &[Peer]) -> Option<usize> {
        self.nearest_k(pos, 1, peers).first().copied()
    }

    /// The `k` points nearest to `pos`, nearest first.
    pub fn nearest_k(&self, pos: [f32; 2], k: usize, peers: &[Peer]) -> Vec<usize> {
        let (cx, cy) = self.cell(pos);
        let cell_size = 1000.0 / self.side as f32;
        let mut found: Vec<(f32, usize)> = Vec::new();
        let dist = |i: usize| {
            let p = peers[i].pos;
            ((p[0] - pos[0]).powi(2) + (p[1] - pos[1]).powi(2)).sqrt()
        };
        for ring in 0..self.side {
            let (lo_x, hi_x) = (cx.saturating_sub(ring), (cx + ring).min(self.side - 1));
            let (lo_y, hi_y) = (cy.saturating_sub(ring), (cy + ring).min(self.side - 1));
            for y in lo_y..=hi_y {
                for x in lo_x..=hi_x {
                    // Only the ring's border cells are new.
                    if x.abs_diff(cx) != ring && y.abs_diff(cy) != ring {
                        continue;
                    }
                    for &i in &self.cells[y * self.side + x] {
                        found.push((dist(i as usize), i as usize));
                    }
                }
            }
            if found.len() >= k {
                found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                found.truncate(k);
                // Points in later rings are at least `ring` cells away.
                if found[k - 1].0 <= ring as f32 * cell_size {
                    break;
                }
            }
        }
        found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found.truncate(k);
        found.into_iter().map(|(_, i)| i).collect()
    }
}
