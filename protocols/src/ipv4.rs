//! IPv4 (RFC 791) in host or router mode (RFC 1812): header validation, a routing table
//! with longest-prefix match, forwarding between interfaces with an incremental checksum
//! on the TTL decrement, ICMP time-exceeded and destination-unreachable errors,
//! fragmentation on egress by MTU, and reassembly with a timeout and a memory bound.
//! Options are carried through (and copied into fragments as RFC 791 says).
//!
//! Ports: `lower(iface)` to each interface's ARP instance (datagrams to send go down it,
//! and received ones may come up it), `link(iface)` to the interface's link layer
//! directly ([`crate::stack`] connects Ethernet's `upper(0x0800)` here, so received
//! datagrams skip ARP), `upper(protocol)` to ICMP, UDP, TCP.
//!
//! A router's IPv4 (wired by [`crate::stack`]) also learns from ARP's
//! [`NEIGHBOUR_NOTICE`]s which neighbours are resolved, until when: a datagram it forwards
//! to one of them gets `meta().link_dst` here and goes to Ethernet by `link(iface)`
//! directly, as ARP would have sent it; every other datagram goes down `lower(iface)`.
//!
//! Upper protocols send with `meta().dst` (and optionally `meta().src`) set; packets
//! they receive carry the addresses in `meta().src`/`dst`, the IP header length in
//! `meta().network_header_len` and the TOS octet in `meta().tos`. A datagram an upper
//! protocol sends gets `meta().tos` as its TOS octet (Diffserv and ECN, RFC 2474 / 3168)
//! and DF if `meta().dont_fragment` (path MTU discovery).

pub mod reassembly;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use vipe_rt::prelude::*;
use vipe_rt::{Header, Options, gso};

use crate::arp::NEIGHBOUR_NOTICE;
use crate::wire::Ipv4Header;
use crate::wire::icmp::{
    self, CODE_FRAG_NEEDED, CODE_NET_UNREACHABLE, CODE_PROTOCOL_UNREACHABLE,
    CODE_REASSEMBLY_EXCEEDED, CODE_TTL_EXCEEDED, DEST_UNREACHABLE, MAX_ERROR_QUOTE, TIME_EXCEEDED,
};
use crate::wire::ipv4::{FLAG_DF, FLAG_MF, Ipv4HeaderView, PROTO_ICMP};
use reassembly::{FragmentKey, Insert, Reassembler, ReassemblyConfig};

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
    /// Interfaces whose device takes TCP segmentation offload (a Linux TAP with TSO):
    /// an offloaded TCP datagram this node originates leaves by them whole; by any other
    /// interface it is cut into ordinary datagrams here. Default: none.
    pub tso_interfaces: Vec<u8>,
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
            tso_interfaces: Vec::new(),
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
            tso_interfaces: Vec::new(),
        }
    }
}

/// `meta().mark` of an empty packet an upper protocol sends IPv4 as negative advice
/// (RFC 1122 3.3.1.4): the path to `meta().dst` seems dead (TCP sends it when
/// retransmissions reach R1, RFC 9293 MUST-20). IPv4 has the next datagram it
/// originates for that next hop carry [`REVALIDATE_NEXT_HOP`].
pub const NEGATIVE_ADVICE: u32 = 0x1b22_0001;
/// `meta().mark` of a datagram whose next hop the link layer should confirm before
/// sending (after negative advice): ARP forgets its cache entry and resolves again
/// (RFC 1122 2.3.2.1), so a dead neighbour is noticed and a changed one relearned.
pub const REVALIDATE_NEXT_HOP: u32 = 0x1b22_0002;
/// Most next hops with negative advice pending.
const MAX_DOUBTFUL: usize = 16;

