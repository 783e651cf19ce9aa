//! UDP (RFC 768): checksum with the IPv4 pseudo-header, demultiplexing by destination
//! port to applications, ICMP port unreachable for closed ports, and ICMP errors passed
//! to the application whose datagram caused them.
//!
//! Ports: `ip` to IPv4's `upper(17)`; `app(port)` to the application bound to a local
//! port — it sends payloads with `meta().dst` set and receives them with `meta().src` set
//! (an ICMP error arrives with `meta().mark == ICMP_ERROR_MARK` and the ICMP message as
//! its bytes); `icmp` from ICMP's `errors(17)`; `reject` to ICMP's `reject`.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use vipe_rt::checksum;
use vipe_rt::prelude::*;

use crate::wire::icmp::CODE_PORT_UNREACHABLE;
use crate::wire::ipv4::PROTO_UDP;
use crate::wire::udp::UdpHeaderView;
use crate::wire::{IcmpHeader, UdpHeader};

/// `meta().mark` of an ICMP error handed to an application.
pub const ICMP_ERROR_MARK: u32 = 0x1c4e_0001;

/// The UDP protocol of a node.
#[protocol(name = "udp")]
#[derive(Debug)]
pub struct Udp {
    local: Ipv4Addr,
}

impl Udp {
    /// UDP for a host whose datagrams leave from `local` unless the application says
    /// otherwise.
    pub fn new(local: Ipv4Addr) -> Self {
        Udp { local }
    }
}

fn v4(addr: Option<SocketAddr>) -> Option<(Ipv4Addr, u16)> {
    match addr {
        Some(SocketAddr::V4(a)) => Some((*a.ip(), a.port())),
        _ => None,
    }
}

#[protocol(ports(ip, app(u16), icmp, reject))]
impl Udp {
    /// A datagram from IPv4.
    #[on_packet(port = "ip")]
    fn rx_ip(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let (Some((src, _)), Some((dst, _))) = (v4(pkt.meta().src), v4(pkt.meta().dst)) else {
            return cx.drop_packet(pkt, "no IPv4 addresses");
        };
        let (src_port, dst_port, sum, len) = match UdpHeaderView::parse(pkt.data()) {
            Ok(v) => (
                v.src_port(),
                v.dst_port(),
                v.checksum(),
                v.header_len() + v.payload().len(),
            ),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        pkt.truncate(len);
        if sum != 0 {
            let pseudo =
                checksum::pseudo_header_v4(src.octets(), dst.octets(), PROTO_UDP, len as u16);
            if checksum::fold(checksum::add(pseudo, pkt.data())) != 0xffff {
                return cx.drop_packet(pkt, "bad UDP checksum");
            }
        }
        let port = UdpPort::App(dst_port);
        if !cx.is_connected(port) {
            if dst.is_broadcast() || dst.is_multicast() {
                return cx.drop_packet(pkt, "closed port (broadcast)");
            }
            // Restore the IP header so ICMP can quote the datagram.
            let header_len = usize::from(pkt.meta().network_header_len);
            pkt.push(header_len);
            pkt.meta_mut().mark = u32::from(CODE_PORT_UNREACHABLE);
            cx.count("closed port");
            return cx.send(UdpPort::Reject, pkt);
        }
        if pkt.pull(UdpHeader::LEN).is_err() {
            return cx.drop_packet(pkt, "truncated header");
        }
        let meta = pkt.meta_mut();
        meta.src = Some(SocketAddr::from((src, src_port)));
        meta.dst = Some(SocketAddr::from((dst, dst_port)));
        cx.send(port, pkt);
    }

    /// A payload from the application bound to `port`, to `meta().dst`.
    #[on_packet(port = "app")]
    fn rx_app(&mut self, cx: &mut Cx<Self>, mut pkt: Packet, port: u16) {
        let Some((dst, dst_port)) = v4(pkt.meta().dst) else {
            return cx.drop_packet(pkt, "no IPv4 destination");
        };
        let src = v4(pkt.meta().src)
            .map(|(ip, _)| ip)
            .filter(|ip| !ip.is_unspecified())
            .unwrap_or(self.local);
        let header = UdpHeader {
            src_port: port,
            dst_port,
            length: 0,
            checksum: 0,
        };
        if let Err(e) = header.push_onto(&mut pkt) {
            return cx.drop_packet(pkt, e.reason());
        }
        let len = pkt.len();
        let pseudo = checksum::pseudo_header_v4(src.octets(), dst.octets(), PROTO_UDP, len as u16);
        let sum = match !checksum::fold(checksum::add(pseudo, pkt.data())) {
            0 => 0xffff, // RFC 768: a computed zero is sent as all ones
            sum => sum,
        };
        pkt.data_mut()[6..8].copy_from_slice(&sum.to_be_bytes());
        let meta = pkt.meta_mut();
        meta.src = Some(SocketAddr::new(IpAddr::V4(src), port));
        meta.dst = Some(SocketAddr::new(IpAddr::V4(dst), dst_port));
        cx.send(UdpPort::Ip, pkt);
    }

    /// An ICMP error about one of our datagrams: to the application that sent it.
    #[on_packet(port = "icmp")]
    fn rx_icmp(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        // The quoted IP header's length, then the quoted UDP source port (our port).
        let quoted = pkt.data().get(IcmpHeader::LEN..).unwrap_or_default();
        let Some(header_len) = quoted.first().map(|b| usize::from(b & 0x0f) * 4) else {
            return cx.drop_packet(pkt, "ICMP error quotes too little");
        };
        let Some(port) = quoted
            .get(header_len..header_len + 2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
        else {
            return cx.drop_packet(pkt, "ICMP error quotes too little");
        };
        let app = UdpPort::App(port);
        if !cx.is_connected(app) {
            return cx.drop_packet(pkt, "ICMP error for a closed port");
        }
        pkt.meta_mut().mark = ICMP_ERROR_MARK;
        cx.count("icmp errors delivered");
        cx.send(app, pkt);
    }

    /// Rejections leave on `reject`; nothing arrives there.
    #[on_packet(port = "reject")]
    fn rx_reject(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.drop_packet(pkt, "unexpected packet on the reject port");
    }
}
