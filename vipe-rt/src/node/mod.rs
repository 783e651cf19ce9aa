//! The node: protocol instances, the wiring between their ports, devices, a FIFO event
//! queue, and the sans-IO surface a platform drives.
//!
//! ```text
//! platform → node:  handle_input(now, device, packet)   handle_timeout(now)
//! node → platform:  poll_transmit() → (device, packet)    next_deadline() → Option<Instant>
//! ```
//!
//! A node never blocks, sleeps, reads a clock or touches the OS: the platform owns all
//! of that. Events inside a node go through its own FIFO queue, so handlers never re-enter
//! each other and the order of events is deterministic.

mod instance;
mod small;
mod stats;
mod wiring;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use smallvec::SmallVec;

pub use instance::{Fault, InstanceState};
pub use stats::{Counters, NodeStats};
pub use wiring::{PortRef, WiringError};

use instance::{AnyInstance, Instance};
use small::{Fifo, Name};
use wiring::{Peer, Wiring};

use crate::packet::{Packet, PacketPool};
use crate::protocol::{PortSet, Protocol, ProtocolDescriptor};
use crate::rng::NodeRng;
use crate::time::{Duration, Instant};

/// A node's id, unique within an experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub u32);

/// A protocol instance's id within its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub u16);

/// A device's id within its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub u16);

/// What a device carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// Raw link-layer frames (Ethernet): TAP, ns-3 NetDevice, a simulated link.
    Frame,
    /// Datagrams between endpoints (`PacketMeta::src`/`dst`): a UDP socket, an overlay.
    Datagram,
}

/// A packet the node wants the platform to send on a device.
#[derive(Debug)]
pub struct Transmit {
    /// The device to send on.
    pub device: DeviceId,
    /// The frame, or the datagram payload with `meta().dst` set.
    pub packet: Packet,
}

/// A typed reference to a protocol instance in a node, returned by [`Node::add`].
pub struct Handle<P> {
    id: InstanceId,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> Clone for Handle<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P> Copy for Handle<P> {}
impl<P> fmt::Debug for Handle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({:?})", self.id)
    }
}

impl<P: Protocol> Handle<P> {
    /// The instance's id.
    pub fn id(&self) -> InstanceId {
        self.id
    }

    /// A reference to one of the instance's ports, for [`Node::connect`] and [`Node::attach`].
    pub fn port(&self, port: P::Port) -> PortRef {
        PortRef {
            instance: self.id,
            port: port.index(),
            key: port.key(),
        }
    }
}

/// How a node is set up.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The node's id.
    pub id: NodeId,
    /// Seed of the node's RNG.
    pub seed: u64,
    /// The timer resolution the platform honours.
    pub timer_resolution: Duration,
    /// Packet buffer size of the node's pool.
    pub buffer_size: usize,
    /// Most idle buffers the pool keeps.
    pub pool_limit: usize,
    /// The pool to allocate packets from, shared with other nodes on the same thread
    /// (a simulator gives all its nodes one); `None`: the node makes its own from
    /// `buffer_size` and `pool_limit`.
    pub pool: Option<PacketPool>,
    /// Most events handled in one call before the node yields back to the platform
    /// (with `next_deadline() == now`), so two protocols bouncing packets forever in
    /// zero time cannot hang the platform.
    pub max_events_per_call: u64,
}

impl NodeConfig {
    /// Defaults for node `id`: seed = id, 1 ms resolution, 2048-byte buffers.
    pub fn new(id: NodeId) -> Self {
        NodeConfig {
            id,
            seed: u64::from(id.0),
            timer_resolution: Duration::from_millis(1),
            buffer_size: crate::packet::DEFAULT_BUFFER_SIZE,
            pool_limit: 4096,
            pool: None,
            max_events_per_call: 1_000_000,
        }
    }
}

struct Device {
    attached: Option<PortRef>,
    name: Name,
    kind: DeviceKind,
}

struct Event {
    to: PortRef,
    pkt: Packet,
}

/// The part of a node that handlers reach through `Cx`.
pub(crate) struct NodeCore {
    pub(crate) id: NodeId,
    pub(crate) now: Instant,
    pub(crate) rng: NodeRng,
    pub(crate) pool: PacketPool,
    pub(crate) timer_resolution: Duration,
    pub(crate) wiring: Wiring,
    pub(crate) stats: NodeStats,
    pub(crate) faults: Vec<Fault>,
    /// Events between the node's instances; empty between platform calls, so the inline
    /// space serves nearly every call.
    queue: Fifo<Event, 1>,
    /// Packets for the platform; drained after each call.
    transmits: Fifo<Transmit, 1>,
    timer_seq: u64,
}

