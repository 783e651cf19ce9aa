//! The Chord protocol (Stoica et al., SIGCOMM 2001; IEEE/ACM ToN 2003) over a datagram
//! device: iterative lookups, join through any known node, stabilize / notify /
//! fix_fingers / check_predecessor on randomised timers, RPC timeouts that mark a peer
//! failed and route around it, graceful leave, and a replicated key-value store.

use core::net::SocketAddr;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use rustc_hash::FxBuildHasher;
use vipe_rt::prelude::*;

use super::app::{self, AppOp, AppReply, AppStatus};
use super::id::{ID_BITS, Id};
use super::table::{Peer, Table};
use super::wire::{self, DONE, Envelope, FOUND, HAS_PRED, Kind, Message};

/// How a Chord node behaves.
#[derive(Clone, Debug)]
pub struct ChordConfig {
    /// This node's address (its datagram device's).
    pub addr: SocketAddr,
    /// Its identifier; `None`: SHA-1 of the address, as in the paper.
    pub id: Option<Id>,
    /// A node of the ring to join through; `None`: start a new ring.
    pub bootstrap: Option<SocketAddr>,
    /// Successor-list length r.
    pub successors: usize,
    /// Mean stabilisation period; each wait is drawn uniformly from [0.5, 1.5] × it.
    /// `Duration::ZERO`: never stabilise.
    pub stabilize: Duration,
    /// Mean period of fix_fingers (one finger per round), randomised the same way;
    /// `Duration::ZERO`: never.
    pub fix_fingers: Duration,
    /// Mean period of check_predecessor; `Duration::ZERO`: never.
    pub check_predecessor: Duration,
    /// A peer that does not answer within this is taken as failed.
    pub rpc_timeout: Duration,
    /// Copies of each key: the owner and its first `replicas − 1` successors.
    pub replicas: usize,
    /// Candidates a lookup keeps to try when the next hop does not answer.
    pub alternates: usize,
    /// Whether a workload lookup must reach the owner it found (the ToN paper: "a lookup
    /// succeeds if it reaches the key's current successor"): the owner is pinged, and if
    /// it does not answer, the successors named with it are tried in turn.
    pub reach_owner: bool,
    /// Whether a peer that times out is dropped from the tables (fingers, successors,
    /// predecessor). Off in the ToN paper's frozen-ring experiment ("fingers to dead
    /// nodes are not purged"); a lookup never asks a node that timed out twice anyway.
    pub purge_on_timeout: bool,
    /// A client: it joins to get routing state and makes lookups, puts and gets, but
    /// never notifies its successor, so no node takes it as predecessor and it owns no
    /// key (a key-value client that comes and goes without moving data).
    pub client: bool,
    /// How long after its start a node with a bootstrap sends its join (to stagger
    /// joins on platforms that start every node at once).
    pub join_after: Duration,
    /// Recursive lookups: each hop forwards the query, and the node that knows the owner
    /// answers the originator directly. A lookup not answered within four RPC timeouts
    /// (a hop on the way failed) is retried iteratively. Off: iterative lookups.
    pub recursive: bool,
}

impl ChordConfig {
    /// Defaults for a node at `addr`: r = 4, stabilise every 1 s, fix a finger every
    /// 1 s, check the predecessor every 2 s, 500 ms RPC timeout, 3 replicas, lookups
    /// reach their owner.
    pub fn new(addr: SocketAddr) -> ChordConfig {
        ChordConfig {
            addr,
            id: None,
            bootstrap: None,
            successors: 4,
            stabilize: Duration::from_secs(1),
            fix_fingers: Duration::from_secs(1),
            check_predecessor: Duration::from_secs(2),
            rpc_timeout: Duration::from_millis(500),
            replicas: 3,
            alternates: 3,
            reach_owner: true,
            purge_on_timeout: true,
            client: false,
            join_after: Duration::ZERO,
            recursive: false,
        }
    }
}

/// The outcome of one lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupRecord {
    /// What was looked up.
    pub target: Id,
    /// The node that answered as the target's successor (`None`: the lookup failed).
    pub owner: Option<Peer>,
    /// Nodes that answered a step of the lookup (the path length; see the module docs
    /// of [`crate::chord`] for how a hop is counted).
    pub hops: u16,
    /// Steps that timed out (a node taken as failed and routed around).
    pub timeouts: u16,
    /// When it started.
    pub started: Instant,
    /// How long it took.
    pub latency: Duration,
}

/// Counters of a Chord node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChordStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages received and accepted.
    pub received: u64,
    /// RPCs that timed out.
    pub timeouts: u64,
    /// Lookups that found an owner.
    pub lookups_ok: u64,
    /// Lookups that failed (every candidate dead, or too many hops).
    pub lookups_failed: u64,
}

/// Lookups started by the node itself at a steady rate, recorded in
/// [`Chord::records`]: the experiments' workload.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// When the first lookup starts.
    pub start: Duration,
    /// Lookups to make (0: none).
    pub count: u32,
    /// Mean time between lookups.
    pub interval: Duration,
    /// Exponential (Poisson arrivals) rather than fixed intervals.
    pub poisson: bool,
    /// The keys looked up: 0 for uniformly random identifiers; K for key j drawn
    /// uniformly from 0..K, whose identifier is SHA-1 of j as 8 big-endian bytes (the
    /// experiments' "100·N keys").
    pub keys: u64,
}

/// Why a lookup is made.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    /// The workload's.
    Workload,
    /// To find finger `i`.
    Finger(u32),
    /// To find this node's successor when joining.
    Join,
    /// An app's request (tag, what to do with the owner).
    App(u32, AppOp),
}

