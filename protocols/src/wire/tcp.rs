//! The TCP header (RFC 9293). Like UDP's, its checksum covers a pseudo-header
//! (`checksum = "pseudo"`): the view verifies and fills it given that pseudo-header
//! ([`vipe_rt::checksum::PseudoHeader`], IPv4 or IPv6); `emit` leaves it as given.
//! Also the SACK option (RFC 2018) as a header with repeated blocks.

use vipe_rt::prelude::*;
use vipe_rt::{Entries, Options};

/// FIN flag.
pub const FIN: u8 = 0x01;
/// SYN flag.
pub const SYN: u8 = 0x02;
/// RST flag.
pub const RST: u8 = 0x04;
/// PSH flag.
pub const PSH: u8 = 0x08;
/// ACK flag.
pub const ACK: u8 = 0x10;
/// Urgent pointer field significant.
pub const URG: u8 = 0x20;
/// ECN-Echo (RFC 3168): on a SYN, ECN is wanted; on an ACK, congestion was experienced.
pub const ECE: u8 = 0x40;
/// Congestion Window Reduced (RFC 3168): the sender answered an ECN-Echo.
pub const CWR: u8 = 0x80;

/// A TCP header with its options.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
#[header(options_unit = 4)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    #[header(next)]
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Header length in 32-bit words (5 without options).
    #[header(bits = 4, min = 5, header_len = "value * 4", fill = "header_len / 4")]
    pub data_offset: u8,
    /// Reserved bits.
    #[header(bits = 4)]
    pub reserved: u8,
    /// CWR ECE URG ACK PSH RST SYN FIN.
    pub flags: u8,
    /// Receive window.
    pub window: u16,
    /// Checksum over pseudo-header, header and payload.
    #[header(checksum = "pseudo")]
    pub checksum: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options (MSS, SACK, timestamps, window scale, ...).
    #[header(options)]
    pub options: Options,
}

/// Option kind of SACK.
pub const OPTION_SACK: u8 = 5;

/// One SACK block: a received range of sequence numbers, `[left, right)`.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: u32,
    /// Sequence number just past the block.
    pub right: u32,
}

/// The SACK option (RFC 2018 §3): kind 5, a length of 2 + 8n, and n ≤ 4 blocks.
#[derive(Header, Clone, Debug, PartialEq, Eq)]
pub struct SackOption {
    /// Always 5.
    #[header(expect = 5)]
    pub kind: u8,
    /// 2 + 8 × the number of blocks.
    #[header(min = 10, max = 34, header_len = "value", fill = "header_len")]
    pub len: u8,
    /// The blocks.
    #[header(entries)]
    pub blocks: Entries<SackBlock, 4>,
}
