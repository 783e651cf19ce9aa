//! Chord rings in the built-in simulator: build one by protocol joins or from the
//! converged state, run a lookup workload, fail nodes, and read back what happened. The
//! Chord experiments of `vipe-lab` and the Chord tests are built on this.

use std::net::SocketAddr;

use vipe_platforms::sim::{DelayModel, PathConfig, Simulator};
use vipe_protocols::chord::{Chord, ChordConfig, ChordPort, Id, LookupRecord, Peer, Workload};
use vipe_rt::{Duration, Handle, Instant, NodeId};

/// The UDP port every Chord node listens on.
pub const PORT: u16 = 4000;

/// How the ring comes to be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Build {
    /// Node 0 starts the ring; node i joins through a random earlier node, the gap
    /// before it being 1/(growth · i) (between 1 ms and 2 s): the ring grows by the
    /// fraction `growth` per second, so concurrent joins rarely land in the same gap of
    /// a ring that has not stabilised yet (which Chord repairs only one node per
    /// stabilisation round). Then the ring stabilises for `settle`.
    Joins {
        /// Joins per second per node already in the ring, e.g. 0.05.
        growth: f64,
        /// Time after the last join before the workload starts.
        settle: Duration,
    },
    /// Every node starts with the state stabilisation converges to (successor list,
    /// predecessor, every distinct finger).
    Converged,
}

/// A ring to build.
#[derive(Clone, Debug)]
pub struct RingConfig {
    /// Nodes (real ones: each holds `virtual_nodes` Chord instances).
    pub nodes: u32,
    /// Chord identifiers per node (virtual nodes); 1 in most experiments.
    pub virtual_nodes: u32,
    /// How the ring is built.
    pub build: Build,
    /// The protocol's settings (address and id are set per node).
    pub chord: ChordConfig,
    /// The underlay's delay model.
    pub latency: DelayModel,
    /// The seed.
    pub seed: u64,
}

impl RingConfig {
    /// `nodes` nodes with the protocol's defaults, 50 ms constant delays, converged.
    pub fn new(nodes: u32, seed: u64) -> RingConfig {
        RingConfig {
            nodes,
            virtual_nodes: 1,
            build: Build::Converged,
            chord: ChordConfig::new(SocketAddr::from(([0, 0, 0, 0], PORT))),
            latency: DelayModel::Constant(Duration::from_millis(50)),
            seed,
        }
    }
}

/// A Chord instance in the ring.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// The simulated node holding it.
    pub node: NodeId,
    /// The instance.
    pub handle: Handle<Chord>,
    /// Its identifier and address.
    pub peer: Peer,
}

/// A built ring, ready to run.
pub struct Ring {
    /// The simulator.
    pub sim: Simulator,
    /// Every instance, in the order they were made (node-major).
    pub members: Vec<Member>,
    /// When the build (joins and settling) ends: start workloads here.
    pub ready_at: Instant,
}

fn member_addr(node: NodeId, v: u32) -> SocketAddr {
    vipe_platforms::sim::node_addr(node, PORT + v as u16)
}

/// Builds the ring, every instance with the same workload. With [`Build::Joins`] the
/// simulation has run until `ready_at`.
pub fn build(config: &RingConfig, workload: Option<Workload>) -> Result<Ring, String> {
    build_with(config, |_| workload, |_| {})
}