/// A lookup in progress (iterative: this node asks each hop itself).
#[derive(Clone, Debug)]
struct Lookup {
    target: Id,
    purpose: Purpose,
    started: Instant,
    hops: u16,
    timeouts: u16,
    /// Whom to ask if the current hop does not answer, best first.
    alternates: Vec<Peer>,
    /// For an app's put: the value.
    value: Vec<u8>,
    /// For an app's get or put: the owner's successors (replicas), tried in turn.
    replicas: Vec<Peer>,
    /// Nodes that did not answer this lookup: never asked again, whoever names them.
    dead: Vec<Id>,
    /// For a lookup that must reach the owner: the owner's successors, tried in turn
    /// if it does not answer.
    owners: Vec<Peer>,
}

impl Lookup {
    /// What a workload lookup ending now at `owner` (`None`: failed) leaves behind.
    fn record(&self, owner: Option<Peer>, now: Instant) -> LookupRecord {
        LookupRecord {
            target: self.target,
            owner,
            hops: self.hops,
            timeouts: self.timeouts,
            started: self.started,
            latency: now - self.started,
        }
    }
}

/// A request waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct Rpc {
    peer: Peer,
    kind: Kind,
    /// The lookup it serves, if any.
    lookup: Option<u32>,
}

/// Deterministic maps (no per-process random seed), for outstanding requests.
type HashMap<K, V> = hashbrown::HashMap<K, V, FxBuildHasher>;

/// Candidates a `Found` carries besides the successor list: the querier's fallbacks
/// when the best ones have failed.
const REPLY_CANDIDATES: usize = 8;

/// Nodes a lookup keeps to fall back on.
const MAX_ALTERNATES: usize = 24;

/// More hops than this and a lookup is given up (a routing loop; with sane tables a
/// lookup takes about ½·log2 N).
const MAX_HOPS: u16 = 2 * ID_BITS as u16;

/// A Chord node.
#[protocol(name = "chord")]
pub struct Chord {
    config: ChordConfig,
    table: Table,
    next_request: u32,
    rpcs: HashMap<u32, Rpc>,
    lookups: HashMap<u32, Lookup>,
    next_finger: u32,
    store: BTreeMap<Id, Vec<u8>>,
    workload: Option<Workload>,
    workload_left: u32,
    left: bool,
    /// Whether this node is part of a ring: it started one, or its join found its
    /// successor. Until then it answers no lookup step (it would claim every key and
    /// could lead joiners into a separate loop).
    joined: bool,
    scratch: Vec<Peer>,
    /// Counters.
    pub stats: ChordStats,
    /// Outcomes of the workload's lookups, in the order they ended.
    pub records: Vec<LookupRecord>,
}

impl Chord {
    /// A node that starts a ring or joins one, as `config` says.
    pub fn new(config: ChordConfig) -> Chord {
        let id = config.id.unwrap_or_else(|| Id::of_node(config.addr, 0));
        let config_joined = config.bootstrap.is_none();
        let me = Peer {
            id,
            addr: config.addr,
        };
        Chord {
            table: Table::new(me, config.successors),
            config,
            next_request: 1,
            rpcs: HashMap::default(),
            lookups: HashMap::default(),
            next_finger: 0,
            store: BTreeMap::new(),
            workload: None,
            workload_left: 0,
            left: false,
            joined: config_joined,
            scratch: Vec::new(),
            stats: ChordStats::default(),
            records: Vec::new(),
        }
    }

    /// A node whose tables are already what stabilisation converges to on the ring of
    /// `ring` (every node's identifier and address, sorted by identifier, this node
    /// among them): the successor list, the predecessor and every distinct finger. For
    /// experiments at 10^5–10^6 nodes, where building the ring by joins would dominate
    /// the run; `tests/chord.rs` shows both builds give the same path lengths.
    pub fn converged(config: ChordConfig, ring: &[Peer]) -> Chord {
        let mut node = Chord::new(config);
        let me = node.table.me();
        let Ok(at) = ring.binary_search_by(|p| p.id.cmp(&me.id)) else {
            return node;
        };
        let n = ring.len();
        if n > 1 {
            let succs: Vec<Peer> = (1..n.min(node.config.successors + 1))
                .map(|k| ring[(at + k) % n])
                .collect();
            node.table.set_successors(succs[0], &succs[1..]);
            node.table.set_predecessor(Some(ring[(at + n - 1) % n]));
            let mut i = 0;
            while i < ID_BITS {
                let start = me.id.wrapping_add(Id::pow2(i));
                let owner = successor_in(ring, start);
                if owner.id == me.id {
                    break;
                }
                node.table.set_finger(start, owner);
                // Skip the slots whose start still falls before this owner.
                let d = me.id.distance_to(owner.id);
                i = d.log2().map_or(i + 1, |l| (l + 1).max(i + 1));
            }
        }
        node
    }

    /// Makes `count` lookups of random identifiers, `interval` apart on average,
    /// starting `start` after this node starts.
    pub fn with_workload(mut self, workload: Workload) -> Chord {
        self.workload = Some(workload);
        self
    }

    /// This node's identifier and address.
    pub fn me(&self) -> Peer {
        self.table.me()
    }

    /// The routing state.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Keys stored here (owned or replicated).
    pub fn store(&self) -> &BTreeMap<Id, Vec<u8>> {
        &self.store
    }

    /// Lookups in progress.
    pub fn lookups_in_progress(&self) -> usize {
        self.lookups.len()
    }

    /// Stops stabilisation, fix_fingers and check_predecessor from now on, and keeps
    /// peers that time out in the tables (the ToN paper's Table II freezes the ring
    /// before failing nodes, and does not purge fingers to dead nodes).
    pub fn freeze(&mut self) {
        self.config.purge_on_timeout = false;
        self.config.stabilize = Duration::ZERO;
        self.config.fix_fingers = Duration::ZERO;
        self.config.check_predecessor = Duration::ZERO;
    }

    /// Changes the mean periods of stabilisation, fix_fingers and check_predecessor
    /// (each taking effect at its next round; `Duration::ZERO` stops it).
    pub fn set_maintenance(
        &mut self,
        stabilize: Duration,
        fix_fingers: Duration,
        check_predecessor: Duration,
    ) {
        self.config.stabilize = stabilize;
        self.config.fix_fingers = fix_fingers;
        self.config.check_predecessor = check_predecessor;
    }

