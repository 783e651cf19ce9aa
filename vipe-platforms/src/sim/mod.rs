//! The built-in deterministic discrete-event simulator.
//!
//! Nodes are [`vipe_rt::Node`]s. They reach each other two ways:
//!
//! - **point-to-point links** ([`Simulator::link`]) carrying raw frames, with latency,
//!   bandwidth, a drop-tail queue and random loss — for L2/L3 protocols;
//! - **the datagram underlay** ([`Simulator::add_datagram_device`]): any node sends a
//!   datagram to any other node's `SocketAddr` (the address type of the Linux UDP backend
//!   and ns-3's UDP sockets, so the same protocol runs on all three), delayed by a
//!   [`DelayModel`] with loss, duplication and jitter — for distributed systems.
//!
//! Faults ([`Fault`], [`FaultSchedule`], [`churn`]) happen at simulated times; observers
//! ([`Simulator::observe_every`]) read every node's state and may stop the run. One event
//! queue ordered by (time, sequence) and one seeded RNG (plus one per node, derived from
//! the seed) make a run reproducible by construction: the same seed gives the same trace
//! and byte-identical pcaps.
//!
//! ```
//! use vipe_platforms::sim::{LinkConfig, Simulator};
//! use vipe_rt::{Duration, Instant};
//!
//! let mut sim = Simulator::new(42);
//! let a = sim.add_node();
//! let b = sim.add_node();
//! let link = sim.link(a, b, LinkConfig::default().latency(Duration::from_millis(5))).unwrap();
//! // ... add protocols to sim.node_mut(a) and attach them to link.a.device ...
//! let summary = sim.run_until(Instant::from_secs(1));
//! assert_eq!(summary.now, Instant::from_secs(1));
//! ```

mod buffers;
pub mod churn;
mod delay;
mod fault;
mod link;
mod observe;
pub mod scheduler;
pub mod topology;
mod trace;
mod underlay;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;
use vipe_rt::{DeviceId, DeviceKind, Duration, Instant, Node, NodeConfig, NodeId, NodeRng, Packet};

pub use delay::{
    DelayModel, DelaySpecError, LatencyMatrix, PLANE_SIDE, coordinates, parse_duration,
};
pub use fault::{Fault, FaultError, FaultSchedule, NodeState};
pub use link::{LinkConfig, LinkEnd};
pub use observe::{Control, MetricsCsv, SimView};
pub use trace::{TraceEvent, TraceKind, hash_bytes};
pub use underlay::{MAX_UNDERLAY_NODES, PathConfig, addr_node, node_addr, node_ip};

use crate::pcap::Capture;
use buffers::{FlightHeader, FlightRef, FlightStore};
use link::Link;
use observe::{Observer, ObserverFn};
use scheduler::{EventQueue, WheelQueue};
use trace::TraceSink;
use underlay::Underlay;

/// A link's id within the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// A link that was made: its id and the device created at each end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// The link.
    pub id: LinkId,
    /// The device on the first node.
    pub a: LinkEnd,
    /// The device on the second node.
    pub b: LinkEnd,
}

/// A datagram device on the underlay: the device and its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramEnd {
    /// The device, to attach a protocol's port to.
    pub device: DeviceId,
    /// Its address: where other nodes send datagrams for it (`meta().dst`).
    pub addr: SocketAddr,
}

/// A misconfigured experiment, caught before it runs; each says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// No node with this id.
    UnknownNode(NodeId),
    /// No device with this id on the node.
    UnknownDevice(NodeId, DeviceId),
    /// A link setting is out of range.
    BadLink(String),
    /// A node was linked to itself.
    SelfLink(NodeId),
    /// No link with this id.
    UnknownLink(LinkId),
    /// A fault that cannot happen (unknown node, node in the wrong state, ...).
    Fault(FaultError),
    /// The node already has a datagram device on this port.
    PortInUse(NodeId, u16),
    /// Too many nodes for the underlay's address range.
    TooManyNodes(u32),
    /// The node factory failed to build a node (its message).
    Factory(NodeId, String),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::UnknownNode(n) => write!(
                f,
                "node {} does not exist; use an id add_node() returned",
                n.0
            ),
            SimError::UnknownDevice(n, d) => {
                write!(
                    f,
                    "node {} has no device {}; capture a device that link() or add_datagram_device() created",
                    n.0, d.0
                )
            }
            SimError::BadLink(why) => write!(f, "bad link configuration: {why}"),
            SimError::SelfLink(n) => write!(
                f,
                "node {} cannot be linked to itself; link two different nodes",
                n.0
            ),
            SimError::UnknownLink(l) => {
                write!(f, "link {} does not exist; use an id link() returned", l.0)
            }
            SimError::Fault(e) => e.fmt(f),
            SimError::PortInUse(n, p) => write!(
                f,
                "node {} already has a datagram device on port {p}; pick another port",
                n.0
            ),
            SimError::TooManyNodes(n) => write!(
                f,
                "{n} nodes do not fit the underlay's address range (at most {MAX_UNDERLAY_NODES})"
            ),
            SimError::Factory(n, why) => {
                write!(f, "the node factory failed to build node {}: {why}", n.0)
            }
        }
    }
}

impl std::error::Error for SimError {}

impl From<FaultError> for SimError {
    fn from(e: FaultError) -> Self {
        SimError::Fault(e)
    }
}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Simulator events processed (node wake-ups, transmissions ending, arrivals, faults,
    /// observer calls).
    pub events: u64,
    /// Packets put on a link or the underlay (a duplicate counts once more).
    pub transmitted: u64,
    /// Packets delivered to a device.
    pub delivered: u64,
    /// Packets dropped, by reason: `"queue full"`, `"link loss"`, `"no link"`,
    /// `"link down"`, `"underlay loss"`, `"path down"`, `"partitioned"`, `"node down"`
    /// (sent to a crashed or departed node), `"no route"` (not an underlay address, no
    /// device on that port, or no destination), `"node crashed"` (frames queued on a
    /// crashing node's links).
    pub drops: BTreeMap<&'static str, u64>,
    /// Duplicate datagrams the underlay created.
    pub duplicated: u64,
    /// Nodes crashed.
    pub crashes: u64,
    /// Nodes restarted.
    pub restarts: u64,
    /// Nodes that left gracefully.
    pub leaves: u64,
    /// Nodes that joined after the start.
    pub joins: u64,
}

