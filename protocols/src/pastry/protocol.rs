//! The Pastry protocol (Rowstron & Druschel, Middleware 2001) over a datagram device:
//! prefix routing with the leaf-set and rare-case rules, the join protocol with its
//! optional second phase, hop-by-hop acknowledgements that route around dead nodes,
//! lazy repair of routing-table entries found dead, leaf-set repair, and (optionally
//! periodic) leaf-set keep-alives and neighbourhood probing.

use core::net::SocketAddr;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use rustc_hash::FxBuildHasher;
use vipe_rt::prelude::*;

use super::id::Id;
use super::state::{LeafSet, Neighbourhood, Peer, RoutingTable};
use super::wire::{
    self, Envelope, FOUND, JOIN, Kind, LAST, Message, WANT_LEAVES, WANT_NEIGHBOURS, WANT_TABLE,
};

/// What a joining node learns its state from (the paper's Fig. 7 compares them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinStrategy {
    /// "SL": row i of the routing table from the i-th node on the join route only
    /// (leaf set from the last node, neighbourhood set from the first).
    RowsOnly,
    /// "WT": every entry of every node on the route.
    WholeTables,
    /// "WTF": as `WholeTables`, then the second phase: ask every node of the routing
    /// table and neighbourhood set for its state and keep nearer nodes (Pastry's own).
    WithSecondPhase,
}

/// How a Pastry node behaves.
#[derive(Clone, Debug)]
pub struct PastryConfig {
    /// This node's address (its datagram device's).
    pub addr: SocketAddr,
    /// Its identifier; `None`: the hash of its address.
    pub id: Option<Id>,
    /// Its coordinates for the proximity metric (see [`Peer::pos`]).
    pub pos: [f32; 2],
    /// A nearby node to join through; `None`: start a new network.
    pub bootstrap: Option<SocketAddr>,
    /// Bits per digit, b (1..=8).
    pub b: u32,
    /// Leaf-set size |L| (even).
    pub leaf_set: usize,
    /// Neighbourhood-set size |M|.
    pub neighbourhood: usize,
    /// How a joining node builds its state.
    pub join: JoinStrategy,
    /// How long after its start a node with a bootstrap sends its join.
    pub join_after: Duration,
    /// A next hop or peer that does not answer within this is taken as failed.
    pub rpc_timeout: Duration,
    /// Repair the state when a node is found dead: drop it, ask others for a
    /// replacement routing-table entry (lazy repair) or leaf set. Off: dead nodes stay
    /// in the tables and each message routes around them on its own.
    pub repair: bool,
    /// Period of the leaf-set keep-alive (a ping to each leaf); zero: never.
    pub leaf_keepalive: Duration,
    /// Period of neighbourhood-set probing; zero: never.
    pub neighbour_probe: Duration,
    /// A message with more hops than this is dropped (a routing loop).
    pub max_hops: u8,
}

impl PastryConfig {
    /// The paper's defaults for a node at `addr`: b = 4, |L| = 16, |M| = 32, joins with
    /// the second phase, 500 ms timeouts, repair on, no periodic probing.
    pub fn new(addr: SocketAddr) -> PastryConfig {
        PastryConfig {
            addr,
            id: None,
            pos: [0.0, 0.0],
            bootstrap: None,
            b: 4,
            leaf_set: 16,
            neighbourhood: 32,
            join: JoinStrategy::WithSecondPhase,
            join_after: Duration::ZERO,
            rpc_timeout: Duration::from_millis(500),
            repair: true,
            leaf_keepalive: Duration::ZERO,
            neighbour_probe: Duration::ZERO,
            max_hops: 64,
        }
    }

    /// Checks the settings, saying what to change.
    pub fn validate(&self) -> Result<(), String> {
        use alloc::format;
        if !(1..=8).contains(&self.b) {
            return Err(format!(
                "b = {} is out of range; use 1..=8 bits per digit",
                self.b
            ));
        }
        if self.leaf_set < 2 || !self.leaf_set.is_multiple_of(2) || self.leaf_set > 128 {
            return Err(format!(
                "leaf set size {} must be even, between 2 and 128",
                self.leaf_set
            ));
        }
        if self.neighbourhood > 256 {
            return Err(format!(
                "neighbourhood set size {} is over 256",
                self.neighbourhood
            ));
        }
        Ok(())
    }
}

/// A route's outcome, recorded by the node it started from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteRecord {
    /// The key routed to.
    pub key: Id,
    /// The workload's index of the route.
    pub tag: u32,
    /// The node that delivered it.
    pub node: Peer,
    /// Hops: messages that carried it from this node to the one that delivered it (0:
    /// this node delivered it).
    pub hops: u8,
    /// Next hops that did not answer on the way (each routed around).
    pub timeouts: u8,
    /// The proximity distance it travelled (sum over its hops).
    pub distance: f32,
    /// When it started.
    pub started: Instant,
    /// How long until the delivery was reported back.
    pub latency: Duration,
}