impl NodeCore {
    pub(crate) fn new(config: &NodeConfig) -> Self {
        NodeCore {
            id: config.id,
            now: Instant::ZERO,
            rng: NodeRng::seed_from_u64(config.seed),
            pool: config
                .pool
                .clone()
                .unwrap_or_else(|| PacketPool::new(config.buffer_size, config.pool_limit)),
            timer_resolution: config.timer_resolution,
            wiring: Wiring::default(),
            stats: NodeStats::default(),
            faults: Vec::new(),
            queue: Fifo::default(),
            transmits: Fifo::default(),
            timer_seq: 0,
        }
    }

    #[inline]
    pub(crate) fn next_timer_seq(&mut self) -> u64 {
        self.timer_seq += 1;
        self.timer_seq
    }

    /// Resolves where the port at wiring index `slot` of instance `from` leads and queues
    /// `pkt` there.
    #[inline(always)]
    pub(crate) fn route(&mut self, from: InstanceId, slot: usize, key: Option<u64>, pkt: Packet) {
        if self.try_route(slot, key, pkt).is_err() {
            self.count_drop(Some(from), "unconnected port");
        }
    }

    /// Routes `pkt`, or hands it back if the port leads nowhere.
    #[inline(always)]
    pub(crate) fn try_route(
        &mut self,
        slot: usize,
        key: Option<u64>,
        pkt: Packet,
    ) -> Result<(), Packet> {
        match self.wiring.peer_at(slot, key) {
            Some(Peer::Port(to)) => self.queue.push_back(Event { to: *to, pkt }),
            Some(Peer::Device(device)) => {
                self.stats.device_tx += 1;
                self.transmits.push_back(Transmit {
                    device: *device,
                    packet: pkt,
                });
            }
            None => return Err(pkt),
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn count_drop(&mut self, instance: Option<InstanceId>, reason: &'static str) {
        tracing::trace!(node = self.id.0, ?instance, reason, "drop");
        self.stats.add_drop(instance, reason);
    }
}

/// A node: protocol instances wired together and to devices, driven by a platform.
///
/// One record with the common case inline — one protocol instance (its state and timers
/// in one box), one device, two ports' wiring, a few queued events — so a node of a large
/// simulation costs a few hundred bytes and an event touches the record and the box.
pub struct Node {
    core: NodeCore,
    instances: SmallVec<[Box<dyn AnyInstance>; 1]>,
    devices: SmallVec<[Device; 1]>,
    max_events_per_call: u64,
    started: bool,
    /// The earliest timer deadline over all instances, when known to be current: set by
    /// the last scan of `handle_timeout` (no handler ran after it), cleared by anything
    /// that may run a handler. Saves `next_deadline` a second scan.
    deadline_hint: Option<Option<Instant>>,
    /// The instance and port of the packet being delivered, for the panic guard around
    /// the event loop to say whose handler failed.
    #[cfg(feature = "std")]
    delivering: (InstanceId, u16),
}

impl Node {
    /// A node with default settings.
    pub fn new(id: NodeId) -> Self {
        Node::with_config(NodeConfig::new(id))
    }

    /// A node set up by `config`.
    pub fn with_config(config: NodeConfig) -> Self {
        Node {
            core: NodeCore::new(&config),
            instances: SmallVec::new(),
            devices: SmallVec::new(),
            max_events_per_call: config.max_events_per_call.max(1),
            started: false,
            deadline_hint: None,
            #[cfg(feature = "std")]
            delivering: (InstanceId(0), 0),
        }
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.core.id
    }

    /// The node's current time (the last time a platform call gave it).
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// Moves the node's clock forward to `now` (never backwards) without running anything.
    /// A platform calls this before handing a running node to code that may add
    /// protocols or arm timers, so they count from the right time.
    pub fn set_time(&mut self, now: Instant) {
        self.advance(now);
    }

    /// Adds a protocol instance, labelled with the protocol's name.
    pub fn add<P: Protocol>(&mut self, protocol: P) -> Handle<P> {
        self.add_labelled(protocol, None)
    }

    /// Adds a protocol instance with a label (e.g. `"eth1"` for a router's second
    /// Ethernet instance). If the node has started, the instance starts at once.
    pub fn add_named<P: Protocol>(&mut self, protocol: P, label: &str) -> Handle<P> {
        // The protocol's own name costs nothing to keep; only other labels are stored.
        let label = (label != P::DESCRIPTOR.name).then(|| label.into());
        self.add_labelled(protocol, label)
    }

    fn add_labelled<P: Protocol>(&mut self, protocol: P, label: Option<Box<str>>) -> Handle<P> {
        let index = self.instances.len();
        let id = InstanceId(
            u16::try_from(index).expect("more than 65535 protocol instances in one node"),
        );
        let first_port = self.core.wiring.add_instance(P::DESCRIPTOR.ports.len());
        // Nodes usually hold one or two instances: the first is inline, later ones grow
        // the list by one, not by doubling, so a million simulated nodes carry no spare
        // capacity.
        if self.instances.len() >= self.instances.inline_size() {
            self.instances.reserve_exact(1);
        }
        self.instances
            .push(Box::new(Instance::new(protocol, label, first_port)));
        self.deadline_hint = None;
        if self.started {
            self.instances[index].start(&mut self.core, id);
            self.run_queue();
        }
        Handle {
            id,
            _protocol: PhantomData,
        }
    }

    /// Adds a device (the platform binds it to a TAP, a socket, a simulated link, ...).
    pub fn add_device(&mut self, name: &str, kind: DeviceKind) -> DeviceId {
        let id = DeviceId(
            u16::try_from(self.devices.len()).expect("more than 65535 devices in one node"),
        );
        if self.devices.len() >= self.devices.inline_size() {
            self.devices.reserve_exact(1);
        }
        self.devices.push(Device {
            name: Name::new(name),
            kind,
            attached: None,
        });
        id
    }

    /// Connects two ports both ways: what `a` sends arrives at `b` and vice versa.
    pub fn connect(&mut self, a: PortRef, b: PortRef) -> Result<(), WiringError> {
        self.check_port(a)?;
        self.check_port(b)?;
        if self.core.wiring.peer(a.instance, a.port, a.key).is_some() {
            return Err(WiringError::AlreadyConnected {
                port: self.port_text(a),
            });
        }
        if self.core.wiring.peer(b.instance, b.port, b.key).is_some() {
            return Err(WiringError::AlreadyConnected {
                port: self.port_text(b),
            });
        }
        let set_a = self.core.wiring.set(a, Peer::Port(b));
        let set_b = self.core.wiring.set(b, Peer::Port(a));
        debug_assert!(set_a.is_ok() && set_b.is_ok());
        Ok(())
    }

    /// Connects one way: what `from` sends arrives at `to`; what `to` sends goes where
    /// `to` is connected (if anywhere), not necessarily back to `from`.
    ///
    /// For a path that skips a layer in one direction only: an IPv4 packet received by
    /// Ethernet goes straight up to IPv4, while IPv4's packets go down through ARP to
    /// have their next hop resolved (a layer that only passes packets on costs a whole
    /// handler invocation per packet).
    pub fn connect_one_way(&mut self, from: PortRef, to: PortRef) -> Result<(), WiringError> {
        self.check_port(from)?;
        self.check_port(to)?;
        if self.core.wiring.set(from, Peer::Port(to)).is_err() {
            return Err(WiringError::AlreadyConnected {
                port: self.port_text(from),
            });
        }
        Ok(())
    }

    /// Attaches `device` to `port`: frames received on the device arrive at the port,
    /// and what the port sends is transmitted on the device.
    pub fn attach(&mut self, device: DeviceId, port: PortRef) -> Result<(), WiringError> {
        self.check_port(port)?;
        let dev = self
            .devices
            .get(usize::from(device.0))
            .ok_or(WiringError::UnknownDevice(device))?;
        if dev.attached.is_some() {
            return Err(WiringError::DeviceAlreadyAttached {
                device: dev.name.as_str().into(),
            });
        }
        if self.core.wiring.set(port, Peer::Device(device)).is_err() {
            return Err(WiringError::AlreadyConnected {
                port: self.port_text(port),
            });
        }
        self.devices[usize::from(device.0)].attached = Some(port);
        Ok(())
    }

    fn check_port(&self, port: PortRef) -> Result<(), WiringError> {
        let instance = self
            .instances
            .get(usize::from(port.instance.0))
            .ok_or(WiringError::UnknownInstance(port.instance))?;
        let desc = instance.descriptor();
        match desc.ports.get(usize::from(port.port)) {
            Some(p) if p.key.is_some() == port.key.is_some() => Ok(()),
            _ => Err(WiringError::BadPort {
                protocol: desc.name,
                port: port.port,
            }),
        }
    }

    fn port_text(&self, port: PortRef) -> String {
        let instance = &self.instances[usize::from(port.instance.0)];
        let (label, desc) = (instance.label(), instance.descriptor());
        match port.key {
            Some(key) => alloc::format!("{label}.{}[{key:#x}]", desc.port_name(port.port)),
            None => alloc::format!("{label}.{}", desc.port_name(port.port)),
        }
    }

    /// Starts every instance (in the order added) at `now`.
    pub fn start(&mut self, now: Instant) {
        self.advance(now);
        self.started = true;
        for index in 0..self.instances.len() {
            self.instances[index].start(&mut self.core, InstanceId(index as u16));
            self.run_queue();
        }
    }

    /// Stops every instance (in reverse order) at `now`; their timers are cancelled.
    pub fn stop(&mut self, now: Instant) {
        self.advance(now);
        for index in (0..self.instances.len()).rev() {
            self.instances[index].stop(&mut self.core, InstanceId(index as u16));
            self.run_queue();
        }
        self.started = false;
    }

    /// A frame or datagram arrived on `device` at `now`. Runs every handler it causes.
    pub fn handle_input(&mut self, now: Instant, device: DeviceId, mut pkt: Packet) {
        self.advance(now);
        self.core.stats.device_rx += 1;
        let Some(dev) = self.devices.get(usize::from(device.0)) else {
            self.core.count_drop(None, "unknown device");
            return;
        };
        let Some(to) = dev.attached else {
            self.core.count_drop(None, "device not attached");
            return;
        };
        let meta = pkt.meta_mut();
        meta.ingress = Some(device);
        meta.rx_time = self.core.now;
        self.core.queue.push_back(Event { to, pkt });
        self.run_queue();
    }

    /// Time is now `now`: fires every timer due by then, in (deadline, arming) order,
    /// running the events each one causes before the next.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let mut budget = self.max_events_per_call;
        // Events left over from a call that ran out of budget go first.
        budget = budget.saturating_sub(self.run_queue_with_budget(budget));
        while budget > 0 {
            let Some(index) = self.next_due_instance() else {
                break;
            };
            self.instances[index].fire_timer(&mut self.core, InstanceId(index as u16));
            budget = budget.saturating_sub(1 + self.run_queue_with_budget(budget));
        }
    }

    /// Number of packets waiting in [`poll_transmit`](Self::poll_transmit).
    #[inline]
    pub fn pending_transmits(&self) -> usize {
        self.core.transmits.len()
    }

    /// The next packet to transmit, if any.
    #[inline]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.transmits.pop_front()
    }

