//! Pastry (Rowstron & Druschel, "Pastry: Scalable, decentralized object location and
//! routing for large-scale peer-to-peer systems", Middleware 2001) over datagram devices.
//!
//! - [`id`]: 128-bit identifiers, digits of b bits, the circle.
//! - [`state`]: leaf set, routing table, neighbourhood set, and [`Peer`].
//! - [`wire`]: the messages, `#[derive(Header)]`.
//! - [`protocol`]: the [`Pastry`] protocol.
//!
//! **Proximity.** The metric is the Euclidean distance between nodes' coordinates, which
//! every message and node entry carries: in the simulator these are the plane positions
//! the underlay's Euclidean delay model uses, so the metric is the delay; on a real
//! network they are whatever coordinates the deployment gives (all zero by default,
//! which makes every node equally near and leaves routing correct but proximity-blind).
//!
//! **Hops.** A routed message's hop count is the number of messages that carried it from
//! the node where it started to the node that delivered it: 0 when the first node is the
//! numerically closest to the key itself, 1 when that node was in its leaf set or table.
//! A hop that timed out (its next node was dead) is not counted; it is counted in
//! [`RouteRecord::timeouts`].

pub mod id;
pub mod protocol;
pub mod state;
pub mod wire;

pub use id::Id;
pub use protocol::{
    JoinStrategy, Pastry, PastryConfig, PastryPort, PastryStats, RouteRecord, Workload,
};
pub use state::{LeafSet, Neighbourhood, Peer, RoutingTable};