    /// Memory this node holds on the heap (tables, pending state, store), in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.records.capacity() * core::mem::size_of::<LookupRecord>()
            + self
                .store
                .values()
                .map(|v| v.capacity() + 48)
                .sum::<usize>()
            + (self.rpcs.capacity() + self.lookups.capacity()) * 64
    }

    fn jittered(cx: &mut Cx<Self>, mean: Duration) -> Duration {
        // Uniform in [0.5, 1.5] × mean.
        Duration::from_nanos(
            cx.rng()
                .below(mean.as_nanos() / 2, mean.as_nanos() * 3 / 2 + 1),
        )
    }

    /// An exponential wait with this mean: −ln(U)·mean, U in (0, 1].
    fn exponential(cx: &mut Cx<Self>, mean: Duration) -> Duration {
        let u = 1.0 - cx.rng().f64();
        Duration::from_secs_f64(-libm::log(u) * mean.as_secs_f64())
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        id
    }

    fn send(
        &mut self,
        cx: &mut Cx<Self>,
        to: SocketAddr,
        envelope: Envelope,
        entries: &[Peer],
        value: &[u8],
    ) {
        let mut pkt = cx.alloc();
        wire::encode(&mut pkt, envelope, entries, value);
        pkt.meta_mut().dst = Some(to);
        self.stats.sent += 1;
        cx.send(ChordPort::Net, pkt);
    }

    fn envelope(&self, kind: Kind, flags: u8, request: u32, target: Id) -> Envelope {
        Envelope {
            kind,
            flags,
            request,
            sender: self.table.me().id,
            target,
            split: 0,
        }
    }

    /// Sends a request and arms its timeout.
    fn call(
        &mut self,
        cx: &mut Cx<Self>,
        peer: Peer,
        kind: Kind,
        target: Id,
        lookup: Option<u32>,
        value: &[u8],
    ) -> u32 {
        let request = self.request_id();
        self.rpcs.insert(request, Rpc { peer, kind, lookup });
        let envelope = self.envelope(kind, 0, request, target);
        self.send(cx, peer.addr, envelope, &[], value);
        cx.start_timer(ChordTimer::RpcTimeout(request), self.config.rpc_timeout);
        request
    }

    // --- lookups -------------------------------------------------------------------

    fn start_lookup(&mut self, cx: &mut Cx<Self>, target: Id, purpose: Purpose, value: Vec<u8>) {
        let id = self.request_id();
        let lookup = Lookup {
            target,
            purpose,
            started: cx.now(),
            hops: 0,
            timeouts: 0,
            alternates: Vec::new(),
            value,
            replicas: Vec::new(),
            dead: Vec::new(),
            owners: Vec::new(),
        };
        self.lookups.insert(id, lookup);
        // The first step is local: this node's own table.
        let succ = self.table.successor();
        if let Some(j) = self.table.owner_in_successors(target) {
            let list = &self.table.successors()[j..];
            let (owner, rest) = (list[0], list[1..].to_vec());
            return self.lookup_found(cx, id, owner, &rest);
        }
        if target.in_half_open(self.table.me().id, succ.id) {
            return self.lookup_found(cx, id, succ, &[]);
        }
        // Next hops from our own table, as a remote hop would give them: the closest
        // preceding fingers, then our successors before the target as fallbacks.
        let mut candidates = core::mem::take(&mut self.scratch);
        self.table
            .closest_preceding(target, REPLY_CANDIDATES, &mut candidates);
        let me = self.table.me().id;
        for s in self.table.successors() {
            if s.id.in_open(me, target) && !candidates.iter().any(|c| c.id == s.id) {
                candidates.push(*s);
            }
        }
        candidates.sort_unstable_by_key(|p| p.id.distance_to(target));
        candidates.truncate(MAX_ALTERNATES);
        if candidates.is_empty() {
            self.scratch = candidates;
            return self.lookup_found(cx, id, succ, &[]);
        }
        let next = candidates[0];
        if let Some(l) = self.lookups.get_mut(&id) {
            l.alternates.clear();
            l.alternates.extend_from_slice(&candidates[1..]);
        }
        self.scratch = candidates;
        if self.config.recursive {
            return self.call_recursive(cx, next, target, id);
        }
        self.call(cx, next, Kind::Find, target, Some(id), &[]);
    }

    /// Starts a recursive lookup at `first`: one request, answered by whichever node
    /// knows the owner, with a timeout long enough for the whole path.
    fn call_recursive(&mut self, cx: &mut Cx<Self>, first: Peer, target: Id, lookup: u32) {
        let request = self.request_id();
        self.rpcs.insert(
            request,
            Rpc {
                peer: first,
                kind: Kind::FindRecursive,
                lookup: Some(lookup),
            },
        );
        let me = self.table.me();
        let env = self.envelope(Kind::FindRecursive, 0, request, target);
        self.send(cx, first.addr, env, &[me], &0u16.to_be_bytes());
        cx.start_timer(
            ChordTimer::RpcTimeout(request),
            self.config.rpc_timeout.saturating_mul(4),
        );
    }

    /// A hop answered `Found`: its candidates closer to the target (the first `split`
    /// entries) and its successor list (the rest).
    fn lookup_step(&mut self, cx: &mut Cx<Self>, id: u32, from: Peer, msg: &Message) {
        let Some(lookup) = self.lookups.get_mut(&id) else {
            return;
        };
        lookup.hops = lookup.hops.saturating_add(1);
        if lookup.hops >= MAX_HOPS {
            cx.count("chord: lookups over the hop limit");
            return self.lookup_failed(cx, id);
        }
        let target = lookup.target;
        let dead = &lookup.dead;
        let (candidates, successors) = msg.entries.split_at(msg.split);
        // Next hops: live nodes strictly between the hop and the target, the closest to
        // the target first (its successors count too when its fingers have failed).
        let mut next: Vec<Peer> = Vec::with_capacity(msg.entries.len());
        for p in candidates.iter().chain(successors) {
            if p.id.in_open(from.id, target)
                && !dead.contains(&p.id)
                && !next.iter().any(|q| q.id == p.id)
            {
                next.push(*p);
            }
        }
        next.sort_unstable_by_key(|p| p.id.distance_to(target));
        // Owners: the hop's successors at or past the target, in ring order.
        let owners: Vec<Peer> = successors
            .iter()
            .filter(|p| !p.id.in_open(from.id, target) && !dead.contains(&p.id))
            .copied()
            .collect();
        let done = msg.flags & DONE != 0;
        for p in &lookup.alternates {
            if !next.iter().any(|q| q.id == p.id) {
                next.push(*p);
            }
        }
        next.truncate(MAX_ALTERNATES);
        if (done || next.is_empty()) && !owners.is_empty() {
            // The hop knows the owner. Keep the live nodes before the target as the way
            // on, should every owner it names have failed.
            lookup.alternates = next;
            let (owner, rest) = (owners[0], owners[1..].to_vec());
            return self.lookup_found(cx, id, owner, &rest);
        }
        if next.is_empty() {
            cx.count("chord: hops that brought nothing closer");
            return self.lookup_failed(cx, id);
        }
        let hop = next.remove(0);
        lookup.alternates = next;
        self.call(cx, hop, Kind::Find, target, Some(id), &[]);
    }

    fn try_alternate(&mut self, cx: &mut Cx<Self>, id: u32) {
        let Some(lookup) = self.lookups.get_mut(&id) else {
            return;
        };
        let dead = core::mem::take(&mut lookup.dead);
        lookup.alternates.retain(|p| !dead.contains(&p.id));
        lookup.dead = dead;
        if lookup.alternates.is_empty() {
            cx.count("chord: lookups out of candidates");
            return self.lookup_failed(cx, id);
        }
        let hop = lookup.alternates.remove(0);
        let target = lookup.target;
        self.call(cx, hop, Kind::Find, target, Some(id), &[]);
    }

    fn lookup_found(&mut self, cx: &mut Cx<Self>, id: u32, owner: Peer, rest: &[Peer]) {
        let Some(mut lookup) = self.lookups.remove(&id) else {
            return;
        };
        if matches!(lookup.purpose, Purpose::Workload)
            && self.config.reach_owner
            && lookup.owners.is_empty()
            && owner.id != self.table.me().id
        {
            // Reach the owner before the lookup counts as done.
            lookup.owners = core::iter::once(owner)
                .chain(rest.iter().copied())
                .collect();
            self.lookups.insert(id, lookup);
            return self.reach_next_owner(cx, id);
        }
        self.stats.lookups_ok += 1;
        match lookup.purpose {
            Purpose::Workload => self.records.push(lookup.record(Some(owner), cx.now())),
            Purpose::Finger(i) => {
                let start = self.table.me().id.wrapping_add(Id::pow2(i));
                self.table.set_finger(start, owner);
                // The next round fixes the first slot this owner does not cover.
                let d = self.table.me().id.distance_to(owner.id);
                self.next_finger = d.log2().map_or(0, |l| l + 1).max(i + 1) % ID_BITS;
            }
            Purpose::Join => {
                if owner.id != self.table.me().id {
                    self.table.set_successors(owner, rest);
                    self.joined = true;
                    // Stabilise at once: the successor learns of us (and tells its old
                    // predecessor) now, not a stabilisation period later.
                    self.stabilize_now(cx);
                } else {
                    cx.start_timer(ChordTimer::Join, self.config.rpc_timeout.saturating_mul(2));
                }
            }
            Purpose::App(_, op) => match op {
                AppOp::Lookup => self.app_done(cx, &lookup, AppStatus::Ok, Some(owner), Vec::new()),
                AppOp::Put | AppOp::Get => {
                    lookup.replicas = core::iter::once(owner)
                        .chain(rest.iter().copied())
                        .collect();
                    lookup.replicas.truncate(self.config.replicas.max(1));
                    lookup.alternates.clear();
                    self.data_request(cx, id, lookup);
                }
                AppOp::Leave => {}
            },
        }
    }

    /// Pings the next candidate owner of a lookup that must reach it.
    fn reach_next_owner(&mut self, cx: &mut Cx<Self>, id: u32) {
        let Some(lookup) = self.lookups.get_mut(&id) else {
            return;
        };
        let dead = core::mem::take(&mut lookup.dead);
        lookup.owners.retain(|p| !dead.contains(&p.id));
        lookup.dead = dead;
        if lookup.owners.is_empty() {
            // Every owner named has failed: go on from the live nodes before the target.
            cx.count("chord: owners all failed, lookup goes on");
            lookup.owners.clear();
            return self.try_alternate(cx, id);
        }
        let owner = lookup.owners[0];
        let target = lookup.target;
        self.call(cx, owner, Kind::Ping, target, Some(id), &[]);
    }

    fn lookup_failed(&mut self, cx: &mut Cx<Self>, id: u32) {
        let Some(lookup) = self.lookups.remove(&id) else {
            return;
        };
        self.stats.lookups_failed += 1;
        match lookup.purpose {
            Purpose::Workload => self.records.push(lookup.record(None, cx.now())),
            Purpose::Finger(i) => self.next_finger = (i + 1) % ID_BITS,
            Purpose::Join => {
                // Try again through the bootstrap node after a while.
                cx.start_timer(ChordTimer::Join, self.config.rpc_timeout.saturating_mul(2));
            }
            Purpose::App(..) => self.app_done(cx, &lookup, AppStatus::Failed, None, Vec::new()),
        }
    }

    /// Sends an app's put or get to the next replica of its key.
    fn data_request(&mut self, cx: &mut Cx<Self>, id: u32, mut lookup: Lookup) {
        let Purpose::App(_, op) = lookup.purpose else {
            return;
        };
        if lookup.replicas.is_empty() {
            let status = if op == AppOp::Get {
                AppStatus::NotFound
            } else {
                AppStatus::Failed
            };
            return self.app_done(cx, &lookup, status, None, Vec::new());
        }
        let peer = lookup.replicas.remove(0);
        // A put keeps its value for the next replica, should this one not answer.
        let (kind, value) = match op {
            AppOp::Put => (Kind::Put, lookup.value.clone()),
            _ => (Kind::Get, Vec::new()),
        };
        let target = lookup.target;
        self.lookups.insert(id, lookup);
        self.call(cx, peer, kind, target, Some(id), &value);
    }

    // --- app port ------------------------------------------------------------------

    fn app_reply(&mut self, cx: &mut Cx<Self>, reply: &AppReply) {
        if !cx.is_connected(ChordPort::App) {
            return;
        }
        let mut pkt = cx.alloc();
        app::encode_reply(&mut pkt, reply);
        cx.send(ChordPort::App, pkt);
    }

    /// Answers the app whose request `lookup` served (nothing for other lookups).
    fn app_done(
        &mut self,
        cx: &mut Cx<Self>,
        lookup: &Lookup,
        status: AppStatus,
        owner: Option<Peer>,
        value: Vec<u8>,
    ) {
        let Purpose::App(tag, op) = lookup.purpose else {
            return;
        };
        let reply = AppReply {
            op,
            status,
            tag,
            key: lookup.target,
            owner,
            hops: lookup.hops,
            timeouts: lookup.timeouts,
            value,
        };
        self.app_reply(cx, &reply);
    }

    fn stabilize_now(&mut self, cx: &mut Cx<Self>) {
        let succ = self.table.successor();
        if succ.id == self.table.me().id {
            // Alone, or every successor failed: adopt the predecessor (a two-node ring
            // forms this way) or the nearest finger.
            if let Some(p) = self
                .table
                .predecessor()
                .or(self.table.fingers().first().copied())
            {
                self.table.set_successors(p, &[]);
            }
            return;
        }
        self.call(cx, succ, Kind::GetState, Id::ZERO, None, &[]);
    }

    fn answer(&mut self, cx: &mut Cx<Self>, from: Peer, msg: &Message) {
        let me = self.table.me();
        match msg.kind {
            Kind::Find | Kind::FindRecursive if !self.joined => {
                cx.count("chord: lookup step refused while joining")
            }
            Kind::FindRecursive => self.forward_recursive(cx, msg),
            Kind::Find => {
                let succ = self.table.successor();
                let owner_at = self.table.owner_in_successors(msg.target);
                if owner_at.is_some() || msg.target.in_half_open(me.id, succ.id) {
                    // The whole successor list: the querier takes the first at or past
                    // the target as the owner, the ones after it as fallbacks.
                    let list: Vec<Peer> = match owner_at {
                        Some(_) => self.table.successors().to_vec(),
                        None => alloc::vec![succ],
                    };
                    let env = self.envelope(Kind::Found, DONE, msg.request, msg.target);
                    return self.send(cx, from.addr, env, &list, &[]);
                }
                // Candidates closer to the target, best first, then our successor list
                // (the querier's way on if every candidate has failed).
                let mut candidates = core::mem::take(&mut self.scratch);
                self.table
                    .closest_preceding(msg.target, REPLY_CANDIDATES, &mut candidates);
                if candidates.is_empty() {
                    let list = [succ];
                    let env = self.envelope(Kind::Found, DONE, msg.request, msg.target);
                    self.send(cx, from.addr, env, &list, &[]);
                } else {
                    let split = candidates.len().min(wire::MAX_ENTRIES / 2);
                    candidates.truncate(split);
                    candidates.extend_from_slice(self.table.successors());
                    let mut env = self.envelope(Kind::Found, 0, msg.request, msg.target);
                    env.split = split as u8;
                    self.send(cx, from.addr, env, &candidates, &[]);
                }
                self.scratch = candidates;
            }
            Kind::GetState => {
                let mut list: Vec<Peer> = Vec::with_capacity(self.table.successors().len() + 1);
                let mut flags = 0;
                if let Some(p) = self.table.predecessor() {
                    list.push(p);
                    flags |= HAS_PRED;
                }
                list.extend_from_slice(self.table.successors());
                let env = self.envelope(Kind::State, flags, msg.request, Id::ZERO);
                self.send(cx, from.addr, env, &list, &[]);
            }
            Kind::Notify => {
                let old = self.table.predecessor();
                let accept = match old {
                    None => true,
                    Some(p) => from.id.in_open(p.id, me.id) || p.id == from.id,
                };
                if !accept || old.is_some_and(|p| p.id == from.id) {
                    return;
                }
                self.table.set_predecessor(Some(from));
                if self.table.successor().id == me.id {
                    // Alone until now: the joining node is also the successor.
                    self.table.set_successors(from, &[]);
                }
                if let Some(p) = old {
                    // The old predecessor's successor is now `from` (ToN §V-A).
                    let env = self.envelope(Kind::SuccessorHint, 0, 0, Id::ZERO);
                    self.send(cx, p.addr, env, &[from], &[]);
                }
                self.hand_over(cx, from, old);
            }
            Kind::SuccessorHint => {
                if let Some(&hint) = msg.entries.first()
                    && hint.id.in_open(me.id, self.table.successor().id)
                {
                    self.table.prepend_successor(hint);
                }
            }
            Kind::Ping => {
                // The answer names our predecessor: a lookup that reached us as a key's
                // owner checks that the key is ours, (predecessor, us].
                let (flags, list) = match self.table.predecessor() {
                    Some(p) => (HAS_PRED, alloc::vec![p]),
                    None => (0, Vec::new()),
                };
                let env = self.envelope(Kind::Pong, flags, msg.request, Id::ZERO);
                self.send(cx, from.addr, env, &list, &[]);
            }
            Kind::Leave => {
                self.table.remove(from.id);
                if msg.flags & HAS_PRED != 0 {
                    // From our predecessor: its predecessor is ours now.
                    self.table.set_predecessor(msg.entries.first().copied());
                } else if let Some((&first, rest)) = msg.entries.split_first() {
                    // From our successor: its successors are ours.
                    self.table.set_successors(first, rest);
                }
                if !msg.value.is_empty()
                    && let Ok(items) = wire::decode_items(&msg.value)
                {
                    self.store.extend(items);
                }
            }
            Kind::Put | Kind::Replica => {
                self.store.insert(msg.target, msg.value.clone());
                if msg.kind == Kind::Put {
                    let copies = self.config.replicas.saturating_sub(1);
                    let succs: Vec<Peer> = self
                        .table
                        .successors()
                        .iter()
                        .take(copies)
                        .copied()
                        .collect();
                    for s in succs {
                        let env = self.envelope(Kind::Replica, 0, 0, msg.target);
                        self.send(cx, s.addr, env, &[], &msg.value);
                    }
                    let env = self.envelope(Kind::PutAck, 0, msg.request, msg.target);
                    self.send(cx, from.addr, env, &[], &[]);
                }
            }
            Kind::Get => {
                let (flags, value) = match self.store.get(&msg.target) {
                    Some(v) => (FOUND, v.clone()),
                    None => (0, Vec::new()),
                };
                let env = self.envelope(Kind::Value, flags, msg.request, msg.target);
                self.send(cx, from.addr, env, &[], &value);
            }
            Kind::Transfer => match wire::decode_items(&msg.value) {
                Ok(items) => self.store.extend(items),
                Err(reason) => cx.count(reason),
            },
            Kind::Found | Kind::State | Kind::Pong | Kind::PutAck | Kind::Value => {
                self.reply(cx, from, msg);
            }
        }
    }

    /// A recursive lookup step: answer the originator if we know the owner, otherwise
    /// forward to the closest preceding node we know.
    fn forward_recursive(&mut self, cx: &mut Cx<Self>, msg: &Message) {
        let Some(&origin) = msg.entries.first() else {
            return cx.count("chord: recursive lookup without an originator");
        };
        let hops = msg
            .value
            .get(..2)
            .map_or(0, |h| u16::from_be_bytes([h[0], h[1]]))
            .saturating_add(1);
        if hops >= MAX_HOPS {
            return cx.count("chord: lookups over the hop limit");
        }
        let me = self.table.me();
        let succ = self.table.successor();
        let owner_at = self.table.owner_in_successors(msg.target);
        let mut candidates = core::mem::take(&mut self.scratch);
        self.table.closest_preceding(msg.target, 1, &mut candidates);
        let next = candidates.first().copied();
        self.scratch = candidates;
        match next {
            Some(next) if owner_at.is_none() && !msg.target.in_half_open(me.id, succ.id) => {
                let mut env = self.envelope(Kind::FindRecursive, 0, msg.request, msg.target);
                env.sender = msg.sender;
                self.send(cx, next.addr, env, &[origin], &hops.to_be_bytes());
            }
            _ => {
                let list: Vec<Peer> = match owner_at {
                    Some(_) => self.table.successors().to_vec(),
                    None => alloc::vec![succ],
                };
                // The owner first: the rest of the list after it, as in `Find`.
                let at = list
                    .iter()
                    .position(|p| !p.id.in_open(me.id, msg.target))
                    .unwrap_or(0);
                let env = self.envelope(Kind::Found, DONE, msg.request, msg.target);
                self.send(cx, origin.addr, env, &list[at..], &hops.to_be_bytes());
            }
        }
    }

    /// Keys in (old predecessor, new predecessor] go to the new one, which owns them now
    /// (this node keeps its copy: it is the new owner's first successor, a replica).
    fn hand_over(&mut self, cx: &mut Cx<Self>, to: Peer, old: Option<Peer>) {
        if self.store.is_empty() {
            return;
        }
        let from = old.map_or(self.table.me().id, |p| p.id);
        let items: Vec<(&Id, &Vec<u8>)> = self
            .store
            .iter()
            .filter(|(k, _)| k.in_half_open(from, to.id))
            .collect();
        if items.is_empty() {
            return;
        }
        let value = wire::encode_items(items.into_iter());
        let env = self.envelope(Kind::Transfer, 0, 0, Id::ZERO);
        self.send(cx, to.addr, env, &[], &value);
    }

    /// An answer to one of our requests.
    fn reply(&mut self, cx: &mut Cx<Self>, from: Peer, msg: &Message) {
        let Some(rpc) = self.rpcs.get(&msg.request).copied() else {
            return cx.count("chord: answer to no request");
        };
        if rpc.peer.addr != from.addr && rpc.kind != Kind::FindRecursive {
            return cx.count("chord: answer from the wrong node");
        }
        self.rpcs.remove(&msg.request);
        cx.cancel_timer(&ChordTimer::RpcTimeout(msg.request));
        match (rpc.kind, msg.kind) {
            (Kind::Find, Kind::Found) => {
                if let Some(id) = rpc.lookup {
                    self.lookup_step(cx, id, from, msg);
                }
            }
            (Kind::FindRecursive, Kind::Found) => {
                let Some(id) = rpc.lookup else { return };
                let hops = msg
                    .value
                    .get(..2)
                    .map_or(0, |h| u16::from_be_bytes([h[0], h[1]]));
                let Some(lookup) = self.lookups.get_mut(&id) else {
                    return;
                };
                // The answering node counts as a hop, as in an iterative lookup.
                lookup.hops = hops;
                match msg.entries.split_first() {
                    Some((&owner, rest)) if msg.flags & DONE != 0 => {
                        let rest = rest.to_vec();
                        self.lookup_found(cx, id, owner, &rest);
                    }
                    _ => self.lookup_failed(cx, id),
                }
            }
            (Kind::GetState, Kind::State) => {
                let me = self.table.me();
                let (pred, list) = if msg.flags & HAS_PRED != 0 {
                    (
                        msg.entries.first().copied(),
                        msg.entries.get(1..).unwrap_or(&[]),
                    )
                } else {
                    (None, &msg.entries[..])
                };
                self.table.set_successors(from, list);
                if let Some(x) = pred
                    && x.id.in_open(me.id, from.id)
                {
                    self.table.prepend_successor(x);
                }
                if !self.config.client {
                    let succ = self.table.successor();
                    let env = self.envelope(Kind::Notify, 0, 0, Id::ZERO);
                    self.send(cx, succ.addr, env, &[], &[]);
                }
            }
            (Kind::Ping, Kind::Pong) => {
                let Some(id) = rpc.lookup else { return };
                let pred = (msg.flags & HAS_PRED != 0)
                    .then(|| msg.entries.first().copied())
                    .flatten();
                let Some(lookup) = self.lookups.get_mut(&id) else {
                    return;
                };
                if let Some(p) = pred
                    && !lookup.target.in_half_open(p.id, from.id)
                    && !lookup.dead.contains(&p.id)
                    && lookup.hops < MAX_HOPS
                {
                    // A node has joined between the key and the node we reached (which
                    // knows it as its predecessor): the owner is further back. The node
                    // we reached stays next in line, should that predecessor be dead.
                    cx.count("chord: owner redirected to a newer predecessor");
                    lookup.hops = lookup.hops.saturating_add(1);
                    lookup.owners.retain(|o| o.id != from.id && o.id != p.id);
                    lookup.owners.insert(0, from);
                    lookup.owners.insert(0, p);
                    return self.reach_next_owner(cx, id);
                }
                // The owner answered and the key is its own: the lookup is done (owners
                // is non-empty, so lookup_found records it rather than pinging again).
                self.lookup_found(cx, id, from, &[]);
            }
            (Kind::Put, Kind::PutAck) => {
                if let Some(id) = rpc.lookup
                    && let Some(lookup) = self.lookups.remove(&id)
                {
                    self.app_done(cx, &lookup, AppStatus::Ok, Some(from), Vec::new());
                }
            }
            (Kind::Get, Kind::Value) => {
                let Some(id) = rpc.lookup else { return };
                if msg.flags & FOUND != 0 {
                    if let Some(lookup) = self.lookups.remove(&id) {
                        self.app_done(cx, &lookup, AppStatus::Ok, Some(from), msg.value.clone());
                    }
                } else if let Some(lookup) = self.lookups.remove(&id) {
                    // Not there (a replica that missed it): try the next.
                    self.data_request(cx, id, lookup);
                }
            }
            _ => cx.count("chord: answer of the wrong kind"),
        }
    }

    fn leave_now(&mut self, cx: &mut Cx<Self>) {
        if self.left {
            return;
        }
        self.left = true;
        if self.config.client {
            return; // never part of the ring: nothing to hand over
        }
        let me = self.table.me();
        let succ = self.table.successor();
        let pred = self.table.predecessor();
        if succ.id == me.id {
            return;
        }
        let items = wire::encode_items(self.store.iter());
        let to_succ: Vec<Peer> = pred.into_iter().collect();
        let flags = if pred.is_some() { HAS_PRED } else { 0 };
        let env = self.envelope(Kind::Leave, flags, 0, Id::ZERO);
        self.send(cx, succ.addr, env, &to_succ, &items);
        if let Some(p) = pred {
            let list = self.table.successors().to_vec();
            let env = self.envelope(Kind::Leave, 0, 0, Id::ZERO);
            self.send(cx, p.addr, env, &list, &[]);
        }
    }
}