/// Builds the ring: instance `i` (node-major) gets `workload(i)`; `prepare` sees the
/// simulator before anything runs (to install a progress hook).
pub fn build_with(
    config: &RingConfig,
    workload: impl Fn(usize) -> Option<Workload>,
    prepare: impl FnOnce(&mut Simulator),
) -> Result<Ring, String> {
    if config.nodes == 0 || config.virtual_nodes == 0 {
        return Err("a ring needs at least one node and one identifier per node".into());
    }
    let mut sim = Simulator::new(config.seed);
    sim.set_node_buffers(512, 1024);
    sim.set_underlay(PathConfig::new(config.latency.clone()))
        .map_err(|e| e.to_string())?;
    prepare(&mut sim);
    let v = config.virtual_nodes;
    let ids: Vec<NodeId> = (0..config.nodes).map(|_| sim.add_node()).collect();
    let mut peers: Vec<Peer> = Vec::with_capacity(ids.len() * v as usize);
    for &node in &ids {
        for k in 0..v {
            let addr = member_addr(node, k);
            peers.push(Peer {
                id: Id::of_node(addr, k),
                addr,
            });
        }
    }
    let mut ring: Vec<Peer> = peers.clone();
    ring.sort_unstable_by_key(|p| p.id);
    let mut members = Vec::with_capacity(peers.len());
    let mut ready_at = Instant::ZERO;
    match config.build {
        Build::Converged => {
            for (i, peer) in peers.iter().enumerate() {
                let node = ids[i / v as usize];
                let mut chord_config = config.chord.clone();
                chord_config.addr = peer.addr;
                chord_config.id = Some(peer.id);
                chord_config.bootstrap = None;
                let mut chord = Chord::converged(chord_config, &ring);
                if let Some(w) = workload(i) {
                    chord = chord.with_workload(w);
                }
                members.push(add_member(&mut sim, node, peer, chord)?);
            }
        }
        Build::Joins { growth, settle } => {
            // One instance per step; the first starts the ring, the others join through
            // a random earlier one (drawn from the seed).
            let mut pick = vipe_rt::NodeRng::seed_from_u64(config.seed ^ 0x6a6f_696e);
            let schedule = join_schedule(peers.len(), growth);
            let ready = *schedule.last().unwrap_or(&Instant::ZERO) + settle;
            for (i, peer) in peers.iter().enumerate() {
                let at = schedule[i];
                sim.run_until(at);
                let node = ids[i / v as usize];
                let mut chord_config = config.chord.clone();
                chord_config.addr = peer.addr;
                chord_config.id = Some(peer.id);
                chord_config.bootstrap =
                    (i > 0).then(|| peers[pick.below(0, i as u64) as usize].addr);
                let mut chord = Chord::new(chord_config);
                if let Some(w) = workload(i) {
                    let mut w = w;
                    // The workload starts when the ring is ready, not when this joins.
                    w.start = (ready + w.start) - at;
                    chord = chord.with_workload(w);
                }
                members.push(add_member(&mut sim, node, peer, chord)?);
            }
            ready_at = ready;
            sim.run_until(ready_at);
        }
    }
    Ok(Ring {
        sim,
        members,
        ready_at,
    })
}

/// When each of `n` instances joins under [`Build::Joins`]: the gap before join i is
/// 1/(growth · i), kept between 1 ms and 2 s.
pub fn join_schedule(n: usize, growth: f64) -> Vec<Instant> {
    let mut at = Instant::ZERO;
    (0..n)
        .map(|i| {
            if i > 0 {
                let gap = (1.0 / (growth.max(1e-9) * i as f64)).clamp(0.001, 2.0);
                at += Duration::from_secs_f64(gap);
            }
            at
        })
        .collect()
}

fn add_member(
    sim: &mut Simulator,
    node: NodeId,
    peer: &Peer,
    chord: Chord,
) -> Result<Member, String> {
    let end = sim
        .add_datagram_device(node, peer.addr.port())
        .map_err(|e| e.to_string())?;
    let n = sim.node_mut(node).ok_or("node just added")?;
    let handle = n.add(chord);
    n.attach(end.device, handle.port(ChordPort::Net))
        .map_err(|e| e.to_string())?;
    Ok(Member {
        node,
        handle,
        peer: *peer,
    })
}

impl Ring {
    /// The Chord instance of a member, if its node is up.
    pub fn chord(&self, member: &Member) -> Option<&Chord> {
        if self.sim.node_state(member.node) != Some(vipe_platforms::sim::NodeState::Up) {
            return None;
        }
        self.sim.node(member.node)?.protocol(member.handle)
    }

    /// The live members' peers, sorted by identifier: the ring as it truly is.
    pub fn live_ring(&self) -> Vec<Peer> {
        let mut ring: Vec<Peer> = self
            .members
            .iter()
            .filter(|m| self.chord(m).is_some())
            .map(|m| m.peer)
            .collect();
        ring.sort_unstable_by_key(|p| p.id);
        ring
    }

    /// Every finished workload lookup of the live members.
    pub fn records(&self) -> Vec<LookupRecord> {
        self.members
            .iter()
            .filter_map(|m| self.chord(m))
            .flat_map(|c| c.records.iter().copied())
            .collect()
    }

