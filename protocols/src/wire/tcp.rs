//! The TCP header (RFC 9293). Like UDP's, its checksum covers a pseudo-header, so the
//! TCP protocol computes it with `vipe_rt::checksum`.

use vipe_rt::Options;
use vipe_rt::prelude::*;

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
    pub checksum: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options (MSS, SACK, timestamps, window scale, ...).
    #[header(options)]
    pub options: Options,
}