/// What forwarding a datagram to `dst` takes, as the slow path found it: `dst` is not
/// local, not a broadcast or multicast address, and has `route`; the datagram leaves for
/// `next_hop` on an interface of `mtu`. It is derived only from the interfaces and the
/// routing table, which do not change after [`Ipv4::new`], so it stays valid while `dst`
/// matches (anything that changed them would have to clear it).
///
/// `neighbour` is the next hop's MAC as ARP last notified it, if it did; ARP's notices
/// keep it current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Forwarding {
    dst: Ipv4Addr,
    route: Route,
    next_hop: Ipv4Addr,
    mtu: usize,
    neighbour: Option<Neighbour>,
}

/// A neighbour's MAC as ARP notified it, valid until `expires`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Neighbour {
    mac: [u8; 6],
    expires: Instant,
}

/// The IPv4 protocol of a node.
#[protocol(name = "ipv4")]
#[derive(Debug)]
pub struct Ipv4 {
    config: Ipv4Config,
    /// Routes, longest prefix first.
    table: Vec<Route>,
    /// Per route in `table`: (prefix & mask, mask), so a lookup does no shifting.
    masks: Vec<(u32, u32)>,
    /// The interfaces' addresses.
    addrs: Vec<u32>,
    /// The interfaces' directed broadcast addresses (prefixes shorter than /31).
    broadcasts: Vec<u32>,
    next_ident: u16,
    /// Datagrams being reassembled, tagged with the interface of their first fragment.
    reassembly: Reassembler<u8>,
    /// Next hops with negative advice (at most [`MAX_DOUBTFUL`]).
    doubtful: Vec<Ipv4Addr>,
    /// The last destination forwarded to, so a run of datagrams to it skips the
    /// is-it-local, broadcast and route lookups.
    last_forwarded: Option<Forwarding>,
    /// Neighbours ARP notified as resolved, by (interface, address): a mirror of the
    /// unicast entries of each interface's ARP cache (ARP notifies what it forgets too).
    neighbours: BTreeMap<(u8, u32), Neighbour>,
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
        let reassembly = Reassembler::new(ReassemblyConfig {
            timeout: config.reassembly_timeout,
            max_bytes: config.reassembly_limit,
            ..ReassemblyConfig::default()
        });
        let masks = table
            .iter()
            .map(|r| {
                let mask = prefix_mask(r.prefix_len);
                (u32::from(r.prefix) & mask, mask)
            })
            .collect();
        let addrs = config
            .interfaces
            .iter()
            .map(|i| u32::from(i.addr))
            .collect();
        let broadcasts = config
            .interfaces
            .iter()
            .filter(|i| i.prefix_len < 31)
            .map(|i| u32::from(i.addr) | !prefix_mask(i.prefix_len))
            .collect();
        Ipv4 {
            config,
            table,
            masks,
            addrs,
            broadcasts,
            next_ident: 1,
            reassembly,
            doubtful: Vec::new(),
            last_forwarded: None,
            neighbours: BTreeMap::new(),
        }
    }

    /// Says whether interface `iface`'s device takes TCP segmentation offload
    /// ([`Ipv4Config::tso_interfaces`]).
    pub fn set_tso(&mut self, iface: u8, on: bool) {
        self.config.tso_interfaces.retain(|&i| i != iface);
        if on {
            self.config.tso_interfaces.push(iface);
        }
    }

    /// The route for `dst` (longest prefix match).
    pub fn route(&self, dst: Ipv4Addr) -> Option<Route> {
        let dst = u32::from(dst);
        let index = self
            .masks
            .iter()
            .position(|&(prefix, mask)| dst & mask == prefix)?;
        self.table.get(index).copied()
    }

    /// Datagrams being reassembled.
    pub fn reassemblies(&self) -> usize {
        self.reassembly.len()
    }

    /// The reassembler, for inspection.
    pub fn reassembler(&self) -> &Reassembler<u8> {
        &self.reassembly
    }

    // `iter().any` rather than `contains`: the slice `contains` of `u32` is vectorised
    // (16 at a time, with setup and a scalar tail), costly for the few addresses a node has.
    #[allow(clippy::manual_contains)]
    #[inline]
    fn is_local(&self, dst: Ipv4Addr) -> bool {
        let dst = u32::from(dst);
        dst == u32::MAX
            || self.addrs.iter().any(|&a| a == dst)
            || self.broadcasts.iter().any(|&b| b == dst)
    }

    #[allow(clippy::manual_contains)] // as in `is_local`
    #[inline]
    fn is_broadcast_or_multicast(&self, dst: Ipv4Addr) -> bool {
        let dst = u32::from(dst);
        // Multicast (224.0.0.0/4) or the limited broadcast, then the directed ones.
        (dst >= 0xe000_0000 && (dst < 0xf000_0000 || dst == u32::MAX))
            || self.broadcasts.iter().any(|&b| b == dst)
    }

    /// Sends `pkt` (a whole IP datagram) out of `route`, fragmenting it to the MTU.
    /// `arrived_on` is the interface a forwarded datagram came in on: a "fragmentation
    /// needed" error leaves by it, from its address (RFC 1812 §4.3.2.4).
    fn transmit(
        &mut self,
        cx: &mut Cx<Self>,
        pkt: Packet,
        dst: Ipv4Addr,
        route: Route,
        arrived_on: Option<u8>,
    ) {
        match self.forwarding(dst, route) {
            Some(way) => self.transmit_via(cx, pkt, way, arrived_on),
            None => cx.drop_packet(pkt, "route to a missing interface"),
        }
    }

    /// How a datagram to `dst` leaves by `route`: its next hop (the limited broadcast for
    /// a directed broadcast one) and the interface's MTU; `None` if the route names a
    /// missing interface.
    fn forwarding(&self, dst: Ipv4Addr, route: Route) -> Option<Forwarding> {
        let iface = self.config.interfaces.get(usize::from(route.iface))?;
        let next_hop = route.next_hop.unwrap_or(dst);
        let next_hop = if self.is_broadcast_or_multicast(next_hop) && !next_hop.is_multicast() {
            Ipv4Addr::BROADCAST
        } else {
            next_hop
        };
        Some(Forwarding {
            dst,
            route,
            next_hop,
            mtu: iface.mtu,
            neighbour: None,
        })
    }

    /// A [`NEIGHBOUR_NOTICE`] from interface `iface`'s ARP: files or forgets the mapping.
    /// Ignored unless `link(iface)` leads to the link layer (else there is no way to use it).
    fn neighbour_notice(&mut self, cx: &mut Cx<Self>, pkt: Packet, iface: u8) {
        let (Some(IpAddr::V4(addr)), Ok(expires)) =
            (pkt.meta().next_hop, <[u8; 8]>::try_from(pkt.data()))
        else {
            return cx.drop_packet(pkt, "malformed neighbour notice");
        };
        if !cx.is_connected(Ipv4Port::Link(iface)) {
            return;
        }
        let key = (iface, u32::from(addr));
        let neighbour = pkt.meta().link_dst.map(|mac| Neighbour {
            mac,
            expires: Instant::from_nanos(u64::from_be_bytes(expires)),
        });
        match neighbour {
            Some(n) => self.neighbours.insert(key, n),
            None => self.neighbours.remove(&key),
        };
        if let Some(way) = &mut self.last_forwarded
            && way.route.iface == iface
            && way.next_hop == addr
        {
            way.neighbour = neighbour;
        }
    }

    /// Forgets what ARP notified about `hop` on `iface` (its next datagram revalidates it).
    fn forget_neighbour(&mut self, iface: u8, hop: Ipv4Addr) {
        self.neighbours.remove(&(iface, u32::from(hop)));
        if let Some(way) = &mut self.last_forwarded
            && way.route.iface == iface
            && way.next_hop == hop
        {
            way.neighbour = None;
        }
    }

    /// [`Ipv4::transmit`] once the next hop and MTU are known: the per-frame path of a
    /// router (offloaded and oversized datagrams are handled out of line).
    #[inline(always)]
    fn transmit_via(
        &mut self,
        cx: &mut Cx<Self>,
        mut pkt: Packet,
        way: Forwarding,
        arrived_on: Option<u8>,
    ) {
        let Forwarding {
            dst,
            route,
            next_hop,
            mtu,
            ..
        } = way;
        pkt.meta_mut().next_hop = Some(IpAddr::V4(next_hop));
        if pkt.meta().offload.is_active() {
            return self.transmit_offloaded(cx, pkt, dst, route, mtu, arrived_on);
        }
        if pkt.len() <= mtu {
            if let Some(n) = way.neighbour
                && n.expires > cx.now()
            {
                // As ARP would: framed for the neighbour, straight to the link layer.
                pkt.meta_mut().link_dst = Some(n.mac);
                return cx.send(Ipv4Port::Link(route.iface), pkt);
            }
            return cx.send(Ipv4Port::Lower(route.iface), pkt);
        }
        self.fragment(cx, pkt, way, arrived_on);
    }

    /// Sends `pkt`, longer than the MTU, in fragments; or, if it forbids fragmentation,
    /// answers with "fragmentation needed". Out of line: it keeps the per-frame path small.
    #[cold]
    #[inline(never)]
    fn fragment(
        &mut self,
        cx: &mut Cx<Self>,
        pkt: Packet,
        way: Forwarding,
        arrived_on: Option<u8>,
    ) {
        let Forwarding {
            route,
            next_hop,
            mtu,
            ..
        } = way;
        let header = match Ipv4HeaderView::parse(pkt.data()) {
            Ok(view) => view,
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        if header.flags() & FLAG_DF != 0 {
            let quote_len = header.header_len();
            let mut rest = [0u8; 4];
            rest[2..].copy_from_slice(&(mtu.min(0xffff) as u16).to_be_bytes());
            // A datagram of our own (TCP's path MTU discovery sets DF) gets the error
            // too, from the outgoing interface: TCP learns the MTU as from a router.
            self.send_error(
                cx,
                &pkt,
                quote_len,
                DEST_UNREACHABLE,
                CODE_FRAG_NEEDED,
                rest,
                arrived_on.unwrap_or(route.iface),
            );
            return cx.drop_packet(pkt, "fragmentation needed but DF set");
        }
        let original = header.to_owned();
        let header_len = header.header_len();
        let copied = copied_options(header.options());
        let payload = &pkt.data()[header_len..];
        let first_room = (mtu - header_len) / 8 * 8;
        let later_room = (mtu - (Ipv4Header::LEN + copied.len())) / 8 * 8;
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

    /// Sends a payload from this node: builds the header (TOS and DF as `meta()` asks),
    /// routes, fragments.
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
            tos: pkt.meta().tos,
            total_len: 0,
            ident: self.next_ident,
            flags: if pkt.meta().dont_fragment { FLAG_DF } else { 0 },
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
        let offloaded = pkt.meta().offload.is_active();
        if offloaded {
            // The upper protocol knew where its own header starts; ours starts here.
            pkt.meta_mut().offload.net_start = pkt.headroom() as u32;
            if pkt.meta().offload.gso != gso::GsoKind::None {
                // Identifications for every segment it stands for (as the kernel does).
                let n = offloaded_segments(&pkt);
                self.next_ident = self.next_ident.wrapping_add(n.saturating_sub(1) as u16);
            }
        }
        if self.is_local(dst) && dst != Ipv4Addr::BROADCAST {
            if offloaded {
                return self.deliver_ordinary(cx, pkt, 0);
            }
            return self.deliver(cx, pkt, 0);
        }
        match self.route(dst) {
            Some(route) => {
                if !self.doubtful.is_empty() {
                    let hop = route.next_hop.unwrap_or(dst);
                    if let Some(i) = self.doubtful.iter().position(|&d| d == hop) {
                        self.doubtful.swap_remove(i);
                        self.forget_neighbour(route.iface, hop);
                        pkt.meta_mut().mark = REVALIDATE_NEXT_HOP;
                        cx.count("next hops revalidated after negative advice");
                    }
                }
                if offloaded
                    && pkt.meta().offload.gso == gso::GsoKind::Tcp
                    && !self.config.tso_interfaces.contains(&route.iface)
                {
                    return self.originate_segmented(cx, pkt, dst, route);
                }
                self.transmit(cx, pkt, dst, route, None)
            }
            None => cx.drop_packet(pkt, "no route to destination"),
        }
    }

    /// Hands a whole datagram addressed to this node to its upper protocol.
    fn deliver(&mut self, cx: &mut Cx<Self>, mut pkt: Packet, iface: u8) {
        let (src, dst, protocol, header_len, tos) = match Ipv4HeaderView::parse(pkt.data()) {
            Ok(v) => (
                Ipv4Addr::from(v.src()),
                Ipv4Addr::from(v.dst()),
                v.protocol(),
                v.header_len(),
                v.tos(),
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
        meta.tos = tos;
        if pkt.pull(header_len).is_err() {
            return cx.drop_packet(pkt, "truncated header");
        }
        cx.count("datagrams delivered");
        cx.send(port, pkt);
    }

    /// Files a fragment; returns the whole datagram when it is complete.
    fn reassemble(&mut self, cx: &mut Cx<Self>, pkt: Packet, iface: u8) -> Option<Packet> {
        let timer = |key: FragmentKey| {
            Ipv4Timer::ReassemblyTimeout(
                u32::from_be_bytes(key.src),
                u32::from_be_bytes(key.dst),
                key.protocol,
                key.ident,
            )
        };
        match self.reassembly.insert(cx.now(), pkt.data(), iface) {
            Insert::Pending {
                key,
                started,
                deadline,
            } => {
                drop(pkt);
                if started {
                    cx.start_timer_at(timer(key), deadline);
                }
                None
            }
            Insert::Complete(key, whole) => {
                drop(pkt);
                cx.cancel_timer(&timer(key));
                let mut out = cx.alloc();
                out.put_slice(&whole.payload);
                if let Err(e) = whole.header.push_onto(&mut out) {
                    cx.drop_packet(out, e.reason());
                    return None;
                }
                cx.count("datagrams reassembled");
                Some(out)
            }
            Insert::Dropped(reason) => {
                cx.drop_packet(pkt, reason);
                None
            }
        }
    }
}

/// Segmentation offload: large TCP/UDP segments (up to 64 KB, `meta().offload`) from a
/// device with offloads, e.g. a Linux TAP with TSO. A router forwards them whole when
/// their segments fit the egress MTU (the platform segments them in software if the
/// egress device takes only ordinary frames); otherwise, and before anything is delivered
/// to an upper protocol, they are cut into ordinary packets here.
impl Ipv4 {
    /// Delivers an offloaded datagram addressed to this node as ordinary datagrams: upper
    /// protocols never see offload state.
    fn deliver_ordinary(&mut self, cx: &mut Cx<Self>, pkt: Packet, iface: u8) {
        let pool = cx.pool().clone();
        let mut segments = Vec::new();
        match gso::for_each_ordinary(pkt, &pool, |s| segments.push(s)) {
            Ok(()) => {
                if segments.len() > 1 {
                    cx.count("offloaded datagrams delivered as segments");
                }
                for segment in segments {
                    self.deliver(cx, segment, iface);
                }
            }
            Err((pkt, e)) => cx.drop_packet(pkt, e.reason()),
        }
    }

    /// Sends an offloaded TCP datagram of our own by an interface whose device does not
    /// take segmentation offload: cut into ordinary datagrams (full checksums), each
    /// sent like any datagram.
    fn originate_segmented(&mut self, cx: &mut Cx<Self>, pkt: Packet, dst: Ipv4Addr, route: Route) {
        let pool = cx.pool().clone();
        let mut segments = Vec::new();
        if let Err((pkt, e)) = gso::for_each_ordinary(pkt, &pool, |s| segments.push(s)) {
            return cx.drop_packet(pkt, e.reason());
        }
        cx.count("offloaded datagrams of our own segmented");
        for segment in segments {
            self.transmit(cx, segment, dst, route, None);
        }
    }

    /// Sends an offloaded datagram out of `route`: whole if every segment it stands for
    /// fits `mtu`, else as ordinary segments, each sent (and fragmented, or refused if
    /// DF is set) like any datagram.
    #[inline(never)]
    fn transmit_offloaded(
        &mut self,
        cx: &mut Cx<Self>,
        pkt: Packet,
        dst: Ipv4Addr,
        route: Route,
        mtu: usize,
        arrived_on: Option<u8>,
    ) {
        let whole = match gso::segment_len(&pkt) {
            Ok(len) => {
                len <= mtu && (pkt.meta().offload.gso != gso::GsoKind::None || pkt.len() <= mtu)
            }
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        if whole {
            return cx.send(Ipv4Port::Lower(route.iface), pkt);
        }
        let pool = cx.pool().clone();
        let mut segments = Vec::new();
        if let Err((pkt, e)) = gso::for_each_ordinary(pkt, &pool, |s| segments.push(s)) {
            return cx.drop_packet(pkt, e.reason());
        }
        cx.count("offloaded datagrams segmented");
        for segment in segments {
            self.transmit(cx, segment, dst, route, arrived_on);
        }
    }
}

/// How many segments an offloaded TCP datagram (IPv4 header of 20 bytes at its start)
/// stands for; 1 if that cannot be told.
fn offloaded_segments(pkt: &Packet) -> usize {
    let size = usize::from(pkt.meta().offload.gso_size);
    let Some(&off) = pkt.data().get(20 + 12) else {
        return 1;
    };
    let payload = pkt.len().saturating_sub(20 + usize::from(off >> 4) * 4);
    if size == 0 {
        1
    } else {
        payload.div_ceil(size).max(1)
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

#[protocol(ports(lower(u8), upper(u8), link(u8)))]
impl Ipv4 {
    /// A datagram from interface `iface`, by way of its ARP instance.
    #[on_packet(port = "lower")]
    fn rx_lower(&mut self, cx: &mut Cx<Self>, pkt: Packet, iface: u8) {
        if pkt.meta().mark == NEIGHBOUR_NOTICE {
            return self.neighbour_notice(cx, pkt, iface);
        }
        self.rx_link(cx, pkt, iface);
    }

    /// A datagram from interface `iface`, straight from its link layer.
    #[on_packet(port = "link")]
    fn rx_direct(&mut self, cx: &mut Cx<Self>, pkt: Packet, iface: u8) {
        self.rx_link(cx, pkt, iface);
    }

    /// A datagram received on interface `iface`: validated, then delivered or forwarded.
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
        if pkt.len() > total {
            pkt.truncate(total); // link-layer padding
        }
        let way = match self.last_forwarded.filter(|way| way.dst == dst) {
            // Forwarded to before: not local, not a broadcast, routed (see `Forwarding`).
            Some(way) => {
                if ttl <= 1 {
                    return self.ttl_expired(cx, pkt, header_len, iface);
                }
                way
            }
            _ => match self.classify(cx, pkt, iface, dst, ttl, fragment, header_len) {
                Some((pkt_back, way)) => {
                    pkt = pkt_back;
                    way
                }
                None => return,
            },
        };
        // TTL − 1 with the RFC 1624 update, on the header validated above (the TTL and
        // protocol share a 16-bit word).
        if let Some(header) = pkt.data_mut().first_chunk_mut::<12>() {
            let old = u16::from_be_bytes([header[8], header[9]]);
            let new = old - 0x0100;
            let checksum = u16::from_be_bytes([header[10], header[11]]);
            header[8] = ttl - 1;
            header[10..12]
                .copy_from_slice(&vipe_rt::checksum::update(checksum, old, new).to_be_bytes());
        }
        cx.count("datagrams forwarded");
        self.transmit_via(cx, pkt, way, Some(iface));
    }

    /// Sends "time exceeded" for a datagram that arrived on `iface` with TTL 1 or 0, and
    /// drops it.
    fn ttl_expired(&mut self, cx: &mut Cx<Self>, pkt: Packet, header_len: usize, iface: u8) {
        self.send_error(
            cx,
            &pkt,
            header_len,
            TIME_EXCEEDED,
            CODE_TTL_EXCEEDED,
            [0; 4],
            iface,
        );
        cx.drop_packet(pkt, "ttl expired in transit");
    }

    /// The slow path of a received datagram to `dst` not forwarded to just before: delivers
    /// it if local, or drops it (with an ICMP error where due) if it cannot be forwarded;
    /// else hands it back with how to forward it, which is remembered for the next one.
    #[allow(clippy::too_many_arguments)]
    fn classify(
        &mut self,
        cx: &mut Cx<Self>,
        pkt: Packet,
        iface: u8,
        dst: Ipv4Addr,
        ttl: u8,
        fragment: bool,
        header_len: usize,
    ) -> Option<(Packet, Forwarding)> {
        if self.is_local(dst) {
            if pkt.meta().offload.is_active() {
                self.deliver_ordinary(cx, pkt, iface);
                return None;
            }
            let whole = if fragment {
                self.reassemble(cx, pkt, iface)
            } else {
                Some(pkt)
            };
            if let Some(whole) = whole {
                self.deliver(cx, whole, iface);
            }
            return None;
        }
        if !self.config.forwarding {
            cx.drop_packet(pkt, "not addressed to this host");
            return None;
        }
        if self.is_broadcast_or_multicast(dst) {
            cx.drop_packet(pkt, "broadcast not forwarded");
            return None;
        }
        if ttl <= 1 {
            self.ttl_expired(cx, pkt, header_len, iface);
            return None;
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
            cx.drop_packet(pkt, "no route to destination");
            return None;
        };
        let Some(mut way) = self.forwarding(dst, route) else {
            cx.count("datagrams forwarded");
            cx.drop_packet(pkt, "route to a missing interface");
            return None;
        };
        way.neighbour = self
            .neighbours
            .get(&(route.iface, u32::from(way.next_hop)))
            .copied();
        self.last_forwarded = Some(way);
        Some((pkt, way))
    }

    /// A payload from upper protocol number `protocol`, to `meta().dst`.
    #[on_packet(port = "upper")]
    fn rx_upper(&mut self, cx: &mut Cx<Self>, pkt: Packet, protocol: u8) {
        let Some(SocketAddr::V4(dst)) = pkt.meta().dst else {
            return cx.drop_packet(pkt, "no IPv4 destination");
        };
        let dst = *dst.ip();
        if pkt.meta().mark == NEGATIVE_ADVICE && pkt.is_empty() {
            // RFC 1122 3.3.1.4: remember the next hop; its next datagram revalidates it.
            if let Some(route) = self.route(dst) {
                let hop = route.next_hop.unwrap_or(dst);
                if !self.doubtful.contains(&hop) && self.doubtful.len() < MAX_DOUBTFUL {
                    self.doubtful.push(hop);
                }
            }
            cx.count("negative advice");
            return;
        }
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
        let key = FragmentKey {
            src: src.to_be_bytes(),
            dst: dst.to_be_bytes(),
            protocol,
            ident,
        };
        let Some(entry) = self.reassembly.discard(&key) else {
            return;
        };
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
                entry.tag,
            );
        }
    }
}
