//! Ethernet II and the IEEE 802.1Q VLAN tag.

use vipe_rt::prelude::*;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of an IEEE 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// An Ethernet II header (no preamble, no FCS: as TAP devices and pcaps carry frames).
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetHeader {
    /// Destination MAC address.
    pub dst: [u8; 6],
    /// Source MAC address.
    pub src: [u8; 6],
    /// EtherType of the payload (or 0x8100 when a VLAN tag follows).
    #[header(next)]
    pub ethertype: u16,
}

impl EthernetHeader {
    /// Writes the header in front of `packet`'s data, as [`EthernetHeader::push_onto`]
    /// does, straight into the pushed bytes: this fixed header has no length or checksum
    /// field to fill, so nothing can fail (the per-frame path of a router).
    #[inline]
    pub fn push_fixed(&self, packet: &mut Packet) {
        if let Some(header) = packet.push(Self::LEN).first_chunk_mut::<14>() {
            header[..6].copy_from_slice(&self.dst);
            header[6..12].copy_from_slice(&self.src);
            header[12..].copy_from_slice(&self.ethertype.to_be_bytes());
        }
    }
}

/// An IEEE 802.1Q tag, which follows the addresses when the EtherType is 0x8100.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanTag {
    /// Priority code point.
    #[header(bits = 3)]
    pub pcp: u8,
    /// Drop eligible indicator.
    #[header(bits = 1)]
    pub dei: u8,
    /// VLAN identifier.
    #[header(bits = 12)]
    pub vid: u16,
    /// EtherType of the payload.
    #[header(next)]
    pub ethertype: u16,
}

/// Whether `mac` is a multicast (or broadcast) address.
pub fn is_multicast(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 1
}
