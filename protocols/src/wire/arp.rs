//! ARP for IPv4 over Ethernet (RFC 826).

use vipe_rt::prelude::*;

/// ARP request.
pub const OP_REQUEST: u16 = 1;
/// ARP reply.
pub const OP_REPLY: u16 = 2;

/// An ARP packet for IPv4 over Ethernet; other hardware or protocol types fail to parse.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpPacket {
    /// Hardware type: 1 (Ethernet).
    #[header(expect = 1)]
    pub htype: u16,
    /// Protocol type: 0x0800 (IPv4).
    #[header(expect = 0x0800)]
    pub ptype: u16,
    /// Hardware address length: 6.
    #[header(expect = 6)]
    pub hlen: u8,
    /// Protocol address length: 4.
    #[header(expect = 4)]
    pub plen: u8,
    /// Operation: 1 request, 2 reply.
    #[header(min = 1, max = 2)]
    pub oper: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Sender protocol address.
    pub spa: [u8; 4],
    /// Target hardware address.
    pub tha: [u8; 6],
    /// Target protocol address.
    pub tpa: [u8; 4],
}
