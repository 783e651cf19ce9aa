//! IPv4 (RFC 791) in host or router mode (RFC 1812): header validation, a routing table
//! with longest-prefix match, forwarding between interfaces with an incremental checksum
//! on the TTL decrement, ICMP time-exceeded and destination-unreachable errors,
//! fragmentation on egress by MTU, and reassembly with a timeout and a memory bound.
//! Options are carried through (and copied into fragments as RFC 791 says).
//!
//! Ports: `lower(iface)` to each interface's ARP instance, `upper(protocol)` to ICMP, UDP,
//! TCP. Upper protocols send with `meta().dst` (and optionally `meta().src`) set; packets
//! they receive carry the addresses in `meta().src`/`dst` and the IP header length in
//! `meta().network_header_len`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use vipe_rt::prelude::*;
use vipe_rt::{Header, Options};

use crate::wire::Ipv4Header;
use crate::wire::icmp::{
    self, CODE_FRAG_NEEDED, CODE_NET_UNREACHABLE, CODE_PROTOCOL_UNREACHABLE,
    CODE_REASSEMBLY_EXCEEDED, CODE_TTL_EXCEEDED, DEST_UNREACHABLE, MAX_ERROR_QUOTE, TIME_EXCEEDED,
};
use crate::wire::ipv4::{FLAG_DF, FLAG_MF, Ipv4HeaderView, PROTO_ICMP};

/// An interface's address and link MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The interface's address.
    pub addr: Ipv4Addr,
    /// Length of the on-link prefix.
    pub prefix_len: u8,
    /// Largest IP packet the link carries.
    pub mtu: usize,
}

/// A route: packets to `prefix/prefix_len` leave on `iface`, via `next_hop` if set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub prefix: Ipv4Addr,
    /// Prefix length (0 for a default route).
    pub prefix_len: u8,
    /// Gateway; `None` for an on-link destination.
    pub next_hop: Option<Ipv4Addr>,
    /// Outgoing interface index.
    pub iface: u8,
}

impl Route {
    fn matches(&self, dst: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.prefix_len);
        u32::from(dst) & mask == u32::from(self.prefix) & mask
    }
}

fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// The smallest MTU: every IPv4 link carries 68-byte datagrams (RFC 791).
pub const MIN_MTU: usize = 68;
/// The largest MTU an IPv4 datagram can use (its total length is 16 bits).
pub const MAX_MTU: usize = 65535;

/// Why [`Ipv4Config::set_mtu`] refused an MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtuError {
    /// No interface has this index.
    NoSuchInterface(u8),
    /// The MTU is outside [`MIN_MTU`]..=[`MAX_MTU`].
    OutOfRange(usize),
}

impl core::fmt::Display for MtuError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MtuError::NoSuchInterface(i) => write!(f, "no interface {i}"),
            MtuError::OutOfRange(mtu) => {
                write!(f, "MTU {mtu} is outside {MIN_MTU}..={MAX_MTU} bytes")
            }
        }
    }
}

impl core::error::Error for MtuError {}

/// How an IPv4 instance behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Config {
    /// Interfaces, by index (the key of the `lower` port).
    pub interfaces: Vec<Interface>,
    /// Routes besides the on-link ones, which are derived from the interfaces.
    pub routes: Vec<Route>,
    /// Router mode: forward packets not addressed to this node.
    pub forwarding: bool,
    /// TTL of packets this node originates.
    pub ttl: u8,
    /// How long fragments wait for the rest of their datagram.
    pub reassembly_timeout: Duration,
    /// Most bytes of fragments held at once; fragments beyond it are dropped.
    pub reassembly_limit: usize,
}

impl Ipv4Config {
    /// A host with one interface and a default route via `gateway`, if given.
    pub fn host(iface: Interface, gateway: Option<Ipv4Addr>) -> Self {
        let routes = gateway
            .map(|gw| Route {
                prefix: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
                next_hop: Some(gw),
                iface: 0,
            })
            .into_iter()
            .collect();
        Ipv4Config {
            interfaces: alloc::vec![iface],
            routes,
            forwarding: false,
            ttl: 64,
            reassembly_timeout: Duration::from_secs(30),
            reassembly_limit: 256 * 1024,
        }
    }

