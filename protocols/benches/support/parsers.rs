//! The parsers compared by the `parse` benchmark and the `parse_icount` probe: each reads
//! the same values from an Ethernet + IPv4 + TCP frame.
#![allow(dead_code)]

use vipe_protocols::wire::ethernet::EthernetHeaderView;
use vipe_protocols::wire::ipv4::Ipv4HeaderView;
use vipe_protocols::wire::tcp::TcpHeaderView;

/// A TCP data segment with the timestamp option, as the Linux capture carries them:
/// Ethernet + IPv4 (20) + TCP (32) + 64 bytes of payload.
pub fn tcp_frame() -> Vec<u8> {
    use vipe_protocols::wire::{EthernetHeader, Ipv4Header, TcpHeader};
    use vipe_rt::{Header, Options, checksum};
    let payload = [0x5au8; 64];
    let tcp = TcpHeader {
        src_port: 80,
        dst_port: 40_000,
        seq: 0x1234_5678,
        ack: 0x9abc_def0,
        data_offset: 8,
        reserved: 0,
        flags: 0x18,
        window: 502,
        checksum: 0,
        urgent: 0,
        options: Options::from_slice(&[1, 1, 8, 10, 0, 1, 2, 3, 4, 5, 6, 7]).unwrap(),
    };
    let ip = Ipv4Header {
        version: 4,
        ihl: 5,
        tos: 0,
        total_len: 0,
        ident: 7,
        flags: 0b010,
        frag_offset: 0,
        ttl: 64,
        protocol: 6,
        checksum: 0,
        src: [10, 0, 0, 1],
        dst: [10, 0, 0, 2],
        options: Options::EMPTY,
    };
    let eth = EthernetHeader {
        dst: [2, 0, 0, 0, 0, 2],
        src: [2, 0, 0, 0, 0, 1],
        ethertype: 0x0800,
    };
    let mut buf = vec![0u8; 14 + 20 + 32 + payload.len()];
    buf[66..].copy_from_slice(&payload);
    tcp.emit(&mut buf[34..]).unwrap();
    let sum = checksum::add(
        checksum::pseudo_header_v4(ip.src, ip.dst, 6, (32 + payload.len()) as u16),
        &buf[34..],
    );
    buf[34 + 16..34 + 18].copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
    ip.emit(&mut buf[14..]).unwrap();
    eth.emit(&mut buf).unwrap();
    buf
}

/// What every parser extracts, so all do the same work: EtherType, IPv4 source,
/// protocol, TCP destination port, sequence number and payload length.
pub type Summary = (u16, [u8; 4], u8, u16, u32, usize);

#[inline(never)]
pub fn vipe(frame: &[u8]) -> Option<Summary> {
    let eth = EthernetHeaderView::parse(frame).ok()?;
    let ip = Ipv4HeaderView::parse(eth.payload()).ok()?;
    let tcp = TcpHeaderView::parse(ip.payload()).ok()?;
    Some((
        eth.ethertype(),
        ip.src(),
        ip.protocol(),
        tcp.dst_port(),
        tcp.seq(),
        tcp.payload().len(),
    ))
}

#[inline(never)]
pub fn vipe_checksum(frame: &[u8]) -> Option<Summary> {
    let eth = EthernetHeaderView::parse(frame).ok()?;
    let ip = Ipv4HeaderView::parse(eth.payload()).ok()?;
    if !ip.verify_checksum() {
        return None;
    }
    let tcp = TcpHeaderView::parse(ip.payload()).ok()?;
    Some((
        eth.ethertype(),
        ip.src(),
        ip.protocol(),
        tcp.dst_port(),
        tcp.seq(),
        tcp.payload().len(),
    ))
}

/// etherparse's per-layer slices, with the same length checks as VIPE's parse: the IPv4
/// total length against the buffer, the TCP header against the IP payload.
#[inline(never)]
pub fn etherparse_layers(frame: &[u8]) -> Option<Summary> {
    use etherparse::{Ethernet2HeaderSlice, Ipv4HeaderSlice, TcpHeaderSlice};
    let eth = Ethernet2HeaderSlice::from_slice(frame).ok()?;
    let rest = &frame[eth.slice().len()..];
    let ip = Ipv4HeaderSlice::from_slice(rest).ok()?;
    let l4 = rest.get(ip.slice().len()..usize::from(ip.total_len()))?;
    let tcp = TcpHeaderSlice::from_slice(l4).ok()?;
    Some((
        eth.ether_type().0,
        ip.source(),
        ip.protocol().0,
        tcp.destination_port(),
        tcp.sequence_number(),
        l4.len() - tcp.slice().len(),
    ))
}

#[inline(never)]
pub fn etherparse_sliced(frame: &[u8]) -> Option<Summary> {
    use etherparse::{InternetSlice, LinkSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(LinkSlice::Ethernet2(eth)) = p.link else {
        return None;
    };
    let Some(InternetSlice::Ipv4(ip)) = p.net else {
        return None;
    };
    let Some(TransportSlice::Tcp(tcp)) = p.transport else {
        return None;
    };
    Some((
        eth.ether_type().0,
        ip.header().source(),
        ip.header().protocol().0,
        tcp.destination_port(),
        tcp.sequence_number(),
        tcp.payload().len(),
    ))
}

#[inline(never)]
pub fn smoltcp_checked(frame: &[u8]) -> Option<Summary> {
    use smoltcp::wire::{EthernetFrame, Ipv4Packet, TcpPacket};
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if !ip.verify_checksum() {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((
        u16::from(eth.ethertype()),
        ip.src_addr().octets(),
        u8::from(ip.next_header()),
        tcp.dst_port(),
        tcp.seq_number().0 as u32,
        tcp.payload().len(),
    ))
}