    /// When the node next needs [`handle_timeout`](Self::handle_timeout): the earliest
    /// armed timer, or now if events are waiting, or `None` if it needs nothing.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        if !self.core.queue.is_empty() {
            return Some(self.core.now);
        }
        if let Some(hint) = self.deadline_hint {
            return hint;
        }
        self.instances
            .iter_mut()
            .filter_map(|i| i.next_timer())
            .min()
            .map(|(deadline, _)| deadline)
    }

    /// Where the first protocol instance's state (and timers) sits in memory — the one
    /// place beyond this record that handling an event touches. A platform holding many
    /// nodes prefetches it for the node it runs next, to overlap that node's cache misses
    /// with current work. Only an address to hint the CPU with: nothing may read it.
    #[inline]
    pub fn hot_state_addr(&self) -> Option<*const u8> {
        self.instances
            .first()
            .map(|instance| (&**instance as *const dyn AnyInstance).cast::<u8>())
    }

    /// Counters of events, transmissions, drops.
    pub fn stats(&self) -> &NodeStats {
        &self.core.stats
    }

    /// Handlers that panicked, and the instances stopped because of it.
    pub fn faults(&self) -> &[Fault] {
        &self.core.faults
    }

    /// The node's packet pool (platforms allocate received frames from it).
    pub fn pool(&self) -> &PacketPool {
        &self.core.pool
    }

    /// The timer resolution the platform honours.
    pub fn timer_resolution(&self) -> Duration {
        self.core.timer_resolution
    }

    /// The protocol state of an instance, if `handle` belongs to this node.
    pub fn protocol<P: Protocol>(&self, handle: Handle<P>) -> Option<&P> {
        self.instances
            .get(usize::from(handle.id.0))?
            .as_any()
            .downcast_ref()
    }

    /// The protocol state of an instance, writable.
    pub fn protocol_mut<P: Protocol>(&mut self, handle: Handle<P>) -> Option<&mut P> {
        self.instances
            .get_mut(usize::from(handle.id.0))?
            .as_any_mut()
            .downcast_mut()
    }

    /// The instances: id, label, descriptor, state.
    pub fn instances(
        &self,
    ) -> impl Iterator<Item = (InstanceId, &str, &'static ProtocolDescriptor, InstanceState)> {
        self.instances.iter().enumerate().map(|(i, inst)| {
            (
                InstanceId(i as u16),
                inst.label(),
                inst.descriptor(),
                inst.state(),
            )
        })
    }

    /// The label of an instance.
    pub fn label(&self, id: InstanceId) -> Option<&str> {
        self.instances.get(usize::from(id.0)).map(|i| i.label())
    }

    /// The devices: id, name, kind.
    pub fn devices(&self) -> impl Iterator<Item = (DeviceId, &str, DeviceKind)> {
        self.devices
            .iter()
            .enumerate()
            .map(|(i, d)| (DeviceId(i as u16), d.name.as_str(), d.kind))
    }

    #[inline]
    fn advance(&mut self, now: Instant) {
        self.deadline_hint = None;
        // Time never runs backwards inside a node.
        if now > self.core.now {
            self.core.now = now;
        }
    }

    /// The instance whose timer is due first, if any is due. When none is, the earliest
    /// deadline found is kept as `deadline_hint`.
    fn next_due_instance(&mut self) -> Option<usize> {
        let mut best: Option<(Instant, u64, usize)> = None;
        for (index, inst) in self.instances.iter_mut().enumerate() {
            if let Some((deadline, seq)) = inst.next_timer()
                && best.is_none_or(|(d, s, _)| (deadline, seq) < (d, s))
            {
                best = Some((deadline, seq, index));
            }
        }
        match best {
            Some((deadline, _, index)) if deadline <= self.core.now => Some(index),
            _ => {
                self.deadline_hint = Some(best.map(|(deadline, _, _)| deadline));
                None
            }
        }
    }

    fn run_queue(&mut self) {
        self.run_queue_with_budget(self.max_events_per_call);
    }

    /// Delivers queued events until the queue is empty or `budget` events have run.
    /// Returns how many ran.
    ///
    /// On `std`, one panic guard covers the whole run rather than one per handler (a
    /// guard per handler cost every delivery its own unwinding frame): a handler that
    /// panics stops its instance (see [`Node::faults`]), its packet is dropped, and the
    /// run goes on with the next event.
    #[inline]
    fn run_queue_with_budget(&mut self, budget: u64) -> u64 {
        let mut ran = 0;
        #[cfg(feature = "std")]
        loop {
            let outcome = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
                self.deliver_queued(budget, &mut ran)
            }));
            match outcome {
                Ok(()) => return ran,
                Err(payload) => {
                    ran += 1;
                    self.delivery_panicked(payload.as_ref());
                }
            }
        }
        #[cfg(not(feature = "std"))]
        {
            self.deliver_queued(budget, &mut ran);
            ran
        }
    }

    /// The event loop itself, unguarded: [`run_queue_with_budget`](Self::run_queue_with_budget)'s body.
    #[inline(always)]
    fn deliver_queued(&mut self, budget: u64, ran: &mut u64) {
        while *ran < budget {
            let Some(Event { to, pkt }) = self.core.queue.pop_front() else {
                break;
            };
            #[cfg(feature = "std")]
            {
                self.delivering = (to.instance, to.port);
            }
            self.instances[usize::from(to.instance.0)].deliver(
                &mut self.core,
                to.instance,
                to.port,
                to.key,
                pkt,
            );
            *ran += 1;
        }
    }

    /// The handler delivering [`delivering`](Self::delivering) panicked: its instance
    /// is stopped and the fault recorded.
    #[cfg(feature = "std")]
    #[cold]
    #[inline(never)]
    fn delivery_panicked(&mut self, payload: &(dyn core::any::Any + Send)) {
        let (instance, port) = self.delivering;
        let message = instance::panic_message(payload);
        self.instances[usize::from(instance.0)].handler_panicked(
            &mut self.core,
            instance,
            port,
            message,
        );
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.core.id)
            .field("now", &self.core.now)
            .field(
                "instances",
                &self.instances.iter().map(|i| i.label()).collect::<Vec<_>>(),
            )
            .field(
                "devices",
                &self.devices.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}