    /// Members whose successor or predecessor is not the true one (0: a stable ring).
    pub fn wrong_neighbours(&self) -> usize {
        let ring = self.live_ring();
        let n = ring.len();
        self.members
            .iter()
            .filter_map(|m| self.chord(m))
            .filter(|c| {
                let me = c.me();
                let at = ring.binary_search_by(|p| p.id.cmp(&me.id)).unwrap_or(0);
                let succ = ring[(at + 1) % n];
                let pred = ring[(at + n - 1) % n];
                n > 1
                    && (c.table().successor().id != succ.id
                        || c.table().predecessor().map(|p| p.id) != Some(pred.id))
            })
            .count()
    }

    /// Crashes each node with probability `fraction` (drawn from `seed`), never all;
    /// returns how many.
    pub fn crash_fraction(&mut self, fraction: f64, seed: u64) -> Result<usize, String> {
        let mut rng = vipe_rt::NodeRng::seed_from_u64(seed ^ 0xfa11);
        let mut nodes: Vec<NodeId> = self.members.iter().map(|m| m.node).collect();
        nodes.dedup();
        let target = (fraction * nodes.len() as f64).round() as usize;
        // A uniformly random subset of exactly `target` nodes.
        for i in 0..target.min(nodes.len().saturating_sub(1)) {
            let j = rng.below(i as u64, nodes.len() as u64) as usize;
            nodes.swap(i, j);
        }
        let chosen = target.min(nodes.len().saturating_sub(1));
        for &node in &nodes[..chosen] {
            self.sim.crash(node).map_err(|e| e.to_string())?;
        }
        Ok(chosen)
    }

    /// A new node joins now, through a random live member (drawn from `pick`), with
    /// `config`'s protocol settings and `workload`.
    pub fn join(
        &mut self,
        config: &RingConfig,
        pick: &mut vipe_rt::NodeRng,
        workload: Option<Workload>,
    ) -> Result<Member, String> {
        let live: Vec<Peer> = self
            .members
            .iter()
            .filter(|m| self.chord(m).is_some())
            .map(|m| m.peer)
            .collect();
        let node = self.sim.add_node();
        let addr = member_addr(node, 0);
        let peer = Peer {
            id: Id::of_node(addr, 0),
            addr,
        };
        let mut chord_config = config.chord.clone();
        chord_config.addr = addr;
        chord_config.id = Some(peer.id);
        chord_config.bootstrap =
            (!live.is_empty()).then(|| live[pick.below(0, live.len() as u64) as usize].addr);
        let mut chord = Chord::new(chord_config);
        if let Some(w) = workload {
            chord = chord.with_workload(w);
        }
        let member = add_member(&mut self.sim, node, &peer, chord)?;
        self.members.push(member);
        Ok(member)
    }

    /// Crashes a random live member (drawn from `pick`); returns it.
    pub fn crash_random(&mut self, pick: &mut vipe_rt::NodeRng) -> Result<Option<Member>, String> {
        let live: Vec<Member> = self
            .members
            .iter()
            .filter(|m| self.chord(m).is_some())
            .copied()
            .collect();
        if live.len() <= 1 {
            return Ok(None);
        }
        let victim = live[pick.below(0, live.len() as u64) as usize];
        self.sim.crash(victim.node).map_err(|e| e.to_string())?;
        Ok(Some(victim))
    }

    /// Stops stabilisation on every live member (the ToN paper's Table II set-up).
    pub fn freeze(&mut self) {
        for m in &self.members {
            if let Some(node) = self.sim.node_mut(m.node)
                && let Some(c) = node.protocol_mut(m.handle)
            {
                c.freeze();
            }
        }
    }

    /// How many live members' fingers differ from the fingers of the true ring (0: the
    /// tables have converged).
    pub fn stale_tables(&self) -> usize {
        let ring = self.live_ring();
        self.members
            .iter()
            .filter_map(|m| self.chord(m))
            .filter(|c| {
                let mut ideal_config = ChordConfig::new(c.me().addr);
                ideal_config.id = Some(c.me().id);
                ideal_config.successors = c.table().successors().len().max(1);
                let ideal = Chord::converged(ideal_config, &ring);
                ideal.table().fingers() != c.table().fingers()
            })
            .count()
    }

    /// Whether a record's owner is the true successor of its target on `ring`.
    pub fn correct(record: &LookupRecord, ring: &[Peer]) -> bool {
        record
            .owner
            .is_some_and(|o| o.id == vipe_protocols::chord::successor_in(ring, record.target).id)
    }
}
