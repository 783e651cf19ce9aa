//! The UDP header (RFC 768). Its checksum covers a pseudo-header from the IP layer, so it
//! is computed by the UDP protocol with `vipe_rt::checksum`, not by the header itself.

use vipe_rt::prelude::*;

/// A UDP header.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    #[header(next)]
    pub dst_port: u16,
    /// Header plus payload, in bytes.
    #[header(min = 8, total_len = "value", fill = "header_len + payload_len")]
    pub length: u16,
    /// Checksum over pseudo-header, header and payload (0: none).
    pub checksum: u16,
}