    /// Sets the MTU of interface `iface` (the largest IP packet its link carries):
    /// larger datagrams are fragmented, or answered with "fragmentation needed" (carrying
    /// this MTU) when they forbid it.
    pub fn set_mtu(&mut self, iface: u8, mtu: usize) -> Result<(), MtuError> {
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Err(MtuError::OutOfRange(mtu));
        }
        let entry = self
            .interfaces
            .get_mut(usize::from(iface))
            .ok_or(MtuError::NoSuchInterface(iface))?;
        entry.mtu = mtu;
        Ok(())
    }

    /// A router over `interfaces` with extra `routes`.
    pub fn router(interfaces: Vec<Interface>, routes: Vec<Route>) -> Self {
        Ipv4Config {
            interfaces,
            routes,
            forwarding: true,
            ttl: 64,
            reassembly_timeout: Duration::from_secs(30),
            reassembly_limit: 256 * 1024,
        }
    }
}

/// Fragments of one datagram being reassembled.
#[derive(Debug, Default)]
struct Reassembly {
    /// Header of the first fragment (offset 0), once it arrived.
    first_header: Option<Ipv4Header>,
    /// The first fragment's leading bytes (as many as an ICMP error quotes), for the
    /// error on timeout.
    first_quote: Vec<u8>,
    /// Payload pieces by byte offset.
    pieces: BTreeMap<usize, Vec<u8>>,
    /// Payload length, once the last fragment arrived.
    total: Option<usize>,
    /// Bytes held.
    bytes: usize,
    /// Interface the fragments arrive on.
    iface: u8,
}

/// The IPv4 protocol of a node.
#[protocol(name = "ipv4")]
#[derive(Debug)]
pub struct Ipv4 {
    config: Ipv4Config,
    /// Routes, longest prefix first.
    table: Vec<Route>,
    next_ident: u16,
    reassembly: BTreeMap<(u32, u32, u8, u16), Reassembly>,
    reassembly_bytes: usize,
}

impl Ipv4 {
    /// An IPv4 instance.
    pub fn new(config: Ipv4Config) -> Self {
        let mut table: Vec<Route> = config
            .interfaces
            .iter()
            .enumerate()
            .map(|(i, iface)| Route {
                prefix: iface.addr,
                prefix_len: iface.prefix_len,
                next_hop: None,
                iface: i as u8,
            })
            .chain(config.routes.iter().copied())
            .collect();
        table.sort_by_key(|r| core::cmp::Reverse(r.prefix_len));
        Ipv4 {
            config,
            table,
            next_ident: 1,
            reassembly: BTreeMap::new(),
            reassembly_bytes: 0,
        }
    }

    /// The route for `dst` (longest prefix match).
    pub fn route(&self, dst: Ipv4Addr) -> Option<Route> {
        self.table.iter().find(|r| r.matches(dst)).copied()
    }

    /// Datagrams being reassembled.
    pub fn reassemblies(&self) -> usize {
        self.reassembly.len()
    }

    fn is_local(&self, dst: Ipv4Addr) -> bool {
        dst == Ipv4Addr::BROADCAST
            || self.config.interfaces.iter().any(|i| {
                let mask = prefix_mask(i.prefix_len);
                dst == i.addr || (i.prefix_len < 31 && u32::from(dst) == u32::from(i.addr) | !mask)
            })
    }

    fn is_broadcast_or_multicast(&self, dst: Ipv4Addr) -> bool {
        dst.is_multicast()
            || dst == Ipv4Addr::BROADCAST
            || self.config.interfaces.iter().any(|i| {
                i.prefix_len < 31
                    && u32::from(dst) == u32::from(i.addr) | !prefix_mask(i.prefix_len)
            })
    }