/// Counters of a Pastry node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PastryStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages received and accepted.
    pub received: u64,
    /// Routed messages forwarded.
    pub forwarded: u64,
    /// Routed messages delivered here.
    pub delivered: u64,
    /// Next hops and peers that did not answer in time.
    pub timeouts: u64,
    /// Repair requests sent (routing-table entries, leaf sets, neighbourhood sets).
    pub repair_rpcs: u64,
    /// Of those, for routing-table entries.
    pub table_repair_rpcs: u64,
    /// Messages this node sent to join (join, state requests, announcements).
    pub join_messages: u64,
    /// Routed messages dropped over the hop limit.
    pub over_hop_limit: u64,
    /// Probes of peers that missed an answer (is it dead?).
    pub probes: u64,
}

/// Routes a node makes by itself, at given times after its start, recorded in
/// [`Pastry::records`]: the experiments' workload.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    /// (when, after the node's start; key), in time order.
    pub routes: Vec<(Duration, Id)>,
}

/// A message being routed, as one node handles it.
#[derive(Clone, Debug)]
struct Routed {
    key: Id,
    origin: Peer,
    flags: u8,
    hops: u8,
    timeouts: u8,
    distance: f32,
    tag: u32,
    /// Next hops that did not answer this message here.
    avoid: Vec<Id>,
    /// The next hop this message was sent to again after it did not answer once (a
    /// lost datagram is no reason to deliver elsewhere).
    retried: Option<Id>,
}

/// Why a request waits for its answer.
#[derive(Clone, Debug)]
enum Waiting {
    /// A forwarded message's acknowledgement.
    Forward(Box<Routed>),
    /// A second-phase state request of this node's join.
    JoinPhase2,
    /// A leaf set, to replace a failed leaf.
    LeafRepair,
    /// A neighbourhood set, to replace a failed neighbour.
    NeighbourRepair,
    /// A routing-table entry, to replace a failed one; the other nodes to ask.
    EntryRepair { row: u8, col: u8, rest: Vec<Peer> },
    /// A delivery report's acknowledgement (the message, the reports sent so far).
    Report(Box<Routed>, u8),
    /// A periodic keep-alive (a leaf set request to a leaf, a ping to a neighbour): a
    /// timeout leads to a probe.
    KeepAlive,
    /// Is this peer dead? A timeout says yes: the peer is taken as failed. Every other
    /// timeout leads to one of these first, so a lost datagram does not kill a node.
    Probe,
}

#[derive(Clone, Debug)]
struct Rpc {
    peer: Peer,
    waiting: Waiting,
}

/// A join in progress: the states the nodes on the route sent.
#[derive(Clone, Debug, Default)]
struct Joining {
    states: Vec<(u8, Message)>,
    last: Option<u8>,
    phase2_outstanding: usize,
}

/// Deterministic maps (no per-process random seed), for outstanding requests.
type HashMap<K, V> = hashbrown::HashMap<K, V, FxBuildHasher>;

/// Dead nodes remembered, so state exchanges do not bring them back.
const RECENT_DEAD: usize = 64;
/// Delivery reports sent for one message before the origin is given up.
const REPORT_TRIES: u8 = 3;
/// Reroutes of one message at one node before it is delivered there anyway.
const MAX_REROUTES: usize = 16;

/// A Pastry node.
#[protocol(name = "pastry")]
pub struct Pastry {
    config: PastryConfig,
    me: Peer,
    leaves: LeafSet,
    table: RoutingTable,
    neighbours: Neighbourhood,
    joined: bool,
    joining: Option<Box<Joining>>,
    next_request: u32,
    rpcs: HashMap<u32, Rpc>,
    recent_dead: Vec<Id>,
    workload: Option<Box<Workload>>,
    next_route: usize,
    started: Instant,
    scratch: Vec<Peer>,
    /// Counters.
    pub stats: PastryStats,
    /// Outcomes of this node's workload routes, in the order they were reported.
    pub records: Vec<RouteRecord>,
}

impl Pastry {
    /// A node that starts a network or joins one, as `config` says.
    pub fn new(config: PastryConfig) -> Pastry {
        let id = config.id.unwrap_or_else(|| Id::of_addr(config.addr));
        let me = Peer {
            id,
            addr: config.addr,
            pos: config.pos,
        };
        Pastry {
            leaves: LeafSet::new(id, config.leaf_set),
            table: RoutingTable::new(id, config.pos, config.b),
            neighbours: Neighbourhood::new(id, config.pos, config.neighbourhood),
            joined: config.bootstrap.is_none(),
            joining: None,
            me,
            config,
            next_request: 1,
            rpcs: HashMap::default(),
            recent_dead: Vec::new(),
            workload: None,
            next_route: 0,
            started: Instant::ZERO,
            scratch: Vec::new(),
            stats: PastryStats::default(),
            records: Vec::new(),
        }
    }

