//! Chord (Stoica et al., SIGCOMM 2001; IEEE/ACM ToN 11(1), 2003) over datagram devices,
//! with a replicated key-value store on top.
//!
//! - [`id`]: 160-bit SHA-1 identifiers and ring arithmetic.
//! - [`table`]: predecessor, successor list, and the distinct fingers (~log2 N of them).
//! - [`wire`]: the messages, `#[derive(Header)]`.
//! - [`protocol`]: the [`Chord`] protocol: iterative lookups, join, stabilisation,
//!   failure handling, leave, key-value put/get with replication and hand-over.
//! - [`app`]: the app port's requests and replies.
//!
//! **Path length.** A lookup is iterative: the originator asks each hop for a node closer
//! to the key, until a node answers that the key lies between it and its successor.
//! [`LookupRecord::hops`] counts the nodes that answered (the originator's own table
//! is step zero and not counted); a lookup whose key the originator's successor owns
//! takes 0 hops. This is the number of nodes the lookup traverses after the one that
//! starts it, up to the key's predecessor, as in the papers' Fig. 4 pseudo-code.

pub mod app;
pub mod id;
pub mod protocol;
pub mod table;
pub mod wire;

pub use id::Id;
pub use protocol::{
    Chord, ChordConfig, ChordPort, ChordStats, LookupRecord, Workload, successor_in,
};
pub use table::{Peer, Table};
