//! # vipe-rt — the narrow waist
//!
//! Everything a VIPE protocol may touch: [`Packet`]s from a pool, [`Instant`] and
//! [`Duration`] from the platform, typed timers, one [`Lock`], and the [`Cx`] through
//! which handlers act. A [`Node`] holds protocol instances and their wiring and is driven
//! by a platform through a sans-IO surface (feed input, advance time, drain transmits,
//! ask for the next deadline), which is how one protocol source runs unchanged in a
//! simulator, in ns-3, on Linux and on bare metal.
//!
//! `no_std` + `alloc`; the default `std` feature adds fault isolation (a panicking
//! handler stops only its own instance).
//!
//! ```
//! use vipe_rt::prelude::*;
//!
//! /// Answers every frame on its port with the same bytes.
//! #[protocol]
//! pub struct Reflector {
//!     reflected: u64,
//! }
//!
//! #[protocol]
//! impl Reflector {
//!     #[on_packet(port = "lower")]
//!     fn reflect(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
//!         self.reflected += 1;
//!         cx.send(ReflectorPort::Lower, pkt);
//!     }
//! }
//!
//! let mut node = Node::new(NodeId(1));
//! let r = node.add(Reflector { reflected: 0 });
//! let eth0 = node.add_device("eth0", DeviceKind::Frame);
//! node.attach(eth0, r.port(ReflectorPort::Lower)).unwrap();
//! node.start(Instant::ZERO);
//! node.handle_input(Instant::from_millis(1), eth0, Packet::from_slice(b"hello"));
//! let tx = node.poll_transmit().unwrap();
//! assert_eq!((tx.device, tx.packet.data()), (eth0, &b"hello"[..]));
//! assert_eq!(node.protocol(r).unwrap().reflected, 1);
//! ```
#![no_std]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod checksum;
pub mod cx;
pub mod gso;
pub mod header;
pub mod lock;
pub mod node;
pub mod packet;
pub mod protocol;
pub mod rng;
pub mod testing;
pub mod time;
pub mod timer;

pub use cx::Cx;
pub use header::{Entries, Header, HeaderError, HeaderErrorKind, Options};
pub use lock::{Lock, LockGuard};
pub use node::{
    Counters, DeviceId, DeviceKind, Fault, Handle, InstanceId, InstanceState, Node, NodeConfig,
    NodeId, NodeStats, PortRef, Transmit, WiringError,
};
pub use packet::{Packet, PacketError, PacketMeta, PacketPool, PoolStats};
pub use protocol::{
    HandlerDescriptor, HandlerKind, PortDescriptor, PortKey, PortSet, Protocol, ProtocolDescriptor,
    ProtocolState, TimerArg, TimerDescriptor, TimerKey,
};
pub use rng::NodeRng;
pub use time::{Duration, Instant};
pub use vipe_macros::{on_packet, on_start, on_stop, on_timer, protocol};

#[doc(inline)]
#[doc = include_str!("header_derive.md")]
pub use vipe_macros::Header;

/// Logging and tracing, re-exported so protocols need no direct dependency.
pub use tracing;

/// What protocol code usually needs: `use vipe_rt::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Cx, DeviceId, DeviceKind, Duration, Handle, Instant, Lock, Node, NodeConfig, NodeId,
        Packet, PacketMeta, PortRef, Protocol,
    };
    pub use crate::{Header, HeaderError};
    pub use vipe_macros::{on_packet, on_start, on_stop, on_timer, protocol};
}

#[doc(hidden)]
pub mod __private {
    pub use crate::protocol::__private::*;
    pub use core;
    pub use zerocopy;
}
