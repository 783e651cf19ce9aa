//! The IPv4 header (RFC 791).

use vipe_rt::Options;
use vipe_rt::prelude::*;

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// "Don't fragment" in `flags`.
pub const FLAG_DF: u8 = 0b010;
/// "More fragments" in `flags`.
pub const FLAG_MF: u8 = 0b001;

/// An IPv4 header with its options.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
#[header(options_unit = 4)]
pub struct Ipv4Header {
    /// Always 4.
    #[header(bits = 4, expect = 4)]
    pub version: u8,
    /// Header length in 32-bit words (5 without options).
    #[header(bits = 4, min = 5, header_len = "value * 4", fill = "header_len / 4")]
    pub ihl: u8,
    /// DSCP and ECN.
    pub tos: u8,
    /// Header plus payload, in bytes.
    #[header(total_len = "value", fill = "header_len + payload_len")]
    pub total_len: u16,
    /// Identification, shared by the fragments of one datagram.
    pub ident: u16,
    /// Reserved, DF, MF.
    #[header(bits = 3)]
    pub flags: u8,
    /// Fragment offset in 8-byte units.
    #[header(bits = 13)]
    pub frag_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Payload protocol.
    #[header(next)]
    pub protocol: u8,
    /// Header checksum.
    #[header(checksum)]
    pub checksum: u16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// Options (up to 40 bytes, a multiple of 4).
    #[header(options)]
    pub options: Options,
}
