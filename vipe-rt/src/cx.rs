//! `Cx`: a handler's whole view of the world.

use core::fmt;

use crate::node::{InstanceId, NodeCore, NodeId};
use crate::packet::{Packet, PacketPool};
use crate::protocol::{PortSet, Protocol};
use crate::rng::NodeRng;
use crate::time::{Duration, Instant};
use crate::timer::TimerQueue;

/// The context a handler runs in: the current time, sending on ports, packet allocation,
/// timers, the node's seeded RNG, identity and counters. Everything a protocol may touch
/// goes through here, which is what lets one protocol source run on every platform.
pub struct Cx<'a, P: Protocol> {
    pub(crate) core: &'a mut NodeCore,
    pub(crate) timers: &'a mut TimerQueue<P::Timer>,
    pub(crate) instance: InstanceId,
    /// Index of this instance's first port in the node's wiring table.
    pub(crate) first_port: u32,
}

impl<P: Protocol> Cx<'_, P> {
    /// The current platform time.
    #[inline]
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// The node this instance runs in.
    #[inline]
    pub fn node_id(&self) -> NodeId {
        self.core.id
    }

    /// This protocol instance's id within its node.
    #[inline]
    pub fn instance_id(&self) -> InstanceId {
        self.instance
    }

    /// The finest timer resolution the platform honours (the portable promise is 1 ms).
    #[inline]
    pub fn timer_resolution(&self) -> Duration {
        self.core.timer_resolution
    }

    /// The node's seeded random number generator.
    #[inline]
    pub fn rng(&mut self) -> &mut NodeRng {
        &mut self.core.rng
    }

    /// An empty packet from the node's pool, with default headroom for lower headers.
    #[inline]
    pub fn alloc(&mut self) -> Packet {
        self.core.pool.alloc()
    }

    /// The node's packet pool.
    #[inline]
    pub fn pool(&self) -> &PacketPool {
        &self.core.pool
    }

    /// Sends `pkt` out of `port`. It is delivered after the running handler returns,
    /// through the node's FIFO queue (to a protocol) or the transmit queue (to a device).
    /// On an unconnected port the packet is dropped and counted as `"unconnected port"`.
    #[inline]
    pub fn send(&mut self, port: P::Port, pkt: Packet) {
        let slot = self.first_port as usize + usize::from(port.index());
        self.core.route(self.instance, slot, port.key(), pkt);
    }

    /// Sends `pkt` out of `port` if the port leads anywhere; otherwise hands the packet
    /// back, uncounted, so the caller can drop it under a reason of its own (one wiring
    /// lookup where `is_connected` then `send` would take two).
    #[inline]
    pub fn try_send(&mut self, port: P::Port, pkt: Packet) -> Result<(), Packet> {
        let slot = self.first_port as usize + usize::from(port.index());
        self.core.try_route(slot, port.key(), pkt)
    }

    /// Whether `port` leads anywhere.
    pub fn is_connected(&self, port: P::Port) -> bool {
        self.core
            .wiring
            .peer_at(
                self.first_port as usize + usize::from(port.index()),
                port.key(),
            )
            .is_some()
    }

    /// Drops `pkt`, counting it under `reason` (e.g. `"bad checksum"`).
    #[inline]
    pub fn drop_packet(&mut self, pkt: Packet, reason: &'static str) {
        self.core.count_drop(Some(self.instance), reason);
        drop(pkt);
    }

    /// Adds one to this instance's counter `name` (e.g. `"echo replies"`).
    #[inline]
    pub fn count(&mut self, name: &'static str) {
        self.core.stats.add_counter(self.instance, name, 1);
    }

    /// Arms `timer` to fire `after` from now; re-arms it if it was armed.
    #[inline]
    pub fn start_timer(&mut self, timer: P::Timer, after: Duration) {
        let at = self.core.now + after;
        self.start_timer_at(timer, at);
    }

    /// Arms `timer` to fire at `at` (at once if `at` has passed); re-arms it if armed.
    #[inline]
    pub fn start_timer_at(&mut self, timer: P::Timer, at: Instant) {
        let seq = self.core.next_timer_seq();
        self.timers.arm(timer, at.max(self.core.now), None, seq);
    }

    /// Arms `timer` to fire every `period`, first one period from now.
    #[inline]
    pub fn start_periodic(&mut self, timer: P::Timer, period: Duration) {
        let seq = self.core.next_timer_seq();
        let at = self.core.now + period;
        self.timers.arm(timer, at, Some(period), seq);
    }

    /// Disarms `timer`. Returns whether it was armed.
    #[inline]
    pub fn cancel_timer(&mut self, timer: &P::Timer) -> bool {
        self.timers.cancel(timer)
    }

    /// When `timer` fires next, if armed.
    pub fn timer_deadline(&self, timer: &P::Timer) -> Option<Instant> {
        self.timers.deadline(timer)
    }

    /// Number of this instance's armed timers.
    pub fn armed_timers(&self) -> usize {
        self.timers.len()
    }
}

impl<P: Protocol> fmt::Debug for Cx<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cx")
            .field("protocol", &P::DESCRIPTOR.name)
            .field("node", &self.core.id)
            .field("instance", &self.instance)
            .field("now", &self.core.now)
            .finish()
    }
}