    /// Sends `pkt` (a whole IP datagram) out of `route`, fragmenting it to the MTU.
    /// `arrived_on` is the interface a forwarded datagram came in on: a "fragmentation
    /// needed" error leaves by it, from its address (RFC 1812 §4.3.2.4).
    fn transmit(
        &mut self,
        cx: &mut Cx<Self>,
        mut pkt: Packet,
        dst: Ipv4Addr,
        route: Route,
        arrived_on: Option<u8>,
    ) {
        let Some(iface) = self
            .config
            .interfaces
            .get(usize::from(route.iface))
            .copied()
        else {
            return cx.drop_packet(pkt, "route to a missing interface");
        };
        let next_hop = route.next_hop.unwrap_or(dst);
        let next_hop = if self.is_broadcast_or_multicast(next_hop) && !next_hop.is_multicast() {
            Ipv4Addr::BROADCAST
        } else {
            next_hop
        };
        pkt.meta_mut().next_hop = Some(IpAddr::V4(next_hop));
        if pkt.len() <= iface.mtu {
            return cx.send(Ipv4Port::Lower(route.iface), pkt);
        }
        let header = match Ipv4HeaderView::parse(pkt.data()) {
            Ok(view) => view,
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        if header.flags() & FLAG_DF != 0 {
            let quote_len = header.header_len();
            let mut rest = [0u8; 4];
            rest[2..].copy_from_slice(&(iface.mtu.min(0xffff) as u16).to_be_bytes());
            if let Some(arrived_on) = arrived_on {
                self.send_error(
                    cx,
                    &pkt,
                    quote_len,
                    DEST_UNREACHABLE,
                    CODE_FRAG_NEEDED,
                    rest,
                    arrived_on,
                );
            }
            return cx.drop_packet(pkt, "fragmentation needed but DF set");
        }
        let original = header.to_owned();
        let header_len = header.header_len();
        let copied = copied_options(header.options());
        let payload = &pkt.data()[header_len..];
        let first_room = (iface.mtu - header_len) / 8 * 8;
        let later_room = (iface.mtu - (Ipv4Header::LEN + copied.len())) / 8 * 8;
        if first_room == 0 || later_room == 0 {
            return cx.drop_packet(pkt, "MTU too small to fragment");
        }
        let mut offset = 0;
        while offset < payload.len() {
            let room = if offset == 0 { first_room } else { later_room };
            let end = (offset + room).min(payload.len());
            let last = end == payload.len();
            let mut fragment = cx.alloc();
            fragment.put_slice(&payload[offset..end]);
            let header = Ipv4Header {
                frag_offset: original.frag_offset + (offset / 8) as u16,
                flags: if last {
                    original.flags
                } else {
                    original.flags | FLAG_MF
                },
                options: if offset == 0 {
                    original.options
                } else {
                    copied
                },
                ..original
            };
            if let Err(e) = header.push_onto(&mut fragment) {
                return cx.drop_packet(fragment, e.reason());
            }
            fragment.meta_mut().next_hop = Some(IpAddr::V4(next_hop));
            cx.count("fragments sent");
            cx.send(Ipv4Port::Lower(route.iface), fragment);
            offset = end;
        }
    }

    /// Sends an ICMP error about `original` (a whole datagram whose header is
    /// `header_len` long) back to its source, unless RFC 1812 says not to.
    #[allow(clippy::too_many_arguments)]
    fn send_error(
        &mut self,
        cx: &mut Cx<Self>,
        original: &Packet,
        header_len: usize,
        icmp_type: u8,
        code: u8,
        rest: [u8; 4],
        iface: u8,
    ) {
        if let Ok(view) = Ipv4HeaderView::parse(original.data()) {
            let header = view.to_owned();
            let quote = &original.data()[..original.len().min(MAX_ERROR_QUOTE.max(header_len + 8))];
            self.send_error_about(cx, &header, quote, icmp_type, code, rest, iface);
        }
    }

    /// Sends an ICMP error quoting `quote` (the original's leading bytes, at most
    /// [`MAX_ERROR_QUOTE`]) to the original's source, from the address of interface
    /// `iface`. No error about an error, a non-first fragment, or
    /// a datagram from or to a broadcast or multicast address (RFC 1812 §4.3.2.7).
    #[allow(clippy::too_many_arguments)]
    fn send_error_about(
        &mut self,
        cx: &mut Cx<Self>,
        header: &Ipv4Header,
        quote: &[u8],
        icmp_type: u8,
        code: u8,
        rest: [u8; 4],
        iface: u8,
    ) {
        let src = Ipv4Addr::from(header.src);
        let dst = Ipv4Addr::from(header.dst);
        let header_len = header.header_len();
        if header.frag_offset != 0
            || src.is_unspecified()
            || self.is_broadcast_or_multicast(src)
            || self.is_broadcast_or_multicast(dst)
        {
            return;
        }
        if header.protocol == PROTO_ICMP
            && quote.get(header_len).is_some_and(|t| icmp::is_error(*t))
        {
            return;
        }
        let Some(from) = self
            .config
            .interfaces
            .get(usize::from(iface))
            .map(|i| i.addr)
        else {
            return;
        };
        let mut pkt = cx.alloc();
        if let Err(e) = icmp::write_error(&mut pkt, icmp_type, code, rest, quote, header_len) {
            return cx.drop_packet(pkt, e.reason());
        }
        cx.count("icmp errors sent");
        self.originate(cx, pkt, from, src, PROTO_ICMP);
    }

    /// Sends a payload from this node: builds the header, routes, fragments.
    fn originate(
        &mut self,
        cx: &mut Cx<Self>,
        mut pkt: Packet,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
    ) {
        let header = Ipv4Header {
            version: 4,
            ihl: 5,
            tos: 0,
            total_len: 0,
            ident: self.next_ident,
            flags: 0,
            frag_offset: 0,
            ttl: self.config.ttl,
            protocol,
            checksum: 0,
            src: src.octets(),
            dst: dst.octets(),
            options: Options::EMPTY,
        };
        self.next_ident = self.next_ident.wrapping_add(1);
        if let Err(e) = header.push_onto(&mut pkt) {
            return cx.drop_packet(pkt, e.reason());
        }
        if self.is_local(dst) && dst != Ipv4Addr::BROADCAST {
            return self.deliver(cx, pkt, 0);
        }
        match self.route(dst) {
            Some(route) => self.transmit(cx, pkt, dst, route, None),
            None => cx.drop_packet(pkt, "no route to destination"),
        }
    }

    /// Hands a whole datagram addressed to this node to its upper protocol.
    fn deliver(&mut self, cx: &mut Cx<Self>, mut pkt: Packet, iface: u8) {
        let (src, dst, protocol, header_len) = match Ipv4HeaderView::parse(pkt.data()) {
            Ok(v) => (
                Ipv4Addr::from(v.src()),
                Ipv4Addr::from(v.dst()),
                v.protocol(),
                v.header_len(),
            ),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        let port = Ipv4Port::Upper(protocol);
        if !cx.is_connected(port) {
            if protocol != PROTO_ICMP {
                self.send_error(
                    cx,
                    &pkt,
                    header_len,
                    DEST_UNREACHABLE,
                    CODE_PROTOCOL_UNREACHABLE,
                    [0; 4],
                    iface,
                );
            }
            return cx.drop_packet(pkt, "no protocol for this IP protocol number");
        }
        let meta = pkt.meta_mut();
        meta.src = Some(SocketAddr::new(IpAddr::V4(src), 0));
        meta.dst = Some(SocketAddr::new(IpAddr::V4(dst), 0));
        meta.network_header_len = header_len as u8;
        if pkt.pull(header_len).is_err() {
            return cx.drop_packet(pkt, "truncated header");
        }
        cx.count("datagrams delivered");
        cx.send(port, pkt);
    }

    /// Files a fragment; returns the whole datagram when it is complete.
    fn reassemble(&mut self, cx: &mut Cx<Self>, pkt: Packet, iface: u8) -> Option<Packet> {
        let view = Ipv4HeaderView::parse(pkt.data()).ok()?;
        let key = (
            u32::from_be_bytes(view.src()),
            u32::from_be_bytes(view.dst()),
            view.protocol(),
            view.ident(),
        );
        let offset = usize::from(view.frag_offset()) * 8;
        let data = view.payload();
        let more = view.flags() & FLAG_MF != 0;
        if offset + data.len() > 0xffff - view.header_len() || (more && data.len() % 8 != 0) {
            cx.drop_packet(pkt, "malformed fragment");
            return None;
        }
        if self.reassembly_bytes + data.len() > self.config.reassembly_limit {
            cx.drop_packet(pkt, "reassembly memory full");
            return None;
        }
        let is_new = !self.reassembly.contains_key(&key);
        let entry = self.reassembly.entry(key).or_insert_with(|| Reassembly {
            iface,
            ..Reassembly::default()
        });
        if entry.pieces.contains_key(&offset) {
            cx.drop_packet(pkt, "duplicate fragment");
            return None;
        }
        entry.pieces.insert(offset, data.to_vec());
        entry.bytes += data.len();
        self.reassembly_bytes += data.len();
        if offset == 0 {
            entry.first_header = Some(view.to_owned());
            let quote = pkt.len().min(MAX_ERROR_QUOTE.max(view.header_len() + 8));
            entry.first_quote = pkt.data()[..quote].to_vec();
        }
        if !more {
            entry.total = Some(offset + data.len());
        }
        drop(pkt);
        if is_new {
            cx.start_timer(
                Ipv4Timer::ReassemblyTimeout(key.0, key.1, key.2, key.3),
                self.config.reassembly_timeout,
            );
        }
        // Complete when the first and last fragments are in and the pieces leave no gap.
        let (Some(header), Some(total)) = (entry.first_header, entry.total) else {
            return None;
        };
        let mut covered = 0;
        for (start, piece) in &entry.pieces {
            if *start > covered {
                return None;
            }
            covered = covered.max(start + piece.len());
        }
        if covered < total {
            return None;
        }
        let entry = self.reassembly.remove(&key)?;
        self.reassembly_bytes -= entry.bytes;
        cx.cancel_timer(&Ipv4Timer::ReassemblyTimeout(key.0, key.1, key.2, key.3));
        let mut whole = cx.alloc();
        let mut at = 0;
        for (start, piece) in &entry.pieces {
            if start + piece.len() > at {
                whole.put_slice(&piece[at - start..]);
                at = start + piece.len();
            }
        }
        whole.truncate(total);
        let header = Ipv4Header {
            flags: header.flags & !FLAG_MF,
            frag_offset: 0,
            ..header
        };
        if let Err(e) = header.push_onto(&mut whole) {
            cx.drop_packet(whole, e.reason());
            return None;
        }
        cx.count("datagrams reassembled");
        Some(whole)
    }
}

/// The options RFC 791 copies into every fragment (copy flag set), padded to 4 bytes.
fn copied_options(options: &[u8]) -> Options {
    let mut out = [0u8; 40];
    let mut len = 0;
    let mut i = 0;
    while i < options.len() {
        let kind = options[i];
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let Some(&opt_len) = options.get(i + 1) else {
                    break;
                };
                let opt_len = usize::from(opt_len).max(2);
                let Some(option) = options.get(i..i + opt_len) else {
                    break;
                };
                if kind & 0x80 != 0 && len + opt_len <= out.len() {
                    out[len..len + opt_len].copy_from_slice(option);
                    len += opt_len;
                }
                i += opt_len;
            }
        }
    }
    Options::from_slice(&out[..len.div_ceil(4) * 4]).unwrap_or_default()
}