    /// Makes the routes of `workload`.
    pub fn with_workload(mut self, workload: Workload) -> Pastry {
        self.workload = Some(Box::new(workload));
        self
    }

    /// This node.
    pub fn me(&self) -> Peer {
        self.me
    }

    /// Whether it has joined (or started) a network.
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// The leaf set.
    pub fn leaf_set(&self) -> &LeafSet {
        &self.leaves
    }

    /// The routing table.
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// The neighbourhood set.
    pub fn neighbourhood(&self) -> &Neighbourhood {
        &self.neighbours
    }

    /// The leaf set, routing table and neighbourhood set to fill in directly: a
    /// converged start for experiments beyond the sizes joins are run at.
    pub fn state_mut(&mut self) -> (&mut LeafSet, &mut RoutingTable, &mut Neighbourhood) {
        (&mut self.leaves, &mut self.table, &mut self.neighbours)
    }

    /// Turns lazy repair on or off from now on (the failure experiment's phases).
    pub fn set_repair(&mut self, repair: bool) {
        self.config.repair = repair;
    }

    /// Requests waiting for an answer.
    pub fn outstanding(&self) -> usize {
        self.rpcs.len()
    }

    /// Memory this node holds on the heap, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.leaves.heap_bytes()
            + self.table.heap_bytes()
            + self.neighbours.heap_bytes()
            + self.records.capacity() * core::mem::size_of::<RouteRecord>()
            + self
                .workload
                .as_ref()
                .map_or(0, |w| w.routes.capacity() * 24 + 32)
            + self.scratch.capacity() * core::mem::size_of::<Peer>()
            + self.recent_dead.capacity() * 16
            + self.rpcs.capacity() * 64
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        id
    }

    fn send(&mut self, cx: &mut Cx<Self>, to: SocketAddr, envelope: &Envelope, entries: &[Peer]) {
        let mut pkt = cx.alloc();
        wire::encode(&mut pkt, &self.me, envelope, entries);
        pkt.meta_mut().dst = Some(to);
        self.stats.sent += 1;
        cx.send(PastryPort::Net, pkt);
    }

    /// A request to `peer` that waits for its answer.
    fn call(&mut self, cx: &mut Cx<Self>, peer: Peer, mut envelope: Envelope, waiting: Waiting) {
        let request = self.request_id();
        envelope.request = request;
        self.send(cx, peer.addr, &envelope, &[]);
        self.rpcs.insert(request, Rpc { peer, waiting });
        cx.start_timer(PastryTimer::RpcTimeout(request), self.config.rpc_timeout);
    }

    /// The whole state into `self.scratch`: leaves, neighbours, table; returns the
    /// counts of the first two.
    fn gather_state(&mut self, flags: u8) -> (usize, usize) {
        self.scratch.clear();
        if flags & WANT_LEAVES != 0 {
            self.scratch.extend(self.leaves.members().copied());
        }
        let leaves = self.scratch.len();
        if flags & WANT_NEIGHBOURS != 0 {
            self.scratch
                .extend(self.neighbours.members().iter().copied());
        }
        let neighbours = self.scratch.len() - leaves;
        if flags & WANT_TABLE != 0 {
            self.scratch.extend(self.table.entries().copied());
        }
        (leaves, neighbours)
    }

    fn send_state(&mut self, cx: &mut Cx<Self>, to: SocketAddr, mut envelope: Envelope, flags: u8) {
        let (leaves, neighbours) = self.gather_state(flags);
        envelope.leaves = leaves;
        envelope.neighbours = neighbours;
        let entries = core::mem::take(&mut self.scratch);
        self.send(cx, to, &envelope, &entries);
        self.scratch = entries;
    }

    fn is_dead(&self, id: Id) -> bool {
        self.recent_dead.contains(&id)
    }

    /// Learns of `peer`: it may belong in the leaf set, table or neighbourhood set.
    fn consider(&mut self, peer: Peer) {
        if peer.id == self.me.id || self.is_dead(peer.id) {
            return;
        }
        self.leaves.insert(peer);
        self.table.consider(peer);
        self.neighbours.consider(peer);
    }

    /// The next hop for `key`, or `None` to deliver here (the paper's Fig. 2).
    fn next_hop(&self, key: Id, avoid: &[Id], exclude: Id) -> Option<Peer> {
        let usable = |p: &Peer| p.id != exclude && !avoid.contains(&p.id) && !self.is_dead(p.id);
        if self.leaves.covers(key) {
            let mut best = self.me;
            for p in self.leaves.members() {
                if usable(p) && key.closer(p.id, best.id) {
                    best = *p;
                }
            }
            return (best.id != self.me.id).then_some(best);
        }
        let b = self.config.b;
        let row = key.shared_prefix(self.me.id, b);
        if row < Id::digits(b)
            && let Some(p) = self.table.get(row, key.digit(row, b))
            && usable(&p)
        {
            return Some(p);
        }
        // The rare case: any known node with at least as long a shared prefix that is
        // numerically closer to the key; the longest prefix, then the closest, wins.
        let mine = key.ring_distance(self.me.id);
        let mut best: Option<(u32, u128, Peer)> = None;
        let candidates = self
            .leaves
            .members()
            .chain(self.table.entries())
            .chain(self.neighbours.members());
        for p in candidates {
            if !usable(p) {
                continue;
            }
            let (l, d) = (key.shared_prefix(p.id, b), key.ring_distance(p.id));
            if l >= row && d < mine && best.is_none_or(|(bl, bd, _)| l > bl || (l == bl && d < bd))
            {
                best = Some((l, d, *p));
            }
        }
        best.map(|(_, _, p)| p)
    }

    /// Routes `msg` on from this node: forwards it, or delivers it here.
    fn route(&mut self, cx: &mut Cx<Self>, msg: Routed, first_visit: bool) {
        let exclude = if msg.flags & JOIN != 0 {
            msg.origin.id
        } else {
            Id::ZERO
        };
        let next = if msg.avoid.len() >= MAX_REROUTES {
            None
        } else {
            self.next_hop(msg.key, &msg.avoid, exclude)
        };
        let join = msg.flags & JOIN != 0;
        if join && (first_visit || next.is_none()) {
            // The i-th node on a join route sends the joining node its state.
            let envelope = Envelope {
                kind: Some(Kind::JoinState),
                flags: if next.is_none() { LAST } else { 0 },
                row: msg.hops,
                key: msg.key,
                ..Envelope::default()
            };
            self.send_state(
                cx,
                msg.origin.addr,
                envelope,
                WANT_LEAVES | WANT_NEIGHBOURS | WANT_TABLE,
            );
            if next.is_none() {
                return;
            }
        }
        let Some(next) = next else {
            self.deliver(cx, &msg);
            return;
        };
        if msg.hops >= self.config.max_hops {
            self.stats.over_hop_limit += 1;
            return cx.count("pastry: messages over the hop limit");
        }
        self.forward(cx, msg, next);
    }

    /// Sends `msg` to `next`, keeping it until `next` acknowledges it.
    fn forward(&mut self, cx: &mut Cx<Self>, msg: Routed, next: Peer) {
        let request = self.request_id();
        let envelope = Envelope {
            kind: Some(Kind::Route),
            flags: msg.flags,
            request,
            hops: msg.hops + 1,
            timeouts: msg.timeouts,
            distance: msg.distance + self.me.distance_to(next.pos),
            tag: msg.tag,
            key: msg.key,
            ..Envelope::default()
        };
        self.send(cx, next.addr, &envelope, &[msg.origin]);
        self.stats.forwarded += 1;
        self.rpcs.insert(
            request,
            Rpc {
                peer: next,
                waiting: Waiting::Forward(Box::new(msg)),
            },
        );
        cx.start_timer(PastryTimer::RpcTimeout(request), self.config.rpc_timeout);
    }

    fn deliver(&mut self, cx: &mut Cx<Self>, msg: &Routed) {
        self.stats.delivered += 1;
        self.report(cx, msg, 0);
    }

    /// Tells a route's origin that this node delivered it; acknowledged, and sent again
    /// (up to [`REPORT_TRIES`] times in all) while it is not.
    fn report(&mut self, cx: &mut Cx<Self>, msg: &Routed, tries: u8) {
        if msg.origin.id == self.me.id && msg.origin.addr == self.me.addr {
            self.record(
                cx,
                msg.key,
                msg.tag,
                self.me,
                msg.hops,
                msg.timeouts,
                msg.distance,
            );
            return;
        }
        let request = self.request_id();
        let envelope = Envelope {
            kind: Some(Kind::Delivered),
            request,
            hops: msg.hops,
            timeouts: msg.timeouts,
            distance: msg.distance,
            tag: msg.tag,
            key: msg.key,
            ..Envelope::default()
        };
        let me = self.me;
        self.send(cx, msg.origin.addr, &envelope, &[me]);
        self.rpcs.insert(
            request,
            Rpc {
                peer: msg.origin,
                waiting: Waiting::Report(Box::new(msg.clone()), tries + 1),
            },
        );
        cx.start_timer(PastryTimer::RpcTimeout(request), self.config.rpc_timeout);
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        cx: &mut Cx<Self>,
        key: Id,
        tag: u32,
        node: Peer,
        hops: u8,
        timeouts: u8,
        distance: f32,
    ) {
        let started = self
            .workload
            .as_ref()
            .and_then(|w| w.routes.get(tag as usize))
            .map_or(self.started, |(at, _)| self.started + *at);
        self.records.push(RouteRecord {
            key,
            tag,
            node,
            hops,
            timeouts,
            distance,
            started,
            latency: cx.now().saturating_duration_since(started),
        });
    }

    /// `peer` did not answer a request: with repair on, ask it once more whether it
    /// lives (unless a probe is out already); only that probe's timeout fails it.
    fn suspect(&mut self, cx: &mut Cx<Self>, peer: Peer) {
        if !self.config.repair
            || self.is_dead(peer.id)
            || self
                .rpcs
                .values()
                .any(|r| r.peer.id == peer.id && matches!(r.waiting, Waiting::Probe))
        {
            return;
        }
        self.stats.probes += 1;
        let envelope = Envelope {
            kind: Some(Kind::Ping),
            ..Envelope::default()
        };
        self.call(cx, peer, envelope, Waiting::Probe);
    }

    /// `peer` did not answer a probe: with repair on, drop it from the state and start
    /// the repairs its absence calls for.
    fn failed(&mut self, cx: &mut Cx<Self>, peer: Peer) {
        if !self.config.repair {
            return;
        }
        if !self.is_dead(peer.id) {
            if self.recent_dead.len() == RECENT_DEAD {
                self.recent_dead.remove(0);
            }
            self.recent_dead.push(peer.id);
        }
        if let Some((row, col)) = self.table.remove(peer.id) {
            self.repair_entry(cx, row, col);
        }
        if self.leaves.remove(peer.id)
            && let Some(ask) = self.leaves.farthest_on_side_of(peer.id)
        {
            self.stats.repair_rpcs += 1;
            let envelope = Envelope {
                kind: Some(Kind::GetState),
                flags: WANT_LEAVES,
                ..Envelope::default()
            };
            self.call(cx, ask, envelope, Waiting::LeafRepair);
        }
        if self.neighbours.remove(peer.id)
            && let Some(&ask) = self.neighbours.members().first()
        {
            self.stats.repair_rpcs += 1;
            let envelope = Envelope {
                kind: Some(Kind::GetState),
                flags: WANT_NEIGHBOURS,
                ..Envelope::default()
            };
            self.call(cx, ask, envelope, Waiting::NeighbourRepair);
        }
    }

    /// Lazy repair of slot (`row`, `col`): ask the other entries of the row for theirs,
    /// then those of the rows below (the paper's §2.4).
    fn repair_entry(&mut self, cx: &mut Cx<Self>, row: u32, col: usize) {
        let mut ask: Vec<Peer> = Vec::new();
        for r in row as usize..self.table.rows() {
            for (c, p) in self.table.row(r).iter().enumerate() {
                if let Some(p) = p
                    && (r != row as usize || c != col)
                {
                    ask.push(*p);
                }
            }
        }
        // Ask the first; the rest wait their turn.
        ask.reverse();
        self.ask_entry(cx, row as u8, col as u8, ask);
    }

    fn ask_entry(&mut self, cx: &mut Cx<Self>, row: u8, col: u8, mut rest: Vec<Peer>) {
        while let Some(peer) = rest.pop() {
            if self.is_dead(peer.id) {
                continue;
            }
            self.stats.repair_rpcs += 1;
            self.stats.table_repair_rpcs += 1;
            let envelope = Envelope {
                kind: Some(Kind::GetEntry),
                row,
                col,
                ..Envelope::default()
            };
            self.call(cx, peer, envelope, Waiting::EntryRepair { row, col, rest });
            return;
        }
    }

    /// The join ends: build the state from what the route's nodes sent.
    fn finish_join(&mut self, cx: &mut Cx<Self>) {
        let Some(joining) = self.joining.take() else {
            return;
        };
        let b = self.config.b;
        let mut states = joining.states;
        states.sort_by_key(|(i, _)| *i);
        for (index, msg) in &states {
            let (leaves, neighbours) = (
                &msg.entries[..msg.leaves],
                &msg.entries[msg.leaves..msg.leaves + msg.neighbours],
            );
            let table = &msg.entries[msg.leaves + msg.neighbours..];
            // Leaf set from the last node (everyone's leaves are offered: only the
            // numerically nearest stay); neighbourhood set from the first.
            for p in leaves {
                if !self.is_dead(p.id) && p.id != self.me.id {
                    self.leaves.insert(*p);
                }
            }
            if *index == 0 || self.config.join != JoinStrategy::RowsOnly {
                for p in neighbours {
                    if p.id != self.me.id {
                        self.neighbours.consider(*p);
                    }
                }
            }
            match self.config.join {
                JoinStrategy::RowsOnly => {
                    for p in table {
                        if p.id != self.me.id
                            && msg.sender.shared_prefix(p.id, b) == u32::from(*index)
                        {
                            self.table.consider(*p);
                        }
                    }
                }
                JoinStrategy::WholeTables | JoinStrategy::WithSecondPhase => {
                    for p in msg.entries.iter() {
                        if p.id != self.me.id {
                            self.table.consider(*p);
                        }
                    }
                }
            }
        }
        // The route's nodes themselves (each kept as its state's last entry).
        for (_, msg) in &states {
            if let Some(src) = msg.entries.last() {
                self.consider(*src);
            }
        }
        if self.config.join == JoinStrategy::WithSecondPhase {
            let mut ask: Vec<Peer> = self.table.entries().copied().collect();
            for p in self.neighbours.members() {
                if !ask.iter().any(|q| q.id == p.id) {
                    ask.push(*p);
                }
            }
            let mut outstanding = 0;
            for peer in ask {
                // JOIN: the asker is still joining (not to be taken into state yet).
                let envelope = Envelope {
                    kind: Some(Kind::GetState),
                    flags: JOIN | WANT_LEAVES | WANT_NEIGHBOURS | WANT_TABLE,
                    ..Envelope::default()
                };
                self.stats.join_messages += 1;
                self.call(cx, peer, envelope, Waiting::JoinPhase2);
                outstanding += 1;
            }
            if outstanding > 0 {
                self.joining = Some(Box::new(Joining {
                    phase2_outstanding: outstanding,
                    ..Joining::default()
                }));
                return;
            }
        }
        self.announce(cx);
    }

    /// The node has its state: it tells every node in it that it has arrived.
    fn announce(&mut self, cx: &mut Cx<Self>) {
        self.joining = None;
        self.joined = true;
        let mut to: Vec<Peer> = self.leaves.members().copied().collect();
        for p in self.table.entries().chain(self.neighbours.members()) {
            if !to.iter().any(|q| q.id == p.id) {
                to.push(*p);
            }
        }
        // The paper: X sends a copy of its state to each node in it, and "those nodes
        // in turn update their own state based on the information received".
        let (leaves, neighbours) = self.gather_state(WANT_LEAVES | WANT_NEIGHBOURS | WANT_TABLE);
        let state = core::mem::take(&mut self.scratch);
        let envelope = Envelope {
            kind: Some(Kind::Announce),
            leaves,
            neighbours,
            ..Envelope::default()
        };
        for peer in to {
            self.stats.join_messages += 1;
            self.send(cx, peer.addr, &envelope, &state);
        }
        self.scratch = state;
    }

    fn start_join(&mut self, cx: &mut Cx<Self>) {
        let Some(bootstrap) = self.config.bootstrap else {
            return;
        };
        self.joined = false;
        self.joining = Some(Box::default());
        let envelope = Envelope {
            kind: Some(Kind::Route),
            flags: JOIN,
            key: self.me.id,
            ..Envelope::default()
        };
        let me = self.me;
        self.stats.join_messages += 1;
        self.send(cx, bootstrap, &envelope, &[me]);
        // Give up and join again if the route's states have not all come by then.
        cx.start_timer(
            PastryTimer::JoinTimeout,
            Duration::from_nanos(self.config.rpc_timeout.as_nanos() * 20),
        );
    }

    fn arm_workload(&mut self, cx: &mut Cx<Self>) {
        let Some(w) = &self.workload else { return };
        if let Some(&(at, _)) = w.routes.get(self.next_route) {
            cx.start_timer_at(PastryTimer::Workload, self.started + at);
        }
    }

    fn answer(&mut self, cx: &mut Cx<Self>, from: Peer, msg: Message) {
        match msg.kind {
            Kind::Route => {
                let Some(&origin) = msg.entries.first() else {
                    return cx.count("pastry: route without an origin");
                };
                if !self.joined {
                    // Unacknowledged: the sender routes it around this node.
                    return cx.count("pastry: routed message refused while joining");
                }
                if msg.request != 0 {
                    let envelope = Envelope {
                        kind: Some(Kind::Ack),
                        request: msg.request,
                        ..Envelope::default()
                    };
                    self.send(cx, from.addr, &envelope, &[]);
                }
                let routed = Routed {
                    key: msg.key,
                    origin,
                    flags: msg.flags & JOIN,
                    hops: msg.hops,
                    timeouts: msg.timeouts,
                    distance: msg.distance,
                    tag: msg.tag,
                    avoid: Vec::new(),
                    retried: None,
                };
                self.route(cx, routed, true);
            }
            Kind::Ack => {
                self.take_answer(cx, msg.request, &from);
            }
            Kind::Delivered => {
                let Some(&node) = msg.entries.first() else {
                    return cx.count("pastry: delivery report without its node");
                };
                let envelope = Envelope {
                    kind: Some(Kind::Ack),
                    request: msg.request,
                    ..Envelope::default()
                };
                self.send(cx, from.addr, &envelope, &[]);
                // A report sent again because its acknowledgement was lost.
                let seen = self
                    .records
                    .iter()
                    .rev()
                    .take(256)
                    .any(|r| r.tag == msg.tag && r.key == msg.key && r.node.id == node.id);
                if seen {
                    return cx.count("pastry: delivery report repeated");
                }
                self.record(
                    cx,
                    msg.key,
                    msg.tag,
                    node,
                    msg.hops,
                    msg.timeouts,
                    msg.distance,
                );
            }
            Kind::JoinState => {
                let Some(joining) = self.joining.as_mut() else {
                    return cx.count("pastry: join state while not joining");
                };
                if joining.phase2_outstanding > 0 {
                    return cx.count("pastry: join state after the route ended");
                }
                let index = msg.row;
                if msg.flags & LAST != 0 {
                    joining.last = Some(index);
                }
                let mut msg = msg;
                // Keep the sender (with the datagram's address) as the first entry.
                msg.entries.push(from);
                joining.states.retain(|(i, _)| *i != index);
                joining.states.push((index, msg));
                if let Some(last) = joining.last
                    && (0..=last).all(|i| joining.states.iter().any(|(j, _)| *j == i))
                {
                    cx.cancel_timer(&PastryTimer::JoinTimeout);
                    self.finish_join(cx);
                }
            }
            Kind::GetState => {
                let envelope = Envelope {
                    kind: Some(Kind::State),
                    request: msg.request,
                    ..Envelope::default()
                };
                let flags = msg.flags & (WANT_LEAVES | WANT_NEIGHBOURS | WANT_TABLE);
                self.send_state(cx, from.addr, envelope, flags);
            }
            Kind::State => {
                let Some(rpc) = self.take_answer(cx, msg.request, &from) else {
                    return cx.count("pastry: unexpected state");
                };
                self.consider(from);
                for p in &msg.entries {
                    self.consider(*p);
                }
                if let Waiting::JoinPhase2 = rpc.waiting {
                    self.phase2_answered(cx);
                }
            }
            Kind::Announce => {
                self.consider(from);
                for p in &msg.entries {
                    self.consider(*p);
                }
            }
            Kind::GetEntry => {
                let entry = self
                    .table
                    .get(u32::from(msg.row), usize::from(msg.col))
                    .filter(|p| p.id != from.id && usize::from(msg.col) < self.table.columns());
                let envelope = Envelope {
                    kind: Some(Kind::Entry),
                    request: msg.request,
                    flags: if entry.is_some() { FOUND } else { 0 },
                    row: msg.row,
                    col: msg.col,
                    ..Envelope::default()
                };
                let entries: Vec<Peer> = entry.into_iter().collect();
                self.send(cx, from.addr, &envelope, &entries);
            }
            Kind::Entry => {
                let Some(rpc) = self.take_answer(cx, msg.request, &from) else {
                    return cx.count("pastry: unexpected entry");
                };
                let Waiting::EntryRepair { row, col, rest } = rpc.waiting else {
                    return;
                };
                let found = msg.entries.first().copied().filter(|p| {
                    !self.is_dead(p.id)
                        && self.table.slot_of(p.id) == Some((u32::from(row), usize::from(col)))
                });
                match found {
                    Some(p) => self.consider(p),
                    None => self.ask_entry(cx, row, col, rest),
                }
            }
            Kind::Ping => {
                let envelope = Envelope {
                    kind: Some(Kind::Pong),
                    request: msg.request,
                    ..Envelope::default()
                };
                self.send(cx, from.addr, &envelope, &[]);
            }
            Kind::Pong => {
                self.take_answer(cx, msg.request, &from);
            }
        }
    }

    /// Takes the request `request` waiting for an answer from `from`: an answer from
    /// any other address (a stray or forged one) is refused and counted.
    fn take_answer(&mut self, cx: &mut Cx<Self>, request: u32, from: &Peer) -> Option<Rpc> {
        match self.rpcs.get(&request) {
            Some(rpc) if rpc.peer.addr == from.addr => {
                cx.cancel_timer(&PastryTimer::RpcTimeout(request));
                self.rpcs.remove(&request)
            }
            Some(_) => {
                cx.count("pastry: answer from another address");
                None
            }
            None => None,
        }
    }

    fn phase2_answered(&mut self, cx: &mut Cx<Self>) {
        if let Some(j) = self.joining.as_mut() {
            j.phase2_outstanding = j.phase2_outstanding.saturating_sub(1);
            if j.phase2_outstanding == 0 {
                self.announce(cx);
            }
        }
    }
}

