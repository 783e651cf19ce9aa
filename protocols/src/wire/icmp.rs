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

/// Parameter problem.
pub const PARAMETER_PROBLEM: u8 = 12;
/// Destination unreachable code: network unreachable.
pub const CODE_NET_UNREACHABLE: u8 = 0;
/// Destination unreachable code: protocol unreachable.
pub const CODE_PROTOCOL_UNREACHABLE: u8 = 2;
/// Destination unreachable code: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Destination unreachable code: fragmentation needed and DF set.
pub const CODE_FRAG_NEEDED: u8 = 4;
/// Time exceeded code: TTL exceeded in transit.
pub const CODE_TTL_EXCEEDED: u8 = 0;
/// Time exceeded code: fragment reassembly time exceeded.
pub const CODE_REASSEMBLY_EXCEEDED: u8 = 1;

/// Whether an ICMP type is an error message (which never triggers another error).
pub fn is_error(icmp_type: u8) -> bool {
    matches!(
        icmp_type,
        DEST_UNREACHABLE | 4 | 5 | TIME_EXCEEDED | PARAMETER_PROBLEM
    )
}

/// Most bytes of the offending datagram an ICMP error quotes: as much as keeps the error
/// within 576 bytes (RFC 1812 §4.3.2.3) behind a 20-byte IP header and the 8-byte ICMP
/// header.
pub const MAX_ERROR_QUOTE: usize = 576 - 20 - 8;

/// Writes an ICMP error message into `pkt` (which should be empty): the header, then the
/// quoted original datagram — as much of it as fits in a 576-byte error
/// ([`MAX_ERROR_QUOTE`], RFC 1812 §4.3.2.3), and at least its IP header and the first 8
/// bytes of its payload (RFC 792) when it has them. `ip_header_len` is the original's
/// header length.
pub fn write_error(
    pkt: &mut vipe_rt::Packet,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    original: &[u8],
    ip_header_len: usize,
) -> Result<(), vipe_rt::HeaderError> {
    let quote = original.len().min(MAX_ERROR_QUOTE.max(ip_header_len + 8));
    pkt.put_slice(&original[..quote]);
    IcmpHeader {
        icmp_type,
        code,
        checksum: 0,
        rest,
    }
    .push_onto(pkt)
    .map(|_| ())
}
