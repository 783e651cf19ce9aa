//! ICMP (RFC 792): answers echo requests, passes echo replies to an application (a
//! pinger), delivers errors to the protocol they concern, and turns datagrams an upper
//! protocol rejects (a closed UDP port) into destination-unreachable errors.
//!
//! Ports: `ip` to IPv4's `upper(1)`; `app` to a ping application, which sends complete
//! ICMP messages with `meta().dst` set; `errors(protocol)` to each protocol that wants the
//! errors about its datagrams (UDP: 17); `reject` from protocols handing back a datagram
//! (IP header restored) with `meta().mark` = the destination-unreachable code.

use core::net::SocketAddr;

use vipe_rt::prelude::*;

use crate::wire::IcmpHeader;
use crate::wire::icmp::{self, DEST_UNREACHABLE, ECHO_REPLY, ECHO_REQUEST, IcmpHeaderView};
use crate::wire::ipv4::Ipv4HeaderView;

/// The ICMP protocol of a node.
#[protocol(name = "icmp")]
#[derive(Debug, Default)]
pub struct Icmp {
    /// Echo requests answered.
    pub echoes_answered: u64,
}

impl Icmp {
    /// An ICMP instance.
    pub fn new() -> Self {
        Icmp::default()
    }
}

#[protocol(ports(ip, app, errors(u8), reject))]
impl Icmp {
    /// An ICMP message from IPv4 (addresses in `meta().src`/`dst`).
    #[on_packet(port = "ip")]
    fn rx_ip(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let (icmp_type, rest) = match IcmpHeaderView::parse(pkt.data()) {
            Ok(v) if !v.verify_checksum() => return cx.drop_packet(pkt, "bad ICMP checksum"),
            Ok(v) => (v.icmp_type(), v.rest()),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        match icmp_type {
            ECHO_REQUEST => {
                let (src, dst) = (pkt.meta().src, pkt.meta().dst);
                let mut reply = cx.alloc();
                reply.put_slice(&pkt.data()[IcmpHeader::LEN..]);
                drop(pkt);
                let header = IcmpHeader {
                    icmp_type: ECHO_REPLY,
                    code: 0,
                    checksum: 0,
                    rest,
                };
                if let Err(e) = header.push_onto(&mut reply) {
                    return cx.drop_packet(reply, e.reason());
                }
                // Reply from the address the request was sent to, unless that was a
                // broadcast: then IPv4 picks the interface address.
                let from = dst.filter(|d| match d {
                    SocketAddr::V4(a) => !a.ip().is_broadcast() && !a.ip().is_multicast(),
                    SocketAddr::V6(_) => false,
                });
                let meta = reply.meta_mut();
                meta.dst = src;
                meta.src = from;
                self.echoes_answered += 1;
                cx.send(IcmpPort::Ip, reply);
            }
            ECHO_REPLY => cx.send(IcmpPort::App, pkt),
            t if icmp::is_error(t) => {
                let quoted = &pkt.data()[IcmpHeader::LEN..];
                // The quote is a header plus 8 bytes: read its protocol from the fixed part.
                let Some(&protocol) = quoted.get(9) else {
                    return cx.drop_packet(pkt, "ICMP error quotes too little");
                };
                let port = IcmpPort::Errors(protocol);
                if cx.is_connected(port) {
                    cx.send(port, pkt);
                } else if protocol == crate::wire::ipv4::PROTO_ICMP {
                    cx.send(IcmpPort::App, pkt);
                } else {
                    cx.drop_packet(pkt, "no protocol for this ICMP error");
                }
            }
            _ => cx.drop_packet(pkt, "unhandled ICMP type"),
        }
    }

    /// A complete ICMP message from the application (an echo request), to `meta().dst`.
    #[on_packet(port = "app")]
    fn rx_app(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(IcmpPort::Ip, pkt);
    }

    /// Errors are delivered, not received, on `errors`.
    #[on_packet(port = "errors")]
    fn rx_errors(&mut self, cx: &mut Cx<Self>, pkt: Packet, _protocol: u8) {
        cx.drop_packet(pkt, "unexpected packet on the errors port");
    }

    /// A datagram an upper protocol rejected: answer its source with destination
    /// unreachable, code `meta().mark`.
    #[on_packet(port = "reject")]
    fn rx_reject(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let (src, dst, header_len) = match Ipv4HeaderView::parse(pkt.data()) {
            Ok(v) => (v.src(), v.dst(), v.header_len()),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        let code = pkt.meta().mark as u8;
        let mut error = cx.alloc();
        if let Err(e) = icmp::write_error(
            &mut error,
            DEST_UNREACHABLE,
            code,
            [0; 4],
            pkt.data(),
            header_len,
        ) {
            return cx.drop_packet(error, e.reason());
        }
        let meta = error.meta_mut();
        meta.dst = Some(SocketAddr::from((src, 0)));
        meta.src = Some(SocketAddr::from((dst, 0)));
        cx.count("destination unreachable sent");
        cx.send(IcmpPort::Ip, error);
    }
}