impl SimStats {
    /// Drops counted under `reason`.
    pub fn drops_for(&self, reason: &str) -> u64 {
        self.drops.get(reason).copied().unwrap_or(0)
    }
}

/// Why a run ended before its end time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// An observer returned [`Control::Stop`].
    Observer,
    /// A scheduled fault could not happen (e.g. the node was crashed by hand meanwhile).
    Fault(FaultError),
}

/// What a run reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// Simulated time at the end of the run.
    pub now: Instant,
    /// Events processed by this run.
    pub events: u64,
    /// Whether nothing is left to do.
    pub quiet: bool,
    /// Why the run stopped early, if it did.
    pub stopped: Option<StopReason>,
}

/// What the event queue holds: 12 bytes, so a queue entry is 32. An arrival names its
/// node as well as its packet so the simulator can prefetch both a few events ahead.
#[derive(Clone, Copy, Debug)]
enum EventKind {
    /// A node's deadline.
    Wake(u32),
    /// A link direction finished putting a packet on the wire.
    TxDone { link: u32, dir: u8 },
    /// A packet (parked in `Simulator::flights`, by its `FlightRef`) reaches a device.
    Arrive {
        /// The packet's `FlightRef`.
        flight: u32,
        /// The node it goes to.
        node: u32,
    },
    /// A scheduled fault (index into `Simulator::faults`).
    Fault(u32),
    /// An observer's turn (index into `Simulator::observers`).
    Observe(u32),
}

/// What a device of a simulated node is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
    None,
    Link(u32, u8),
    Datagram(u16),
}

struct SimNode {
    node: Node,
    /// The wake-up currently scheduled for this node, if any.
    wake: Option<Instant>,
    /// Per device: what it is bound to (the first inline).
    ports: SmallVec<[Binding; 1]>,
    state: NodeState,
    incarnation: u32,
}

/// Builds a node's protocols: called by [`Simulator::set_factory`]'s factory for a node
/// that joins or restarts.
pub struct NodeSetup<'a> {
    id: NodeId,
    incarnation: u32,
    now: Instant,
    node: &'a mut SimNode,
}

impl NodeSetup<'_> {
    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// How many times this node has been (re)built before: 0 for its first life.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }
    /// Simulated time now.
    pub fn now(&self) -> Instant {
        self.now
    }
    /// The fresh node, to add protocols to.
    pub fn node(&mut self) -> &mut Node {
        &mut self.node.node
    }
    /// The node's datagram device on `port`: the one it had before a restart, or a new
    /// one for a joining node.
    pub fn datagram_device(&mut self, port: u16) -> DatagramEnd {
        let existing = self
            .node
            .ports
            .iter()
            .position(|b| *b == Binding::Datagram(port));
        let device = match existing {
            Some(index) => DeviceId(index as u16),
            None => bind_datagram(self.node, port),
        };
        DatagramEnd {
            device,
            addr: node_addr(self.id, port),
        }
    }
}

fn bind_datagram(sim_node: &mut SimNode, port: u16) -> DeviceId {
    let name = format!("udp{port}");
    let device = sim_node.node.add_device(&name, DeviceKind::Datagram);
    let index = usize::from(device.0);
    if sim_node.ports.len() <= index {
        sim_node.ports.resize(index + 1, Binding::None);
    }
    sim_node.ports[index] = Binding::Datagram(port);
    device
}