/// The first node of `ring` (sorted by identifier) at or after `id`, wrapping.
pub fn successor_in(ring: &[Peer], id: Id) -> Peer {
    let at = ring.partition_point(|p| p.id < id);
    ring[at % ring.len()]
}

#[protocol(ports(net, app))]
impl Chord {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.config.bootstrap.is_some() && self.table.successors().is_empty() {
            cx.start_timer(ChordTimer::Join, self.config.join_after);
        }
        if !self.config.stabilize.is_zero() {
            let wait = Self::jittered(cx, self.config.stabilize);
            cx.start_timer(ChordTimer::Stabilize, wait);
        }
        if !self.config.fix_fingers.is_zero() {
            let wait = Self::jittered(cx, self.config.fix_fingers);
            cx.start_timer(ChordTimer::FixFingers, wait);
        }
        if !self.config.check_predecessor.is_zero() {
            let wait = Self::jittered(cx, self.config.check_predecessor);
            cx.start_timer(ChordTimer::CheckPredecessor, wait);
        }
        if let Some(w) = self.workload
            && w.count > 0
        {
            self.workload_left = w.count;
            // Poisson arrivals start with an exponential wait too, so that nodes started
            // together do not all make their first lookup at the same instant.
            let first = if w.poisson {
                w.start + Self::exponential(cx, w.interval)
            } else {
                w.start
            };
            cx.start_timer(ChordTimer::Workload, first);
        }
    }

    #[on_stop]
    fn stop(&mut self, cx: &mut Cx<Self>) {
        self.leave_now(cx);
    }

    #[on_timer]
    fn join(&mut self, cx: &mut Cx<Self>) {
        let Some(bootstrap) = self.config.bootstrap else {
            return;
        };
        // The bootstrap node's identifier is unknown until it answers; as a lookup's
        // first hop, only its address matters.
        let me = self.table.me();
        let id = self.request_id();
        self.lookups.insert(
            id,
            Lookup {
                target: me.id,
                purpose: Purpose::Join,
                started: cx.now(),
                hops: 0,
                timeouts: 0,
                alternates: Vec::new(),
                value: Vec::new(),
                replicas: Vec::new(),
                dead: Vec::new(),
                owners: Vec::new(),
            },
        );
        let peer = Peer {
            id: Id::ZERO,
            addr: bootstrap,
        };
        self.call(cx, peer, Kind::Find, me.id, Some(id), &[]);
    }

    #[on_timer]
    fn stabilize(&mut self, cx: &mut Cx<Self>) {
        if self.config.stabilize.is_zero() || self.left {
            return;
        }
        self.stabilize_now(cx);
        let wait = Self::jittered(cx, self.config.stabilize);
        cx.start_timer(ChordTimer::Stabilize, wait);
    }

    #[on_timer]
    fn fix_fingers(&mut self, cx: &mut Cx<Self>) {
        if self.config.fix_fingers.is_zero() || self.left {
            return;
        }
        if self.table.successor().id != self.table.me().id {
            let i = self.next_finger;
            let start = self.table.me().id.wrapping_add(Id::pow2(i));
            self.start_lookup(cx, start, Purpose::Finger(i), Vec::new());
        }
        let wait = Self::jittered(cx, self.config.fix_fingers);
        cx.start_timer(ChordTimer::FixFingers, wait);
    }

    #[on_timer]
    fn check_predecessor(&mut self, cx: &mut Cx<Self>) {
        if self.config.check_predecessor.is_zero() || self.left {
            return;
        }
        if let Some(p) = self.table.predecessor() {
            self.call(cx, p, Kind::Ping, Id::ZERO, None, &[]);
        }
        let wait = Self::jittered(cx, self.config.check_predecessor);
        cx.start_timer(ChordTimer::CheckPredecessor, wait);
    }

    #[on_timer]
    fn workload(&mut self, cx: &mut Cx<Self>) {
        let Some(w) = self.workload else { return };
        if self.workload_left == 0 || self.left {
            return;
        }
        if !self.joined {
            // Not part of a ring yet: a lookup would answer from an empty table.
            cx.start_timer(ChordTimer::Workload, self.config.rpc_timeout);
            return;
        }
        self.workload_left -= 1;
        let target = if w.keys == 0 {
            let mut bytes = [0u8; 20];
            cx.rng().fill(&mut bytes);
            Id::from_bytes(bytes)
        } else {
            let j = cx.rng().below(0, w.keys);
            Id::of_key(&j.to_be_bytes())
        };
        self.start_lookup(cx, target, Purpose::Workload, Vec::new());
        if self.workload_left > 0 {
            let wait = if w.poisson {
                Self::exponential(cx, w.interval)
            } else {
                w.interval
            };
            cx.start_timer(ChordTimer::Workload, wait);
        }
    }

    #[on_timer]
    fn rpc_timeout(&mut self, cx: &mut Cx<Self>, request: u32) {
        let Some(rpc) = self.rpcs.remove(&request) else {
            return;
        };
        self.stats.timeouts += 1;
        // Take the peer as failed and route around it.
        // A recursive lookup's silence may come from any node on its path: nobody is
        // taken as failed for it.
        let blame = rpc.kind != Kind::FindRecursive;
        if blame && rpc.peer.id != Id::ZERO && self.config.purge_on_timeout {
            self.table.remove(rpc.peer.id);
            if self.table.successor().id == self.table.me().id
                && self.config.bootstrap.is_some()
                && self.joined
            {
                // Every node we knew has failed: join again rather than answer for the
                // whole ring.
                self.joined = false;
                cx.start_timer(ChordTimer::Join, Duration::ZERO);
            }
        }
        if let Some(id) = rpc.lookup
            && let Some(lookup) = self.lookups.get_mut(&id)
        {
            lookup.timeouts = lookup.timeouts.saturating_add(1);
            if blame && lookup.dead.len() < 64 {
                lookup.dead.push(rpc.peer.id);
            }
            match rpc.kind {
                Kind::FindRecursive => {
                    // A hop on the way failed: go again, iteratively.
                    let target = lookup.target;
                    self.call(cx, rpc.peer, Kind::Find, target, Some(id), &[]);
                }
                Kind::Find => self.try_alternate(cx, id),
                Kind::Ping => self.reach_next_owner(cx, id),
                Kind::Put | Kind::Get => {
                    if let Some(lookup) = self.lookups.remove(&id) {
                        self.data_request(cx, id, lookup);
                    }
                }
                _ => {}
            }
        }
    }

    #[on_packet(port = "net")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        if self.left {
            return cx.drop_packet(pkt, "chord: node has left");
        }
        let Some(src) = pkt.meta().src else {
            return cx.drop_packet(pkt, "chord: datagram without a source");
        };
        let msg = match wire::decode(pkt.data()) {
            Ok(msg) => msg,
            Err(reason) => return cx.drop_packet(pkt, reason),
        };
        drop(pkt);
        // A message from our own id is a request to ourselves (the owner of a key we
        // look up may be this node): answered like any other.
        self.stats.received += 1;
        let from = Peer {
            id: msg.sender,
            addr: src,
        };
        self.answer(cx, from, &msg);
    }

    #[on_packet(port = "app")]
    fn request(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let req = match app::decode_request(pkt.data()) {
            Ok(req) => req,
            Err(reason) => return cx.drop_packet(pkt, reason),
        };
        drop(pkt);
        match req.op {
            AppOp::Leave => {
                self.leave_now(cx);
                let me = self.table.me();
                let reply = AppReply {
                    op: req.op,
                    status: AppStatus::Ok,
                    tag: req.tag,
                    key: me.id,
                    owner: Some(me),
                    hops: 0,
                    timeouts: 0,
                    value: Vec::new(),
                };
                self.app_reply(cx, &reply);
            }
            op => self.start_lookup(cx, req.key, Purpose::App(req.tag, op), req.value),
        }
    }
}
