//! One protocol instance inside a node: its state, its timers, and fault isolation.

use alloc::boxed::Box;
use alloc::string::String;
use core::any::Any;

use super::{InstanceId, NodeCore};
use crate::cx::Cx;
use crate::packet::Packet;
use crate::protocol::{HandlerKind, PortSet, Protocol, ProtocolDescriptor, TimerKey};
use crate::time::Instant;
use crate::timer::TimerQueue;

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceState {
    /// Added, not started yet.
    Created,
    /// Handling events.
    Running,
    /// Stopped by the node; events addressed to it are dropped.
    Stopped,
    /// A handler panicked; the instance was stopped (see `Node::faults`).
    Failed,
}

/// A handler that panicked, and what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The instance that was stopped.
    pub instance: InstanceId,
    /// Its protocol.
    pub protocol: &'static str,
    /// The handler that panicked.
    pub handler: &'static str,
    /// The panic message.
    pub message: String,
    /// When it happened.
    pub time: Instant,
}

/// The node's type-erased view of an instance.
pub(crate) trait AnyInstance {
    fn start(&mut self, core: &mut NodeCore, id: InstanceId);
    fn stop(&mut self, core: &mut NodeCore, id: InstanceId);
    /// Runs the handler of `port` without a panic guard of its own: the node's event
    /// loop guards a whole run of deliveries at once (see `Node::run_queue_with_budget`)
    /// and calls [`handler_panicked`](Self::handler_panicked) when one panics.
    fn deliver(
        &mut self,
        core: &mut NodeCore,
        id: InstanceId,
        port: u16,
        key: Option<u64>,
        pkt: Packet,
    );
    /// A handler of this instance panicked with `message` while handling a packet that
    /// arrived on port `port`: stops the instance and records the fault.
    #[cfg(feature = "std")]
    fn handler_panicked(&mut self, core: &mut NodeCore, id: InstanceId, port: u16, message: String);
    /// (deadline, arming sequence) of the earliest armed timer.
    fn next_timer(&mut self) -> Option<(Instant, u64)>;
    /// Fires the earliest timer if it is due at `core.now`.
    fn fire_timer(&mut self, core: &mut NodeCore, id: InstanceId);
    fn descriptor(&self) -> &'static ProtocolDescriptor;
    /// The instance's label: the one it was added with, or the protocol's name.
    fn label(&self) -> &str;
    fn state(&self) -> InstanceState;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

pub(crate) struct Instance<P: Protocol> {
    pub(crate) proto: P,
    timers: TimerQueue<P::Timer>,
    state: InstanceState,
    /// A label other than the protocol's name, if it was given one.
    label: Option<Box<str>>,
    /// Index of the instance's first port in the node's wiring table.
    first_port: u32,
}

impl<P: Protocol> Instance<P> {
    pub(crate) fn new(proto: P, label: Option<Box<str>>, first_port: u32) -> Self {
        Instance {
            proto,
            timers: TimerQueue::new(),
            state: InstanceState::Created,
            label,
            first_port,
        }
    }

    /// Runs `f` as a handler. On `std` a panic stops this instance and is reported;
    /// the node goes on.
    #[inline(always)]
    fn run(
        &mut self,
        core: &mut NodeCore,
        id: InstanceId,
        kind: HandlerKind,
        f: impl FnOnce(&mut P, &mut Cx<'_, P>),
    ) {
        #[cfg(feature = "std")]
        {
            let outcome = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
                self.run_unguarded(&mut *core, id, f)
            }));
            if let Err(payload) = outcome {
                self.fail(core, id, kind, panic_message(payload.as_ref()));
            }
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = kind;
            self.run_unguarded(core, id, f)
        }
    }

    /// Runs `f` as a handler with no panic guard (the caller has one, or is `run`).
    #[inline(always)]
    fn run_unguarded(
        &mut self,
        core: &mut NodeCore,
        id: InstanceId,
        f: impl FnOnce(&mut P, &mut Cx<'_, P>),
    ) {
        core.stats.events += 1;
        let mut cx = Cx {
            core,
            timers: &mut self.timers,
            instance: id,
            first_port: self.first_port,
        };
        f(&mut self.proto, &mut cx)
    }

    #[cfg(feature = "std")]
    #[cold]
    fn fail(&mut self, core: &mut NodeCore, id: InstanceId, kind: HandlerKind, message: String) {
        let desc = P::DESCRIPTOR;
        let handler = match kind {
            HandlerKind::Packet(port) => desc.port_handler(port),
            HandlerKind::Timer(timer) => desc.timer_handler(timer),
            other => desc.lifecycle_handler(other),
        };
        tracing::error!(
            node = core.id.0,
            protocol = desc.name,
            handler,
            %message,
            "handler panicked; protocol instance stopped"
        );
        self.state = InstanceState::Failed;
        self.timers.clear();
        core.faults.push(Fault {
            instance: id,
            protocol: desc.name,
            handler,
            message,
            time: core.now,
        });
    }
}

#[cfg(feature = "std")]
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    use alloc::string::ToString;
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

impl<P: Protocol> AnyInstance for Instance<P> {
    fn start(&mut self, core: &mut NodeCore, id: InstanceId) {
        if self.state != InstanceState::Created {
            return;
        }
        self.state = InstanceState::Running;
        self.run(core, id, HandlerKind::Start, |p, cx| p.dispatch_start(cx));
    }

    fn stop(&mut self, core: &mut NodeCore, id: InstanceId) {
        if self.state != InstanceState::Running {
            return;
        }
        self.run(core, id, HandlerKind::Stop, |p, cx| p.dispatch_stop(cx));
        if self.state == InstanceState::Running {
            self.state = InstanceState::Stopped;
        }
        self.timers.clear();
    }

    #[inline]
    fn deliver(
        &mut self,
        core: &mut NodeCore,
        id: InstanceId,
        port: u16,
        key: Option<u64>,
        pkt: Packet,
    ) {
        if self.state != InstanceState::Running {
            core.count_drop(Some(id), "instance not running");
            return;
        }
        let Some(port) = P::Port::from_parts(port, key) else {
            core.count_drop(Some(id), "port key out of range");
            return;
        };
        self.run_unguarded(core, id, |p, cx| p.dispatch_packet(cx, port, pkt));
    }

    #[cfg(feature = "std")]
    fn handler_panicked(
        &mut self,
        core: &mut NodeCore,
        id: InstanceId,
        port: u16,
        message: String,
    ) {
        self.fail(core, id, HandlerKind::Packet(port), message);
    }

    #[inline]
    fn next_timer(&mut self) -> Option<(Instant, u64)> {
        self.timers.peek()
    }

    #[inline]
    fn fire_timer(&mut self, core: &mut NodeCore, id: InstanceId) {
        let seq = core.next_timer_seq();
        let Some(expired) = self.timers.pop_due(core.now, seq) else {
            return;
        };
        core.stats.timers_fired += 1;
        let kind = HandlerKind::Timer(expired.key.index());
        self.run(core, id, kind, |p, cx| p.dispatch_timer(cx, expired.key));
    }

    fn descriptor(&self) -> &'static ProtocolDescriptor {
        P::DESCRIPTOR
    }

    fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(P::DESCRIPTOR.name)
    }

    fn state(&self) -> InstanceState {
        self.state
    }

    fn as_any(&self) -> &dyn Any {
        &self.proto
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        &mut self.proto
    }
}
