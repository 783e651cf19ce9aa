//! A harness for calling one protocol's handlers directly, without a node or platform:
//! for unit tests of protocol logic and for measuring dispatch cost.
//!
//! ```
//! use vipe_rt::prelude::*;
//! use vipe_rt::testing::Harness;
//!
//! #[protocol]
//! struct Counter { n: u32 }
//!
//! #[protocol]
//! impl Counter {
//!     #[on_packet(port = "lower")]
//!     fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) { self.n += 1; }
//! }
//!
//! let mut h = Harness::new(Counter { n: 0 });
//! h.deliver(CounterPort::Lower, Packet::from_slice(b"x"));
//! h.with_cx(|counter, cx| counter.rx(cx, Packet::from_slice(b"y")));
//! assert_eq!(h.protocol().n, 2);
//! ```

use crate::cx::Cx;
use crate::node::{InstanceId, NodeConfig, NodeCore, NodeId, NodeStats};
use crate::packet::Packet;
use crate::protocol::Protocol;
use crate::time::Instant;
use crate::timer::TimerQueue;

/// One protocol instance with its own context, outside any node. Its ports lead nowhere:
/// what it sends is counted as `"unconnected port"` drops.
pub struct Harness<P: Protocol> {
    core: NodeCore,
    timers: TimerQueue<P::Timer>,
    protocol: P,
    first_port: u32,
}

impl<P: Protocol> Harness<P> {
    /// A harness around `protocol`, at time zero, node id 0, seed 0.
    pub fn new(protocol: P) -> Self {
        let mut core = NodeCore::new(&NodeConfig::new(NodeId(0)));
        let first_port = core.wiring.add_instance(P::DESCRIPTOR.ports.len());
        Harness {
            core,
            first_port,
            timers: TimerQueue::new(),
            protocol,
        }
    }

    /// Runs `f` with the protocol and a context, as a handler would run.
    #[inline]
    pub fn with_cx<R>(&mut self, f: impl FnOnce(&mut P, &mut Cx<'_, P>) -> R) -> R {
        let mut cx = Cx {
            core: &mut self.core,
            timers: &mut self.timers,
            instance: InstanceId(0),
            first_port: self.first_port,
        };
        f(&mut self.protocol, &mut cx)
    }

    /// Delivers `pkt` on `port` through the generated dispatch.
    #[inline]
    pub fn deliver(&mut self, port: P::Port, pkt: Packet) {
        self.with_cx(|p, cx| p.dispatch_packet(cx, port, pkt))
    }

    /// Fires `timer` through the generated dispatch.
    #[inline]
    pub fn fire(&mut self, timer: P::Timer) {
        self.with_cx(|p, cx| p.dispatch_timer(cx, timer))
    }

    /// Sets the time handlers see.
    pub fn set_now(&mut self, now: Instant) {
        self.core.now = now;
    }

    /// The protocol's state.
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// Counters (drops, named counters).
    pub fn stats(&self) -> &NodeStats {
        &self.core.stats
    }
}
