//! RIP version 2 (RFC 2453): a 4-byte header followed by up to 25 route entries of 20
//! bytes each, filling the rest of the UDP payload. The entries are repeated
//! sub-headers (`#[header(entries)]`), so a message parses, validates and re-emits as
//! one header.

use vipe_rt::Entries;
use vipe_rt::prelude::*;

/// UDP port of RIP.
pub const RIP_PORT: u16 = 520;
/// Command: request.
pub const COMMAND_REQUEST: u8 = 1;
/// Command: response.
pub const COMMAND_RESPONSE: u8 = 2;
/// Address family identifier of IPv4 routes.
pub const AFI_IPV4: u16 = 2;
/// Metric meaning "unreachable".
pub const INFINITY: u32 = 16;
/// Most route entries in one message.
pub const MAX_ENTRIES: usize = 25;

/// One route entry (RFC 2453 §4).
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RipEntry {
    /// Address family (2 for IPv4; 0xffff marks an authentication entry).
    pub afi: u16,
    /// Route tag, an attribute carried for EGP routes.
    pub route_tag: u16,
    /// Destination address.
    pub addr: [u8; 4],
    /// Subnet mask.
    pub mask: [u8; 4],
    /// Next hop (0.0.0.0: via the message's sender).
    pub next_hop: [u8; 4],
    /// Metric, 1 to 16 (16: unreachable). Not range-checked here: an authentication
    /// entry has password bytes in its place.
    pub metric: u32,
}

/// A RIPv2 message: the header and its route entries, which run to the end of the
/// UDP payload (a length not a whole number of entries, or more than 25, is an error).
#[derive(Header, Clone, Debug, PartialEq, Eq)]
pub struct RipMessage {
    /// 1 request, 2 response.
    #[header(min = 1, max = 2)]
    pub command: u8,
    /// Always 2.
    #[header(expect = 2)]
    pub version: u8,
    /// Must be zero.
    pub zero: u16,
    /// The route entries.
    #[header(entries)]
    pub entries: Entries<RipEntry, MAX_ENTRIES>,
}