#[protocol(ports(lower(u8), upper(u8)))]
impl Ipv4 {
    /// A datagram from interface `iface`.
    #[on_packet(port = "lower")]
    fn rx_link(&mut self, cx: &mut Cx<Self>, mut pkt: Packet, iface: u8) {
        let (total, dst, ttl, fragment, checksum_ok, header_len) =
            match Ipv4HeaderView::parse(pkt.data()) {
                Ok(v) => (
                    v.header_len() + v.payload().len(),
                    Ipv4Addr::from(v.dst()),
                    v.ttl(),
                    v.flags() & FLAG_MF != 0 || v.frag_offset() != 0,
                    v.verify_checksum(),
                    v.header_len(),
                ),
                Err(e) => return cx.drop_packet(pkt, e.reason()),
            };
        if !checksum_ok {
            return cx.drop_packet(pkt, "bad IPv4 checksum");
        }
        pkt.truncate(total); // link-layer padding
        if self.is_local(dst) {
            let pkt = if fragment {
                match self.reassemble(cx, pkt, iface) {
                    Some(whole) => whole,
                    None => return,
                }
            } else {
                pkt
            };
            return self.deliver(cx, pkt, iface);
        }
        if !self.config.forwarding {
            return cx.drop_packet(pkt, "not addressed to this host");
        }
        if self.is_broadcast_or_multicast(dst) {
            return cx.drop_packet(pkt, "broadcast not forwarded");
        }
        if ttl <= 1 {
            self.send_error(
                cx,
                &pkt,
                header_len,
                TIME_EXCEEDED,
                CODE_TTL_EXCEEDED,
                [0; 4],
                iface,
            );
            return cx.drop_packet(pkt, "ttl expired in transit");
        }
        let Some(route) = self.route(dst) else {
            self.send_error(
                cx,
                &pkt,
                header_len,
                DEST_UNREACHABLE,
                CODE_NET_UNREACHABLE,
                [0; 4],
                iface,
            );
            return cx.drop_packet(pkt, "no route to destination");
        };
        match Ipv4HeaderView::parse(pkt.data_mut()) {
            Ok(mut view) => view.set_ttl_update_checksum(ttl - 1),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        }
        cx.count("datagrams forwarded");
        self.transmit(cx, pkt, dst, route, Some(iface));
    }

