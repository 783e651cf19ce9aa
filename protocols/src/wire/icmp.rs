//! The ICMP header (RFC 792): type, code, checksum over the whole message, and the
//! 4-byte rest-of-header (identifier and sequence for echo).

use vipe_rt::prelude::*;

/// Echo reply.
pub const ECHO_REPLY: u8 = 0;
/// Destination unreachable.
pub const DEST_UNREACHABLE: u8 = 3;
/// Echo request.
pub const ECHO_REQUEST: u8 = 8;
/// Time exceeded.
pub const TIME_EXCEEDED: u8 = 11;

/// An ICMP header; its checksum covers the whole message.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpHeader {
    /// Message type.
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// Checksum over header and payload.
    #[header(checksum = "all")]
    pub checksum: u16,
    /// Type-specific: identifier and sequence number for echo, unused or MTU for errors.
    pub rest: [u8; 4],
}