#[protocol(ports(net))]
impl Pastry {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        self.started = cx.now();
        if self.config.bootstrap.is_some() && !self.joined {
            cx.start_timer(PastryTimer::Join, self.config.join_after);
        }
        if !self.config.leaf_keepalive.is_zero() {
            cx.start_timer(PastryTimer::Keepalive, self.config.leaf_keepalive);
        }
        if !self.config.neighbour_probe.is_zero() {
            cx.start_timer(PastryTimer::Probe, self.config.neighbour_probe);
        }
        self.arm_workload(cx);
    }

    #[on_timer]
    fn join(&mut self, cx: &mut Cx<Self>) {
        self.start_join(cx);
    }

    #[on_timer]
    fn join_timeout(&mut self, cx: &mut Cx<Self>) {
        match &self.joining {
            Some(j) if j.last.is_some() && j.phase2_outstanding == 0 => self.finish_join(cx),
            Some(_) => {
                cx.count("pastry: join timed out, joining again");
                self.start_join(cx);
            }
            None => {}
        }
    }

    #[on_timer]
    fn keepalive(&mut self, cx: &mut Cx<Self>) {
        // Leaf-set exchange: each leaf's answer carries its leaf set, and the request
        // tells it of this node; either way, a lost announcement is made good.
        let leaves: Vec<Peer> = self.leaves.members().copied().collect();
        for peer in leaves {
            let envelope = Envelope {
                kind: Some(Kind::GetState),
                flags: WANT_LEAVES,
                ..Envelope::default()
            };
            self.call(cx, peer, envelope, Waiting::KeepAlive);
        }
        cx.start_timer(PastryTimer::Keepalive, self.config.leaf_keepalive);
    }

    #[on_timer]
    fn probe(&mut self, cx: &mut Cx<Self>) {
        let members: Vec<Peer> = self.neighbours.members().to_vec();
        for peer in members {
            let envelope = Envelope {
                kind: Some(Kind::Ping),
                ..Envelope::default()
            };
            self.call(cx, peer, envelope, Waiting::KeepAlive);
        }
        cx.start_timer(PastryTimer::Probe, self.config.neighbour_probe);
    }

    #[on_timer]
    fn workload(&mut self, cx: &mut Cx<Self>) {
        let now = cx.now();
        loop {
            let Some(w) = &self.workload else { return };
            let Some(&(at, key)) = w.routes.get(self.next_route) else {
                return;
            };
            if self.started + at > now {
                break;
            }
            let tag = self.next_route as u32;
            self.next_route += 1;
            if !self.joined {
                cx.count("pastry: workload route skipped while joining");
                continue;
            }
            let me = self.me;
            let routed = Routed {
                key,
                origin: me,
                flags: 0,
                hops: 0,
                timeouts: 0,
                distance: 0.0,
                tag,
                avoid: Vec::new(),
                retried: None,
            };
            self.route(cx, routed, true);
        }
        self.arm_workload(cx);
    }

    #[on_timer]
    fn rpc_timeout(&mut self, cx: &mut Cx<Self>, request: u32) {
        let Some(rpc) = self.rpcs.remove(&request) else {
            return;
        };
        self.stats.timeouts += 1;
        if let Waiting::Report(msg, tries) = rpc.waiting {
            // The origin may be a client, not a node: never suspected, only retried.
            if tries < REPORT_TRIES {
                self.report(cx, &msg, tries);
            } else {
                cx.count("pastry: delivery reports never acknowledged");
            }
            return;
        }
        if matches!(rpc.waiting, Waiting::Probe) {
            self.failed(cx, rpc.peer);
            return;
        }
        self.suspect(cx, rpc.peer);
        match rpc.waiting {
            Waiting::Forward(mut msg) => {
                msg.timeouts = msg.timeouts.saturating_add(1);
                if msg.retried != Some(rpc.peer.id) {
                    // Once more to the same node: the datagram or its ack may be lost.
                    msg.retried = Some(rpc.peer.id);
                    self.forward(cx, *msg, rpc.peer);
                } else {
                    // Silent twice: route around it.
                    msg.avoid.push(rpc.peer.id);
                    self.route(cx, *msg, false);
                }
            }
            Waiting::JoinPhase2 => self.phase2_answered(cx),
            Waiting::EntryRepair { row, col, rest } => self.ask_entry(cx, row, col, rest),
            Waiting::LeafRepair | Waiting::NeighbourRepair | Waiting::KeepAlive => {}
            Waiting::Probe | Waiting::Report(..) => unreachable!("handled above"),
        }
    }

    #[on_packet(port = "net")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let Some(src) = pkt.meta().src else {
            return cx.drop_packet(pkt, "pastry: datagram without a source");
        };
        let msg = match wire::decode(pkt.data()) {
            Ok(msg) => msg,
            Err(reason) => return cx.drop_packet(pkt, reason),
        };
        drop(pkt);
        self.stats.received += 1;
        let from = msg.sender_peer(src);
        // A node heard from directly is alive, whatever a timeout made of it before (a
        // slow answer is not a death): it may take its place in the state again. Not
        // so a node still joining (its first join hop, its state requests).
        if let Some(i) = self.recent_dead.iter().position(|d| *d == from.id) {
            self.recent_dead.remove(i);
        }
        let joining_sender = matches!(msg.kind, Kind::Route | Kind::GetState)
            && msg.flags & JOIN != 0
            && (msg.kind == Kind::GetState || msg.hops == 0);
        if self.joined && !joining_sender && from.id != Id::ZERO {
            self.consider(from);
        }
        self.answer(cx, from, msg);
    }
}