    /// A payload from upper protocol number `protocol`, to `meta().dst`.
    #[on_packet(port = "upper")]
    fn rx_upper(&mut self, cx: &mut Cx<Self>, pkt: Packet, protocol: u8) {
        let Some(SocketAddr::V4(dst)) = pkt.meta().dst else {
            return cx.drop_packet(pkt, "no IPv4 destination");
        };
        let dst = *dst.ip();
        let Some(route) = self.route(dst).or_else(|| {
            self.is_local(dst).then_some(Route {
                prefix: dst,
                prefix_len: 32,
                next_hop: None,
                iface: 0,
            })
        }) else {
            return cx.drop_packet(pkt, "no route to destination");
        };
        let src = match pkt.meta().src {
            Some(SocketAddr::V4(src)) if !src.ip().is_unspecified() => *src.ip(),
            _ => match self.config.interfaces.get(usize::from(route.iface)) {
                Some(iface) => iface.addr,
                None => return cx.drop_packet(pkt, "route to a missing interface"),
            },
        };
        self.originate(cx, pkt, src, dst, protocol);
    }

    #[on_timer]
    fn reassembly_timeout(
        &mut self,
        cx: &mut Cx<Self>,
        src: u32,
        dst: u32,
        protocol: u8,
        ident: u16,
    ) {
        let Some(entry) = self.reassembly.remove(&(src, dst, protocol, ident)) else {
            return;
        };
        self.reassembly_bytes -= entry.bytes;
        cx.count("reassembly timeouts");
        if let Some(header) = entry.first_header {
            // RFC 792: time exceeded, fragment reassembly, if the first fragment arrived.
            self.send_error_about(
                cx,
                &header,
                &entry.first_quote,
                TIME_EXCEEDED,
                CODE_REASSEMBLY_EXCEEDED,
                [0; 4],
                entry.iface,
            );
        }
    }
}