/// Builds the protocols of a node that joins or restarts (see [`NodeSetup`]).
pub type NodeFactory = Box<dyn FnMut(&mut NodeSetup<'_>) -> Result<(), String>>;

/// The deterministic discrete-event simulator.
pub struct Simulator {
    seed: u64,
    now: Instant,
    rng: NodeRng,
    nodes: Vec<SimNode>,
    links: Vec<Link>,
    queue: WheelQueue<EventKind>,
    /// Packets on the wire (header and bytes in one record), parked here so queue
    /// entries stay small.
    flights: FlightStore,
    stats: SimStats,
    trace: TraceSink,
    captures: HashMap<(u32, u16), Capture, FxBuildHasher>,
    started: bool,
    underlay: Underlay,
    /// Partition island of each node (0: the mainland), once a partition happened.
    islands: Option<Vec<u32>>,
    next_island: u32,
    /// Scheduled faults not yet run, by index (taken when they run).
    faults: Vec<Option<(Instant, Fault)>>,
    factory: Option<NodeFactory>,
    observers: Vec<Observer>,
    /// Nodes handed out writable while running: their deadlines and transmits are
    /// picked up before the next event.
    dirty: Vec<u32>,
    stop: Option<StopReason>,
    /// One packet pool for every node: buffers freed by one node serve the next, and
    /// the free list stays hot in cache.
    pool: vipe_rt::PacketPool,
    progress: Option<ProgressHook>,
}

/// A callback told the simulated time now and then during a run (see
/// [`Simulator::set_progress`]).
struct ProgressHook {
    report: Box<dyn FnMut(Instant)>,
    every: std::time::Duration,
    last: std::time::Instant,
    countdown: u32,
}

impl ProgressHook {
    /// Events between two looks at the wall clock: reading it costs ~20 ns, so once per
    /// few thousand events keeps the hook's cost out of the measurements.
    const EVENTS_PER_CHECK: u32 = 4096;

    #[inline]
    fn tick(&mut self, now: Instant) {
        self.countdown -= 1;
        if self.countdown == 0 {
            self.countdown = Self::EVENTS_PER_CHECK;
            let wall = std::time::Instant::now();
            if wall.duration_since(self.last) >= self.every {
                self.last = wall;
                (self.report)(now);
            }
        }
    }
}

impl Simulator {
    /// An empty simulation whose randomness all derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Simulator {
            seed,
            now: Instant::ZERO,
            rng: NodeRng::seed_from_u64(mix(seed, u64::MAX)),
            nodes: Vec::new(),
            links: Vec::new(),
            queue: WheelQueue::default(),
            flights: FlightStore::default(),
            stats: SimStats::default(),
            trace: TraceSink::default(),
            captures: HashMap::default(),
            started: false,
            underlay: Underlay::default(),
            islands: None,
            next_island: 1,
            faults: Vec::new(),
            factory: None,
            observers: Vec::new(),
            dirty: Vec::new(),
            stop: None,
            pool: vipe_rt::PacketPool::new(256, 65_536),
            progress: None,
        }
    }

    /// Calls `report` with the simulated time during runs, at most once per `every` of
    /// wall time (the wall clock is read once per few thousand events, so a run of very
    /// slow events may report less often). For progress bars; the callback may stop the
    /// run by unwinding (`std::panic::resume_unwind`), as an experiment runner does on
    /// Ctrl-C. The end of each `run_*` call also counts as a chance to report.
    pub fn set_progress(
        &mut self,
        every: std::time::Duration,
        report: impl FnMut(Instant) + 'static,
    ) {
        self.progress = Some(ProgressHook {
            report: Box::new(report),
            every,
            last: std::time::Instant::now(),
            countdown: ProgressHook::EVENTS_PER_CHECK,
        });
    }

    /// At the end of a `run_*` call: a look at the wall clock, so that many short runs
    /// (a loop of `run_for(slice)`) still report.
    fn report_progress(&mut self) {
        if let Some(hook) = &mut self.progress {
            hook.countdown = 1;
            hook.tick(self.now);
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Simulated time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Sets the packet pool of nodes added from now on (all nodes share one): the size a
    /// buffer starts at (it grows for larger packets; default 256 bytes) and how many
    /// idle buffers the pool keeps (default 65 536).
    pub fn set_node_buffers(&mut self, buffer_size: usize, pool_limit: usize) {
        self.pool = vipe_rt::PacketPool::new(
            buffer_size.max(vipe_rt::packet::DEFAULT_HEADROOM),
            pool_limit,
        );
    }

    fn new_node(&self, id: NodeId, incarnation: u32) -> Node {
        let mut config = NodeConfig::new(id);
        config.seed = mix(self.seed, u64::from(id.0) | u64::from(incarnation) << 32);
        config.timer_resolution = Duration::from_nanos(1);
        config.pool = Some(self.pool.clone());
        Node::with_config(config)
    }

    /// Adds a node (ids count from 0); its RNG is seeded from the simulation's seed.
    /// A node added while the simulation runs starts at once, and protocols added to it
    /// through [`node_mut`](Self::node_mut) start then, with their first timers.
    pub fn add_node(&mut self) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let mut node = self.new_node(id, 0);
        if self.started {
            node.start(self.now);
        }
        self.nodes.push(SimNode {
            node,
            wake: None,
            ports: SmallVec::new(),
            state: NodeState::Up,
            incarnation: 0,
        });
        if self.started {
            self.record(id.0, DeviceId(0), TraceKind::Join, &[]);
            self.after_activity(id.0);
        }
        id
    }

    /// Number of nodes (every state).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A node, to add protocols and read results.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize).map(|n| &n.node)
    }

    /// A node, writable. While the simulation runs, what is done to it (protocols added,
    /// timers armed, packets sent) takes effect at the current time.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        let started = self.started;
        let now = self.now;
        let sim_node = self.nodes.get_mut(id.0 as usize)?;
        if started {
            sim_node.node.set_time(now);
            self.dirty.push(id.0);
        }
        Some(&mut sim_node.node)
    }

    /// Whether a node is up, crashed or gone.
    pub fn node_state(&self, id: NodeId) -> Option<NodeState> {
        self.nodes.get(id.0 as usize).map(|n| n.state)
    }

    /// How many times a node was restarted.
    pub fn incarnation(&self, id: NodeId) -> Option<u32> {
        self.nodes.get(id.0 as usize).map(|n| n.incarnation)
    }

    /// All nodes, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().map(|n| &n.node)
    }

    /// Links `a` and `b` with a point-to-point link, creating a frame device on each
    /// (named `eth0`, `eth1`, ... per node).
    pub fn link(&mut self, a: NodeId, b: NodeId, config: LinkConfig) -> Result<LinkInfo, SimError> {
        config.validate().map_err(SimError::BadLink)?;
        if a == b {
            return Err(SimError::SelfLink(a));
        }
        for n in [a, b] {
            if n.0 as usize >= self.nodes.len() {
                return Err(SimError::UnknownNode(n));
            }
        }
        let link_index = self.links.len() as u32;
        let mut end = |node: NodeId, dir: u8| {
            let sim_node = &mut self.nodes[node.0 as usize];
            let name = format!("eth{}", sim_node.node.devices().count());
            let device = sim_node.node.add_device(&name, DeviceKind::Frame);
            let index = usize::from(device.0);
            if sim_node.ports.len() <= index {
                sim_node.ports.resize(index + 1, Binding::None);
            }
            sim_node.ports[index] = Binding::Link(link_index, dir);
            LinkEnd { node, device }
        };
        let end_a = end(a, 0);
        let end_b = end(b, 1);
        self.links.push(Link::new(end_a, end_b, config));
        Ok(LinkInfo {
            id: LinkId(link_index),
            a: end_a,
            b: end_b,
        })
    }

    /// Number of links.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Gives `node` a datagram device on the underlay at `port`: datagrams sent on it go
    /// to `meta().dst`, and datagrams arrive on it with `meta().src` set.
    pub fn add_datagram_device(
        &mut self,
        node: NodeId,
        port: u16,
    ) -> Result<DatagramEnd, SimError> {
        if node.0 >= MAX_UNDERLAY_NODES {
            return Err(SimError::TooManyNodes(node.0 + 1));
        }
        let sim_node = self
            .nodes
            .get_mut(node.0 as usize)
            .ok_or(SimError::UnknownNode(node))?;
        if sim_node.ports.contains(&Binding::Datagram(port)) {
            return Err(SimError::PortInUse(node, port));
        }
        let device = bind_datagram(sim_node, port);
        Ok(DatagramEnd {
            device,
            addr: node_addr(node, port),
        })
    }

    /// Sets how the underlay treats every path that has no settings of its own.
    pub fn set_underlay(&mut self, config: PathConfig) -> Result<(), SimError> {
        config.validate().map_err(SimError::BadLink)?;
        self.underlay.global = config;
        Ok(())
    }

    /// Gives the path between `a` and `b` (both ways) its own settings.
    pub fn set_path(&mut self, a: NodeId, b: NodeId, config: PathConfig) -> Result<(), SimError> {
        self.check_pair(a, b)?;
        config.validate().map_err(SimError::BadLink)?;
        self.underlay.pair_mut(a.0, b.0).config = Some(config);
        Ok(())
    }

    /// Takes the path between `a` and `b` down or up.
    pub fn set_path_up(&mut self, a: NodeId, b: NodeId, up: bool) -> Result<(), SimError> {
        self.check_pair(a, b)?;
        self.underlay.pair_mut(a.0, b.0).down = !up;
        self.underlay.tidy(a.0, b.0);
        Ok(())
    }

    fn check_pair(&self, a: NodeId, b: NodeId) -> Result<(), SimError> {
        for n in [a, b] {
            if n.0 as usize >= self.nodes.len() {
                return Err(SimError::UnknownNode(n));
            }
        }
        if a == b {
            return Err(SimError::SelfLink(a));
        }
        Ok(())
    }

    /// Takes a point-to-point link down or up.
    pub fn set_link_up(&mut self, link: LinkId, up: bool) -> Result<(), SimError> {
        let l = self
            .links
            .get_mut(link.0 as usize)
            .ok_or(SimError::UnknownLink(link))?;
        l.up = up;
        Ok(())
    }

    /// Changes a link's settings (from now on; frames on the wire keep their timing).
    pub fn change_link(&mut self, link: LinkId, config: LinkConfig) -> Result<(), SimError> {
        config.validate().map_err(SimError::BadLink)?;
        let l = self
            .links
            .get_mut(link.0 as usize)
            .ok_or(SimError::UnknownLink(link))?;
        l.config = config;
        Ok(())
    }

    /// Cuts `nodes` off from every other node (links and underlay); they still reach
    /// each other. Another partition adds another island.
    pub fn partition(&mut self, nodes: &[NodeId]) -> Result<(), SimError> {
        if let Some(n) = nodes.iter().find(|n| n.0 as usize >= self.nodes.len()) {
            return Err(SimError::UnknownNode(*n));
        }
        let count = self.nodes.len();
        let islands = self.islands.get_or_insert_with(Vec::new);
        islands.resize(count, 0);
        for n in nodes {
            islands[n.0 as usize] = self.next_island;
        }
        self.next_island += 1;
        Ok(())
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.islands = None;
        self.next_island = 1;
    }

    #[inline]
    fn partitioned(&self, a: u32, b: u32) -> bool {
        match &self.islands {
            None => false,
            Some(islands) => {
                let island = |n: u32| islands.get(n as usize).copied().unwrap_or(0);
                island(a) != island(b)
            }
        }
    }

    /// Sets the factory that builds the protocols of nodes that join or restart.
    pub fn set_factory(
        &mut self,
        factory: impl FnMut(&mut NodeSetup<'_>) -> Result<(), String> + 'static,
    ) {
        self.factory = Some(Box::new(factory));
    }

    /// Crashes a node now: no `on_stop`, its protocols, timers and queued packets are
    /// gone, and packets sent to it are dropped as `"node down"`.
    pub fn crash(&mut self, id: NodeId) -> Result<(), SimError> {
        self.apply(Fault::Crash(id))
    }

    /// Restarts a crashed or departed node now, as a fresh instance from the factory.
    pub fn restart(&mut self, id: NodeId) -> Result<(), SimError> {
        self.apply(Fault::Restart(id))
    }

    /// Lets a node leave now: its `on_stop` handlers run and what they send goes out.
    pub fn leave(&mut self, id: NodeId) -> Result<(), SimError> {
        self.apply(Fault::Leave(id))
    }

    /// Adds a node now, built by the factory. Returns its id.
    pub fn join(&mut self) -> Result<NodeId, SimError> {
        self.apply(Fault::Join)?;
        Ok(NodeId(self.nodes.len() as u32 - 1))
    }

    /// Checks `schedule` against the nodes and links there are and the faults already
    /// scheduled, then schedules it. On error nothing is scheduled; the message names the
    /// step's time, the fault and what to change.
    pub fn schedule(&mut self, schedule: FaultSchedule) -> Result<(), SimError> {
        let pending: Vec<(Instant, Fault)> = self.faults.iter().flatten().cloned().collect();
        fault::check_schedule(
            fault::World {
                states: self.nodes.iter().map(|n| n.state).collect(),
                links: self.links.len(),
                has_factory: self.factory.is_some(),
                now: self.now,
                pending: &pending,
            },
            &schedule,
        )?;
        for (time, fault) in schedule.steps {
            let index = self.faults.len() as u32;
            self.faults.push(Some((time, fault)));
            self.queue.push(time, EventKind::Fault(index));
        }
        Ok(())
    }

    /// Applies one fault now (after checking it).
    fn apply(&mut self, fault: Fault) -> Result<(), SimError> {
        let mut states: Vec<NodeState> = self.nodes.iter().map(|n| n.state).collect();
        fault::check_step(
            &mut states,
            self.links.len(),
            self.factory.is_some(),
            self.now,
            &fault,
        )?;
        match fault {
            Fault::LinkDown(l) => self.set_link_up(l, false),
            Fault::LinkUp(l) => self.set_link_up(l, true),
            Fault::LinkChange(l, config) => self.change_link(l, config),
            Fault::PathDown(a, b) => self.set_path_up(a, b, false),
            Fault::PathUp(a, b) => self.set_path_up(a, b, true),
            Fault::PathChange(a, b, config) => self.set_path(a, b, config),
            Fault::Partition(nodes) => self.partition(&nodes),
            Fault::Heal => {
                self.heal();
                Ok(())
            }
            Fault::Crash(n) => {
                self.do_crash(n.0);
                Ok(())
            }
            Fault::Leave(n) => {
                self.do_leave(n.0);
                Ok(())
            }
            Fault::Restart(n) => self.rebuild(n.0, TraceKind::Restart),
            Fault::Join => {
                let id = NodeId(self.nodes.len() as u32);
                if id.0 >= MAX_UNDERLAY_NODES {
                    return Err(SimError::TooManyNodes(id.0 + 1));
                }
                let node = self.new_node(id, 0);
                self.nodes.push(SimNode {
                    node,
                    wake: None,
                    ports: SmallVec::new(),
                    state: NodeState::Crashed,
                    incarnation: 0,
                });
                self.rebuild(id.0, TraceKind::Join)
            }
        }
    }

    /// A node like `old` with the same devices and nothing else.
    fn blank(&self, id: u32, incarnation: u32) -> Node {
        let old = &self.nodes[id as usize].node;
        let mut fresh = self.new_node(NodeId(id), incarnation);
        for (_, name, kind) in old.devices() {
            fresh.add_device(name, kind);
        }
        fresh
    }

    fn do_crash(&mut self, id: u32) {
        let incarnation = self.nodes[id as usize].incarnation;
        let blank = self.blank(id, incarnation);
        let sim_node = &mut self.nodes[id as usize];
        sim_node.node = blank;
        sim_node.wake = None;
        sim_node.state = NodeState::Crashed;
        // Frames waiting on its links' transmit queues die with it.
        let mut lost = 0;
        for binding in &sim_node.ports {
            if let Binding::Link(link, dir) = *binding {
                let queue = &mut self.links[link as usize].channels[usize::from(dir)].queue;
                lost += queue.len() as u64;
                queue.clear();
            }
        }
        if lost > 0 {
            *self.stats.drops.entry("node crashed").or_insert(0) += lost;
        }
        self.stats.crashes += 1;
        self.record(id, DeviceId(0), TraceKind::Crash, &[]);
    }

    fn do_leave(&mut self, id: u32) {
        let now = self.now;
        self.nodes[id as usize].node.stop(now);
        self.drain_transmits(id);
        let sim_node = &mut self.nodes[id as usize];
        sim_node.wake = None;
        sim_node.state = NodeState::Left;
        self.stats.leaves += 1;
        self.record(id, DeviceId(0), TraceKind::Leave, &[]);
    }

    /// Builds node `id` afresh with the factory and starts it (a restart or a join).
    fn rebuild(&mut self, id: u32, kind: TraceKind) -> Result<(), SimError> {
        let Some(mut factory) = self.factory.take() else {
            return Err(SimError::Factory(
                NodeId(id),
                "no factory; call Simulator::set_factory first".into(),
            ));
        };
        let incarnation = match kind {
            TraceKind::Join => 0,
            _ => self.nodes[id as usize].incarnation + 1,
        };
        let blank = self.blank(id, incarnation);
        let now = self.now;
        let sim_node = &mut self.nodes[id as usize];
        sim_node.node = blank;
        sim_node.wake = None;
        sim_node.incarnation = incarnation;
        let built = factory(&mut NodeSetup {
            id: NodeId(id),
            incarnation,
            now,
            node: sim_node,
        });
        self.factory = Some(factory);
        built.map_err(|why| SimError::Factory(NodeId(id), why))?;
        let sim_node = &mut self.nodes[id as usize];
        sim_node.state = NodeState::Up;
        if kind == TraceKind::Join {
            self.stats.joins += 1;
        } else {
            self.stats.restarts += 1;
        }
        self.record(id, DeviceId(0), kind, &[]);
        if self.started {
            self.nodes[id as usize].node.start(now);
            self.after_activity(id);
        }
        Ok(())
    }

    /// Calls `observer` at simulated time `at`.
    pub fn observe_at(
        &mut self,
        at: Instant,
        observer: impl FnMut(&SimView<'_>) -> Control + 'static,
    ) {
        self.add_observer(at, None, Box::new(observer));
    }

    /// Calls `observer` at `first` and then every `interval`.
    pub fn observe_every(
        &mut self,
        first: Instant,
        interval: Duration,
        observer: impl FnMut(&SimView<'_>) -> Control + 'static,
    ) {
        let interval = interval.max(Duration::from_nanos(1));
        self.add_observer(first, Some(interval), Box::new(observer));
    }

    fn add_observer(&mut self, at: Instant, every: Option<Duration>, f: ObserverFn) {
        let index = self.observers.len() as u32;
        self.observers.push(Observer { f: Some(f), every });
        self.queue.push(at.max(self.now), EventKind::Observe(index));
    }

    /// Writes every frame sent or received on `device` of `node` to a pcap file at `path`
    /// (streamed: memory stays flat however long the run). A link's device is captured
    /// as Ethernet; a datagram device as raw IPv4, each datagram behind the IPv4 and UDP
    /// headers it would carry between the two node addresses. The sender's capture has
    /// what it sent (lost ones included), the receiver's what arrived.
    pub fn capture(
        &mut self,
        node: NodeId,
        device: DeviceId,
        path: impl AsRef<Path>,
    ) -> Result<(), CaptureError> {
        let sim_node = self
            .nodes
            .get(node.0 as usize)
            .ok_or(CaptureError::Sim(SimError::UnknownNode(node)))?;
        let datagrams = match sim_node.node.devices().nth(usize::from(device.0)) {
            None => return Err(CaptureError::Sim(SimError::UnknownDevice(node, device))),
            Some((_, _, kind)) => kind == DeviceKind::Datagram,
        };
        let capture = if datagrams {
            Capture::create_datagrams(path.as_ref())
        } else {
            Capture::create(path.as_ref())
        }
        .map_err(|e| CaptureError::Io(path.as_ref().display().to_string(), e))?;
        self.captures.insert((node.0, device.0), capture);
        Ok(())
    }

    /// Records every packet event in memory; read it with [`trace`](Self::trace). For
    /// long runs use [`stream_trace`](Self::stream_trace) or
    /// [`enable_digest`](Self::enable_digest) instead.
    pub fn enable_trace(&mut self) {
        self.trace.keep_in_memory();
    }

    /// Writes every packet event to a text file at `path`, one line each, as it happens.
    pub fn stream_trace(&mut self, path: impl AsRef<Path>) -> io::Result<()> {
        self.trace.stream_to(path.as_ref())
    }

    /// Folds every packet event, in order, into a 64-bit digest (see
    /// [`trace_digest`](Self::trace_digest)): equal digests, equal runs.
    pub fn enable_digest(&mut self) {
        self.trace.enable_digest();
    }

    /// The digest of the events so far, if enabled.
    pub fn trace_digest(&self) -> Option<u64> {
        self.trace.digest()
    }

    /// The recorded trace (empty unless enabled).
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.memory.as_deref().unwrap_or(&[])
    }

    /// Counters of the run so far.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Events waiting in the queue.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Writes every capture and the streamed trace out and closes the captures (later
    /// frames are not captured).
    pub fn finish_captures(&mut self) -> io::Result<()> {
        for capture in self.captures.values_mut() {
            capture.finish()?;
        }
        self.trace.flush()
    }

    /// Runs every event up to and including `end`; time is then `end` (unless an
    /// observer or a failing fault stopped the run earlier: see `stopped`).
    pub fn run_until(&mut self, end: Instant) -> RunSummary {
        let mut summary = self.run_loop(end);
        if summary.stopped.is_none() {
            self.now = self.now.max(end);
            summary.now = self.now;
        }
        self.report_progress();
        summary
    }

    /// Runs for `duration` of simulated time from now.
    pub fn run_for(&mut self, duration: Duration) -> RunSummary {
        let end = self.now + duration;
        self.run_until(end)
    }

    /// Runs until nothing is scheduled, or until `limit` if that comes first (a periodic
    /// timer keeps a simulation busy forever).
    pub fn run_until_quiet(&mut self, limit: Instant) -> RunSummary {
        let summary = self.run_loop(limit);
        self.report_progress();
        summary
    }

    fn run_loop(&mut self, end: Instant) -> RunSummary {
        self.start();
        self.take_dirty();
        self.stop = None;
        let before = self.stats.events;
        while let Some(next) = self.queue.peek_time() {
            if next > end {
                break;
            }
            self.step();
            if self.stop.is_some() {
                break;
            }
        }
        RunSummary {
            now: self.now,
            events: self.stats.events - before,
            quiet: self.queue.is_empty(),
            stopped: self.stop.take(),
        }
    }

    /// Stops every running node (their `#[on_stop]` handlers run) and closes the captures.
    pub fn stop(&mut self) -> io::Result<()> {
        for index in 0..self.nodes.len() {
            if self.nodes[index].state == NodeState::Up {
                self.nodes[index].node.stop(self.now);
                self.drain_transmits(index as u32);
            }
        }
        self.finish_captures()
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        for index in 0..self.nodes.len() {
            if self.nodes[index].state == NodeState::Up {
                self.nodes[index].node.start(self.now);
                self.after_activity(index as u32);
            }
        }
    }

    fn take_dirty(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for &node in &dirty {
            if self.nodes[node as usize].state == NodeState::Up {
                self.after_activity(node);
            }
        }
        dirty.clear();
        self.dirty = dirty;
    }

    fn step(&mut self) {
        let Some((time, kind)) = self.queue.pop() else {
            return;
        };
        self.prefetch_ahead();
        self.now = time;
        self.stats.events += 1;
        if let Some(hook) = &mut self.progress {
            hook.tick(time);
        }
        match kind {
            EventKind::Wake(node) => {
                let sim_node = &mut self.nodes[node as usize];
                if sim_node.wake != Some(time) {
                    return; // superseded by an earlier wake-up, or the node went down
                }
                sim_node.wake = None;
                sim_node.node.handle_timeout(time);
                self.after_activity(node);
            }
            EventKind::TxDone { link, dir } => {
                let channel = &mut self.links[link as usize].channels[usize::from(dir)];
                channel.busy = false;
                if let Some(packet) = channel.queue.pop_front() {
                    self.start_transmission(link, dir, packet);
                }
            }
            EventKind::Arrive { flight, .. } => self.arrive(flight),
            EventKind::Fault(index) => {
                let Some((_, fault)) = self.faults[index as usize].take() else {
                    return;
                };
                let text = fault.to_string();
                if let Err(error) = self.apply(fault) {
                    let error = match error {
                        SimError::Fault(e) => e,
                        other => FaultError {
                            time,
                            fault: text,
                            reason: other.to_string(),
                        },
                    };
                    tracing::error!(%error, "scheduled fault failed; run stopped");
                    self.stop = Some(StopReason::Fault(error));
                }
                if self.faults.iter().all(Option::is_none) {
                    self.faults.clear();
                }
            }
            EventKind::Observe(index) => {
                let Some(mut f) = self.observers[index as usize].f.take() else {
                    return;
                };
                let control = f(&SimView { sim: self });
                let observer = &mut self.observers[index as usize];
                observer.f = Some(f);
                if control == Control::Stop {
                    self.stop = Some(StopReason::Observer);
                }
                if let Some(every) = observer.every {
                    self.queue.push(time + every, EventKind::Observe(index));
                }
            }
        }
    }

    /// Starts loading what the next two events will touch, so their cache misses overlap
    /// this event's work instead of following it: with 10^6 nodes every arrival goes to
    /// a random node's record, its protocol box and a random packet record, each a miss.
    /// Two ahead: the packet record and the node record; one ahead: the protocol box
    /// (its address is in the node record fetched one event earlier). Only a hint: an
    /// event scheduled meanwhile may come first, which costs nothing but the hint.
    #[inline]
    fn prefetch_ahead(&self) {
        let (next, after) = self.queue.lookahead();
        if let Some(EventKind::Arrive { flight, node }) = after {
            self.flights.prefetch(FlightRef(flight));
            if let Some(n) = self.nodes.get(node as usize) {
                prefetch_lines(n);
            }
        }
        match next {
            Some(EventKind::Arrive { node, .. }) | Some(EventKind::Wake(node)) => {
                if let Some(addr) = self
                    .nodes
                    .get(node as usize)
                    .and_then(|n| n.node.hot_state_addr())
                {
                    prefetch_addr(addr);
                    prefetch_addr(addr.wrapping_add(64));
                }
            }
            _ => {}
        }
    }

    fn arrive(&mut self, slot: u32) {
        let flight = FlightRef(slot);
        let (header, bytes) = self.flights.get(flight);
        let FlightHeader {
            to_node,
            from,
            to,
            from_port,
            datagram,
            hash,
        } = header;
        let sim_node = &self.nodes[to_node as usize];
        let to_dev = if datagram {
            sim_node
                .ports
                .iter()
                .position(|b| *b == Binding::Datagram(to))
                .map(|d| d as u16)
        } else {
            Some(to)
        };
        let device = DeviceId(to_dev.unwrap_or(0));
        let drop_reason = match () {
            _ if sim_node.state != NodeState::Up => Some(("node down", TraceKind::NodeDown)),
            _ if to_dev.is_none() => Some(("no route", TraceKind::NoRoute)),
            _ if !datagram && !self.links[from as usize].up => {
                Some(("link down", TraceKind::LinkDown))
            }
            _ => None,
        };
        let now = self.now;
        if self.trace.active {
            let kind = drop_reason.map_or(TraceKind::Receive, |(_, kind)| kind);
            self.trace.record(TraceEvent::hashed(
                now,
                NodeId(to_node),
                device,
                kind,
                bytes.len(),
                hash.unwrap_or_else(|| hash_bytes(bytes)),
            ));
        }
        if let Some((reason, _)) = drop_reason {
            self.flights.release(flight);
            self.count_drop(reason);
            return;
        }
        self.stats.delivered += 1;
        if !self.captures.is_empty()
            && let Some(capture) = self.captures.get_mut(&(to_node, device.0))
        {
            if datagram {
                let (src, dst) = (
                    node_addr(NodeId(from), from_port),
                    node_addr(NodeId(to_node), to),
                );
                capture.write_datagram(now, src, dst, bytes);
            } else {
                capture.write(now, bytes);
            }
        }
        let mut packet = self.pool.alloc();
        packet.put_slice(bytes);
        self.flights.release(flight);
        if datagram {
            let meta = packet.meta_mut();
            meta.src = Some(node_addr(NodeId(from), from_port));
            meta.dst = Some(node_addr(NodeId(to_node), to));
        }
        let sim_node = &mut self.nodes[to_node as usize];
        sim_node.node.handle_input(now, device, packet);
        self.after_activity(to_node);
    }

    /// After a node ran: send what it transmitted and schedule its next wake-up.
    #[inline]
    fn after_activity(&mut self, node: u32) {
        self.drain_transmits(node);
        let sim_node = &mut self.nodes[node as usize];
        if let Some(deadline) = sim_node.node.next_deadline() {
            let deadline = deadline.max(self.now);
            if sim_node.wake.is_none_or(|w| deadline < w) {
                sim_node.wake = Some(deadline);
                self.queue.push(deadline, EventKind::Wake(node));
            }
        }
    }

    #[inline]
    fn drain_transmits(&mut self, node: u32) {
        if self.nodes[node as usize].node.pending_transmits() == 0 {
            return;
        }
        while let Some(tx) = self.nodes[node as usize].node.poll_transmit() {
            let binding = self.nodes[node as usize]
                .ports
                .get(usize::from(tx.device.0))
                .copied()
                .unwrap_or(Binding::None);
            match binding {
                Binding::Link(link, dir) => self.enqueue(link, dir, tx.packet),
                Binding::Datagram(port) => self.send_datagram(node, tx.device, port, tx.packet),
                Binding::None => {
                    self.record(node, tx.device, TraceKind::NoLink, tx.packet.data());
                    self.count_drop("no link");
                }
            }
        }
    }

    /// Puts a datagram on the underlay.
    fn send_datagram(&mut self, from: u32, device: DeviceId, port: u16, packet: Packet) {
        // Hashed once for every trace event of this datagram.
        let hash = self.trace_hash(packet.data());
        let len = packet.len();
        let target = packet.meta().dst.and_then(|dst| {
            let to = addr_node(dst)?;
            ((to.0 as usize) < self.nodes.len()).then_some((to.0, dst.port()))
        });
        let Some((to, to_port)) = target else {
            self.record_hashed(from, device, TraceKind::NoRoute, len, hash);
            self.count_drop("no route");
            return;
        };
        self.stats.transmitted += 1;
        self.record_hashed(from, device, TraceKind::Transmit, len, hash);
        if !self.captures.is_empty()
            && let Some(capture) = self.captures.get_mut(&(from, device.0))
            && let Some(dst) = packet.meta().dst
        {
            capture.write_datagram(self.now, node_addr(NodeId(from), port), dst, packet.data());
        }
        if self.partitioned(from, to) {
            self.record_hashed(from, device, TraceKind::Partitioned, len, hash);
            self.count_drop("partitioned");
            return;
        }
        let (path, down) = self.underlay.path(from, to);
        if down {
            self.record_hashed(from, device, TraceKind::LinkDown, len, hash);
            self.count_drop("path down");
            return;
        }
        let (loss, duplicate, jitter) = (path.loss, path.duplicate, path.jitter);
        if self.rng.chance(loss) {
            self.record_hashed(from, device, TraceKind::Lost, len, hash);
            self.count_drop("underlay loss");
            return;
        }
        let copies = if self.rng.chance(duplicate) { 2 } else { 1 };
        for copy in 0..copies {
            let (path, _) = self.underlay.path(from, to);
            let mut delay = path.delay.sample(from, to, self.seed, &mut self.rng);
            if !jitter.is_zero() {
                delay += Duration::from_nanos(self.rng.below(0, jitter.as_nanos() + 1));
            }
            if copy == 1 {
                self.stats.duplicated += 1;
                self.stats.transmitted += 1;
                self.record_hashed(from, device, TraceKind::Duplicated, len, hash);
            }
            let flight = self.flights.store(
                FlightHeader {
                    to_node: to,
                    from,
                    to: to_port,
                    from_port: port,
                    datagram: true,
                    hash: self.trace.active.then_some(hash),
                },
                packet.data(),
            );
            self.queue.push(
                self.now + delay,
                EventKind::Arrive {
                    flight: flight.0,
                    node: to,
                },
            );
        }
    }

    fn enqueue(&mut self, link: u32, dir: u8, packet: Packet) {
        let l = &mut self.links[link as usize];
        let limit = l.config.queue_limit;
        let channel = &mut l.channels[usize::from(dir)];
        if !channel.busy {
            self.start_transmission(link, dir, packet);
        } else if channel.queue.len() < limit {
            channel.queue.push_back(packet);
        } else {
            let from = channel.from;
            self.record(
                from.node.0,
                from.device,
                TraceKind::QueueDrop,
                packet.data(),
            );
            self.count_drop("queue full");
        }
    }

    fn start_transmission(&mut self, link: u32, dir: u8, packet: Packet) {
        let now = self.now;
        let l = &mut self.links[link as usize];
        let config = l.config;
        let up = l.up;
        let channel = &mut l.channels[usize::from(dir)];
        channel.busy = true;
        let (from, to) = (channel.from, channel.to);
        let done = now + config.serialisation_delay(packet.len());
        self.stats.transmitted += 1;
        // Hashed once for every trace event of this frame, the arrival's included.
        let hash = self.trace_hash(packet.data());
        let len = packet.len();
        let (node, device) = (from.node.0, from.device);
        self.record_hashed(node, device, TraceKind::Transmit, len, hash);
        if !self.captures.is_empty()
            && let Some(capture) = self.captures.get_mut(&(from.node.0, from.device.0))
        {
            capture.write(now, packet.data());
        }
        self.queue.push(done, EventKind::TxDone { link, dir });
        if !up {
            self.record_hashed(node, device, TraceKind::LinkDown, len, hash);
            self.count_drop("link down");
        } else if self.partitioned(from.node.0, to.node.0) {
            self.record_hashed(node, device, TraceKind::Partitioned, len, hash);
            self.count_drop("partitioned");
        } else if self.rng.chance(config.loss) {
            self.record_hashed(node, device, TraceKind::Lost, len, hash);
            self.count_drop("link loss");
        } else {
            let flight = self.flights.store(
                FlightHeader {
                    to_node: to.node.0,
                    from: link,
                    to: to.device.0,
                    from_port: 0,
                    datagram: false,
                    hash: self.trace.active.then_some(hash),
                },
                packet.data(),
            );
            self.queue.push(
                done + config.latency,
                EventKind::Arrive {
                    flight: flight.0,
                    node: to.node.0,
                },
            );
        }
    }

    fn count_drop(&mut self, reason: &'static str) {
        *self.stats.drops.entry(reason).or_insert(0) += 1;
    }

    #[inline]
    fn record(&mut self, node: u32, device: DeviceId, kind: TraceKind, bytes: &[u8]) {
        if self.trace.active {
            let hash = hash_bytes(bytes);
            self.record_hashed(node, device, kind, bytes.len(), hash);
        }
    }

    /// The hash trace events of `bytes` carry (0 when nothing is traced: not computed).
    #[inline]
    fn trace_hash(&self, bytes: &[u8]) -> u64 {
        if self.trace.active {
            hash_bytes(bytes)
        } else {
            0
        }
    }

    #[inline]
    fn record_hashed(
        &mut self,
        node: u32,
        device: DeviceId,
        kind: TraceKind,
        len: usize,
        hash: u64,
    ) {
        if self.trace.active {
            self.trace.record(TraceEvent::hashed(
                self.now,
                NodeId(node),
                device,
                kind,
                len,
                hash,
            ));
        }
    }
}

/// Why a capture could not be set up.
#[derive(Debug)]
pub enum CaptureError {
    /// The node or device does not exist.
    Sim(SimError),
    /// The file could not be created (path, error).
    Io(String, io::Error),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Sim(e) => e.fmt(f),
            CaptureError::Io(path, e) => write!(f, "cannot create capture file {path}: {e}"),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Hints the CPU to start loading `value`'s cache lines.
#[inline(always)]
fn prefetch_lines<T>(value: &T) {
    let start = (value as *const T).cast::<u8>();
    let mut offset = 0;
    while offset < std::mem::size_of::<T>() {
        prefetch_addr(start.wrapping_add(offset));
        offset += 64;
    }
}

/// Hints the CPU to start loading the cache line at `addr` (a no-op but on x86-64).
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch_addr(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults and reads nothing architecturally,
    // whatever the address; SSE (which it needs) is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// SplitMix64 finaliser: derives independent seeds for each node from one seed.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod progress_tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn progress_reports_simulated_time_and_is_throttled_by_wall_time() {
        let mut sim = Simulator::new(1);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&seen);
        sim.set_progress(std::time::Duration::ZERO, move |t| {
            sink.borrow_mut().push(t)
        });
        sim.run_for(vipe_rt::Duration::from_secs(3));
        assert_eq!(*seen.borrow(), [Instant::from_secs(3)]);

        let mut sim = Simulator::new(1);
        let calls = Rc::new(RefCell::new(0));
        let sink = Rc::clone(&calls);
        sim.set_progress(std::time::Duration::from_secs(3600), move |_| {
            *sink.borrow_mut() += 1
        });
        for _ in 0..100 {
            sim.run_for(vipe_rt::Duration::from_millis(1));
        }
        assert_eq!(*calls.borrow(), 0, "an hour of wall time has not passed");
    }
}
