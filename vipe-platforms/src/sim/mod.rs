//! The built-in deterministic discrete-event simulator.
//!
//! Nodes are [`vipe_rt::Node`]s; links are point-to-point with latency, bandwidth, a
//! drop-tail queue and random loss. One event queue ordered by (time, sequence) and one
//! seeded RNG (plus one per node, derived from the seed) make a run reproducible by
//! construction: the same seed gives the same trace and byte-identical pcaps.
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

mod link;

mod trace;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::io;
use std::path::Path;

use vipe_rt::{DeviceId, DeviceKind, Instant, Node, NodeConfig, NodeId, NodeRng, Packet};

pub use link::{LinkConfig, LinkEnd};
pub use trace::{TraceEvent, TraceKind};

use crate::pcap::Capture;
use link::Link;

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

/// A misconfigured experiment, caught before it runs; each says what to change.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// No node with this id.
    UnknownNode(NodeId),
    /// No device with this id on the node.
    UnknownDevice(NodeId, DeviceId),
    /// A link setting is out of range.
    BadLink(String),
    /// A node was linked to itself.
    SelfLink(NodeId),
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
                    "node {} has no device {}; capture a device that link() created",
                    n.0, d.0
                )
            }
            SimError::BadLink(why) => write!(f, "bad link configuration: {why}"),
            SimError::SelfLink(n) => write!(
                f,
                "node {} cannot be linked to itself; link two different nodes",
                n.0
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Simulator events processed (node wake-ups, transmissions ending, arrivals).
    pub events: u64,
    /// Packets put on a link.
    pub transmitted: u64,
    /// Packets delivered to a device.
    pub delivered: u64,
    /// Packets the links dropped, by reason (`"queue full"`, `"link loss"`, `"no link"`).
    pub drops: BTreeMap<&'static str, u64>,
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
}

#[derive(Debug)]
enum EventKind {
    /// A node's deadline.
    Wake(u32),
    /// A link direction finished putting a packet on the wire.
    TxDone { link: u32, dir: u8 },
    /// A packet (parked in `Simulator::in_flight`) reaches a device.
    Arrive {
        node: u32,
        device: DeviceId,
        slot: u32,
    },
}

/// An event in the queue. Time and sequence are packed into one `u128` (time in the high
/// half) so that ordering the heap is one wide comparison; the sequence breaks ties in
/// the order events were scheduled, which is what makes runs deterministic.
#[derive(Debug)]
struct Scheduled {
    order: u128,
    kind: EventKind,
}

impl Scheduled {
    #[inline]
    fn time(&self) -> Instant {
        Instant::from_nanos((self.order >> 64) as u64)
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order.cmp(&other.order)
    }
}

struct SimNode {
    node: Node,
    /// The wake-up currently scheduled for this node, if any.
    wake: Option<Instant>,
    /// Per device: the link and direction it transmits on, and its capture.
    ports: Vec<DevicePort>,
}

#[derive(Default)]
struct DevicePort {
    link: Option<(u32, u8)>,
    capture: Option<Capture>,
}

/// The deterministic discrete-event simulator.
pub struct Simulator {
    seed: u64,
    now: Instant,
    rng: NodeRng,
    nodes: Vec<SimNode>,
    links: Vec<Link>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// Packets on the wire, parked here so heap entries stay small.
    in_flight: Vec<Option<Packet>>,
    free_slots: Vec<u32>,
    seq: u64,
    stats: SimStats,
    trace: Option<Vec<TraceEvent>>,
    started: bool,
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
            queue: BinaryHeap::new(),
            in_flight: Vec::new(),
            free_slots: Vec::new(),
            seq: 0,
            stats: SimStats::default(),
            trace: None,
            started: false,
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

