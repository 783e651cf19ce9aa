//! Ethernet II: demultiplexes received frames to upper protocols by EtherType (looking
//! through one 802.1Q tag), filters by destination MAC, and frames what the upper
//! protocols send.
//!
//! Ports: `lower` to the device; `upper(ethertype)` to the protocol of each EtherType.
//! [`crate::stack`] connects IPv4 to `upper(0x0800)` both ways (it receives straight
//! from Ethernet) and ARP to it one way (ARP sends what IPv4 sent it, once the next hop
//! is resolved).

use alloc::vec::Vec;

use vipe_rt::prelude::*;

use crate::wire::ethernet::{
    BROADCAST, ETHERTYPE_VLAN, EthernetHeaderView, VlanTagView, is_multicast,
};
use crate::wire::{EthernetHeader, VlanTag};

/// Ethernet's minimum frame length without the FCS.
pub const MIN_FRAME: usize = 60;

/// An Ethernet interface's link layer.
#[protocol(name = "ethernet")]
#[derive(Debug)]
pub struct Ethernet {
    mac: [u8; 6],
    multicast: Vec<[u8; 6]>,
    promiscuous: bool,
}

impl Ethernet {
    /// An interface owning `mac`, accepting unicast to it and broadcast.
    pub fn new(mac: [u8; 6]) -> Self {
        Ethernet {
            mac,
            multicast: Vec::new(),
            promiscuous: false,
        }
    }

    /// Also accepts frames to the multicast group `group`.
    pub fn join(&mut self, group: [u8; 6]) {
        if !self.multicast.contains(&group) {
            self.multicast.push(group);
        }
    }

    /// Accepts every frame, whatever its destination.
    pub fn set_promiscuous(&mut self, on: bool) {
        self.promiscuous = on;
    }

    /// The interface's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn accepts(&self, dst: [u8; 6]) -> bool {
        self.promiscuous
            || dst == self.mac
            || dst == BROADCAST
            || (is_multicast(dst) && self.multicast.contains(&dst))
    }
}

#[protocol(ports(lower, upper(u16)))]
impl Ethernet {
    /// A frame from the wire.
    #[on_packet(port = "lower")]
    fn rx_wire(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let (dst, mut ethertype) = match EthernetHeaderView::parse(pkt.data()) {
            Ok(eth) => (eth.dst(), eth.ethertype()),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        if !self.accepts(dst) {
            return cx.drop_packet(pkt, "not addressed to this interface");
        }
        let mut header_len = EthernetHeader::LEN;
        if ethertype == ETHERTYPE_VLAN {
            match VlanTagView::parse(&pkt.data()[header_len..]) {
                Ok(tag) => ethertype = tag.ethertype(),
                Err(e) => return cx.drop_packet(pkt, e.reason()),
            }
            header_len += VlanTag::LEN;
        }
        if pkt.pull(header_len).is_err() {
            return cx.drop_packet(pkt, "truncated header");
        }
        if let Err(pkt) = cx.try_send(EthernetPort::Upper(ethertype), pkt) {
            cx.drop_packet(pkt, "no protocol for this EtherType");
        }
    }

    /// A packet from an upper protocol, with `meta().link_dst` set.
    #[on_packet(port = "upper")]
    fn rx_upper(&mut self, cx: &mut Cx<Self>, mut pkt: Packet, ethertype: u16) {
        let Some(dst) = pkt.meta().link_dst else {
            return cx.drop_packet(pkt, "no link-layer destination");
        };
        let header = EthernetHeader {
            dst,
            src: self.mac,
            ethertype,
        };
        header.push_fixed(&mut pkt);
        // Pad to the 60-byte minimum as a NIC would (the FCS is not carried).
        let short = MIN_FRAME.saturating_sub(pkt.len());
        if short > 0 {
            pkt.put(short).fill(0);
        }
        cx.send(EthernetPort::Lower, pkt);
    }
}
