//! TCP (RFC 9293). The connection logic is a sans-IO state machine, [`TcpSocket`],
//! driven with explicit time and decoded segments, so it is tested on its own (table
//! tests and the [`script`] runner) and wrapped by the `#[protocol]` that carries it over
//! IPv4.
//!
//! One concept per module: [`seq`] (sequence arithmetic), [`options`], [`segment`] (wire
//! parse and emit with checksum), [`send_buffer`], [`recv_buffer`] (bounded reassembly),
//! [`rto`] (RFC 6298), [`congestion`] (RFC 5681 / 6582), [`sack`] (RFC 6675 scoreboard),
//! [`isn`] (RFC 6528), [`config`], [`socket`] (the state machine), [`script`] (a
//! packetdrill-like script runner), [`protocol`] (the `#[protocol]` over IPv4 and the
//! application interface).

pub mod config;
pub mod congestion;
pub mod isn;
pub mod options;
pub mod protocol;
pub mod recv_buffer;
pub mod rto;
pub mod sack;
pub mod script;
pub mod segment;
pub mod send_buffer;
pub mod seq;
pub mod socket;

pub use config::{KeepAlive, TcpConfig};
pub use isn::IsnGenerator;
pub use options::{SackBlock, TcpOptions};
pub use protocol::{AppEvent, Conn, ConnKey, Tcp, TcpApp, TcpPort, TcpProtocolConfig, msg};
pub use segment::{Segment, SegmentError};
pub use seq::SeqNumber;
pub use socket::{DropReason, IcmpError, Outgoing, State, TcpError, TcpEvent, TcpSocket, TcpStats};