    /// Adds a node (ids count from 0); its RNG is seeded from the simulation's seed.
    pub fn add_node(&mut self) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let mut config = NodeConfig::new(id);
        config.seed = mix(self.seed, u64::from(id.0));
        config.timer_resolution = vipe_rt::Duration::from_nanos(1);
        let mut node = Node::with_config(config);
        if self.started {
            node.start(self.now);
        }
        self.nodes.push(SimNode {
            node,
            wake: None,
            ports: Vec::new(),
        });
        if self.started {
            self.after_activity(id.0);
        }
        id
    }

    /// A node, to add protocols and read results.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize).map(|n| &n.node)
    }

    /// A node, writable.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.nodes.get_mut(id.0 as usize).map(|n| &mut n.node)
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
                sim_node.ports.resize_with(index + 1, DevicePort::default);
            }
            sim_node.ports[index].link = Some((link_index, dir));
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

    /// Writes every frame sent or received on `device` of `node` to a pcap file at `path`.
    pub fn capture(
        &mut self,
        node: NodeId,
        device: DeviceId,
        path: impl AsRef<Path>,
    ) -> Result<(), CaptureError> {
        let sim_node = self
            .nodes
            .get_mut(node.0 as usize)
            .ok_or(CaptureError::Sim(SimError::UnknownNode(node)))?;
        if sim_node.node.devices().nth(usize::from(device.0)).is_none() {
            return Err(CaptureError::Sim(SimError::UnknownDevice(node, device)));
        }
        let index = usize::from(device.0);
        if sim_node.ports.len() <= index {
            sim_node.ports.resize_with(index + 1, DevicePort::default);
        }
        let capture = Capture::create(path.as_ref())
            .map_err(|e| CaptureError::Io(path.as_ref().display().to_string(), e))?;
        sim_node.ports[index].capture = Some(capture);
        Ok(())
    }

    /// Records every packet event; read it with [`trace`](Self::trace).
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The recorded trace (empty unless enabled).
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Counters of the run so far.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Writes every capture out and closes it (later frames are not captured).
    pub fn finish_captures(&mut self) -> io::Result<()> {
        for node in &mut self.nodes {
            for port in &mut node.ports {
                if let Some(capture) = &mut port.capture {
                    capture.finish()?;
                }
            }
        }
        Ok(())
    }

    /// Runs every event up to and including `end`; time is then `end`.
    pub fn run_until(&mut self, end: Instant) -> RunSummary {
        self.start();
        let before = self.stats.events;
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.time() > end {
                break;
            }
            self.step();
        }
        self.now = self.now.max(end);
        self.report_progress();
        RunSummary {
            now: self.now,
            events: self.stats.events - before,
            quiet: self.queue.is_empty(),
        }
    }

    /// Runs for `duration` of simulated time from now.
    pub fn run_for(&mut self, duration: vipe_rt::Duration) -> RunSummary {
        let end = self.now + duration;
        self.run_until(end)
    }

    /// Runs until nothing is scheduled, or until `limit` if that comes first (a periodic
    /// timer keeps a simulation busy forever).
    pub fn run_until_quiet(&mut self, limit: Instant) -> RunSummary {
        self.start();
        let before = self.stats.events;
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.time() > limit {
                break;
            }
            self.step();
        }
        self.report_progress();
        RunSummary {
            now: self.now,
            events: self.stats.events - before,
            quiet: self.queue.is_empty(),
        }
    }

    /// Stops every node (their `#[on_stop]` handlers run) and closes the captures.
    pub fn stop(&mut self) -> io::Result<()> {
        for index in 0..self.nodes.len() {
            self.nodes[index].node.stop(self.now);
            self.drain_transmits(index as u32);
        }
        self.finish_captures()
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        for index in 0..self.nodes.len() {
            self.nodes[index].node.start(self.now);
            self.after_activity(index as u32);
        }
    }

    fn schedule(&mut self, time: Instant, kind: EventKind) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            order: (u128::from(time.as_nanos()) << 64) | u128::from(self.seq),
            kind,
        }));
    }

    fn step(&mut self) {
        let Some(Reverse(event)) = self.queue.pop() else {
            return;
        };
        let time = event.time();
        self.now = time;
        self.stats.events += 1;
        if let Some(hook) = &mut self.progress {
            hook.tick(time);
        }
        match event.kind {
            EventKind::Wake(node) => {
                let sim_node = &mut self.nodes[node as usize];
                if sim_node.wake != Some(time) {
                    return; // superseded by an earlier wake-up
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
            EventKind::Arrive { node, device, slot } => {
                let Some(packet) = self.in_flight[slot as usize].take() else {
                    return;
                };
                self.free_slots.push(slot);
                self.stats.delivered += 1;
                let now = self.now;
                self.record(node, device, TraceKind::Receive, packet.data());
                let sim_node = &mut self.nodes[node as usize];
                if let Some(capture) = sim_node
                    .ports
                    .get_mut(usize::from(device.0))
                    .and_then(|p| p.capture.as_mut())
                {
                    capture.write(now, packet.data());
                }
                let sim_node = &mut self.nodes[node as usize];
                sim_node.node.handle_input(now, device, packet);
                self.after_activity(node);
            }
        }
    }

    /// After a node ran: send what it transmitted and schedule its next wake-up.
    fn after_activity(&mut self, node: u32) {
        self.drain_transmits(node);
        let sim_node = &mut self.nodes[node as usize];
        if let Some(deadline) = sim_node.node.next_deadline() {
            let deadline = deadline.max(self.now);
            if sim_node.wake.is_none_or(|w| deadline < w) {
                sim_node.wake = Some(deadline);
                self.schedule(deadline, EventKind::Wake(node));
            }
        }
    }

    #[inline]
    fn drain_transmits(&mut self, node: u32) {
        if self.nodes[node as usize].node.pending_transmits() == 0 {
            return;
        }
        while let Some(tx) = self.nodes[node as usize].node.poll_transmit() {
            let port = self.nodes[node as usize]
                .ports
                .get(usize::from(tx.device.0));
            match port.and_then(|p| p.link) {
                Some((link, dir)) => self.enqueue(link, dir, tx.packet),
                None => {
                    self.record(node, tx.device, TraceKind::NoLink, tx.packet.data());
                    self.count_drop("no link");
                }
            }
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
        let channel = &mut l.channels[usize::from(dir)];
        channel.busy = true;
        let (from, to) = (channel.from, channel.to);
        let done = now + config.serialisation_delay(packet.len());
        self.stats.transmitted += 1;
        self.record(from.node.0, from.device, TraceKind::Transmit, packet.data());
        if let Some(capture) = self.nodes[from.node.0 as usize]
            .ports
            .get_mut(usize::from(from.device.0))
            .and_then(|p| p.capture.as_mut())
        {
            capture.write(now, packet.data());
        }
        self.schedule(done, EventKind::TxDone { link, dir });
        if self.rng.chance(config.loss) {
            self.record(from.node.0, from.device, TraceKind::Lost, packet.data());
            self.count_drop("link loss");
        } else {
            let slot = match self.free_slots.pop() {
                Some(slot) => {
                    self.in_flight[slot as usize] = Some(packet);
                    slot
                }
                None => {
                    self.in_flight.push(Some(packet));
                    (self.in_flight.len() - 1) as u32
                }
            };
            self.schedule(
                done + config.latency,
                EventKind::Arrive {
                    node: to.node.0,
                    device: to.device,
                    slot,
                },
            );
        }
    }

    fn count_drop(&mut self, reason: &'static str) {
        *self.stats.drops.entry(reason).or_insert(0) += 1;
    }

    fn record(&mut self, node: u32, device: DeviceId, kind: TraceKind, bytes: &[u8]) {
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent::new(self.now, NodeId(node), device, kind, bytes));
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
