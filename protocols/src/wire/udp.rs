//! The UDP header (RFC 768). Its checksum covers a pseudo-header from the IP layer
//! (`checksum = "pseudo"`): the view verifies and fills it given that pseudo-header
//! ([`vipe_rt::checksum::PseudoHeader`], IPv4 or IPv6); `emit` leaves it as given.

use vipe_rt::checksum::PseudoHeader;
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
    /// Checksum over pseudo-header, header and payload (0: none, IPv4 only).
    #[header(checksum = "pseudo")]
    pub checksum: u16,
}

impl<B: vipe_rt::header::SplitByteSlice> UdpHeaderView<B> {
    /// Whether the datagram's checksum is acceptable under `pseudo`: it verifies, or it
    /// is 0 ("no checksum"), which RFC 768 allows over IPv4 and RFC 8200 §8.1 forbids
    /// over IPv6.
    pub fn checksum_ok(&self, pseudo: &PseudoHeader) -> bool {
        if self.checksum() == 0 {
            return !pseudo.is_v6();
        }
        self.verify_checksum_with(pseudo)
    }
}
