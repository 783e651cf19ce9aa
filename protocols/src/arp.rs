//! ARP (RFC 826) for IPv4 over Ethernet: answers for its own addresses, resolves next
//! hops for IPv4 with a bounded cache whose entries expire (the least recently learned
//! entry is evicted when it is full), retries requests, holds packets for unresolved
//! addresses in queues bounded by bytes (per neighbour and in total), and announces
//! itself with gratuitous ARP.
//!
//! It sits between IPv4 and Ethernet: IPv4 packets come down on `ip` with
//! `meta().next_hop` set and leave on `link` with `meta().link_dst` set; IPv4 frames from
//! `link` go straight up to `ip`; ARP's own packets use `arp`.
//!
//! With [`ArpConfig::notify_ip`] on, ARP also tells IPv4 each mapping it learns or forgets
//! ([`NEIGHBOUR_NOTICE`]), so that a router's IPv4 can frame the datagrams it forwards to
//! a resolved neighbour itself and hand them to Ethernet directly.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};

use vipe_rt::prelude::*;

use crate::wire::ArpPacket;
use crate::wire::arp::{ArpPacketView, OP_REPLY, OP_REQUEST};
use crate::wire::ethernet::BROADCAST;

/// `meta().mark` of the notices ARP sends up `ip` when [`ArpConfig::notify_ip`] is on: an
/// 8-byte packet saying that the MAC of `meta().next_hop` (a unicast IPv4 address) is
/// `meta().link_dst` until the instant its payload holds (nanoseconds, big-endian), or,
/// with `link_dst` `None`, that ARP forgot it.
pub const NEIGHBOUR_NOTICE: u32 = 0x1b22_0003;

/// How an ARP instance behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpConfig {
    /// The interface's MAC address.
    pub mac: [u8; 6],
    /// The IPv4 addresses it answers for.
    pub addrs: Vec<Ipv4Addr>,
    /// How long a learned mapping stays valid.
    pub entry_lifetime: Duration,
    /// Time between requests for an unresolved address.
    pub retry_interval: Duration,
    /// Requests sent before giving up on an address.
    pub max_requests: u8,
    /// Bytes of packets held per unresolved address; a packet beyond it is dropped
    /// (`"arp queue full"`). Enough for a whole 65,535-byte datagram in fragments.
    pub queue_bytes: usize,
    /// Bytes of packets held for all unresolved addresses together; a packet beyond it
    /// is dropped (`"arp queues full"`).
    pub total_queue_bytes: usize,
    /// Most cache entries; learning one more evicts the least recently learned entry
    /// (counted as `"arp cache evictions"`).
    pub cache_limit: usize,
    /// Send a gratuitous ARP for each address at start.
    pub announce: bool,
    /// Tell IPv4 each mapping learned or forgotten ([`NEIGHBOUR_NOTICE`] up `ip`).
    /// Default: off ([`crate::stack`] turns it on where IPv4 can use it).
    pub notify_ip: bool,
}

impl ArpConfig {
    /// Defaults: 60 s entries, 1 s between 3 requests, 96 KiB queued per unresolved
    /// address and 1 MiB in all, 1024 cache entries, announce.
    pub fn new(mac: [u8; 6], addrs: Vec<Ipv4Addr>) -> Self {
        ArpConfig {
            mac,
            addrs,
            entry_lifetime: Duration::from_secs(60),
            retry_interval: Duration::from_secs(1),
            max_requests: 3,
            queue_bytes: 96 * 1024,
            total_queue_bytes: 1024 * 1024,
            cache_limit: 1024,
            announce: true,
            notify_ip: false,
        }
    }
}

#[derive(Debug)]
struct Entry {
    mac: [u8; 6],
    expires: Instant,
    /// When it was learned, in learning order (the key of `Arp::order`).
    learned: u64,
}

#[derive(Debug, Default)]
struct Pending {
    queue: VecDeque<Packet>,
    /// Bytes of the packets in `queue`.
    bytes: usize,
    requests: u8,
}

/// The ARP protocol for one interface.
#[protocol(name = "arp")]
#[derive(Debug)]
pub struct Arp {
    config: ArpConfig,
    cache: BTreeMap<u32, Entry>,
    /// Cache keys by learning order, oldest first (for eviction).
    order: BTreeMap<u64, u32>,
    /// Learnings so far: the next entry's `learned`.
    learnings: u64,
    pending: BTreeMap<u32, Pending>,
    /// Bytes queued for all unresolved addresses.
    queued_bytes: usize,
    /// The next hop last resolved from `cache`, with its entry's MAC and expiry, so a run
    /// of packets to one neighbour skips the map lookup. Cleared whenever `cache` changes.
    last_resolved: Option<Resolved>,
}

/// A cache entry as [`Arp::rx_ip`] last found it.
#[derive(Clone, Copy, Debug)]
struct Resolved {
    ip: u32,
    mac: [u8; 6],
    expires: Instant,
}

impl Arp {
    /// An ARP instance.
    pub fn new(config: ArpConfig) -> Self {
        Arp {
            config,
            cache: BTreeMap::new(),
            order: BTreeMap::new(),
            learnings: 0,
            pending: BTreeMap::new(),
            queued_bytes: 0,
            last_resolved: None,
        }
    }

    /// The cached hardware address of `ip`, if known and fresh at `now`.
    pub fn lookup(&self, ip: Ipv4Addr, now: Instant) -> Option<[u8; 6]> {
        self.cache
            .get(&u32::from(ip))
            .filter(|e| e.expires > now)
            .map(|e| e.mac)
    }

    /// Number of cache entries (fresh or not yet swept).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Bytes of packets waiting for addresses to resolve.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Addresses being resolved.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn owns(&self, ip: [u8; 4]) -> bool {
        self.config.addrs.contains(&Ipv4Addr::from(ip))
    }

    /// The fresh cached MAC of next hop `ip` (a unicast address), remembering the entry for
    /// the next packet.
    #[inline]
    fn resolve(&mut self, ip: u32, now: Instant) -> Option<[u8; 6]> {
        if let Some(last) = self.last_resolved
            && last.ip == ip
            && last.expires > now
        {
            return Some(last.mac);
        }
        let entry = self.cache.get(&ip).filter(|e| e.expires > now)?;
        self.last_resolved = Some(Resolved {
            ip,
            mac: entry.mac,
            expires: entry.expires,
        });
        Some(entry.mac)
    }

    fn learn(&mut self, cx: &mut Cx<Self>, ip: [u8; 4], mac: [u8; 6]) {
        self.last_resolved = None;
        let key = u32::from_be_bytes(ip);
        let learned = self.learnings;
        self.learnings += 1;
        let entry = Entry {
            mac,
            expires: cx.now() + self.config.entry_lifetime,
            learned,
        };
        let expires = entry.expires;
        if let Some(old) = self.cache.insert(key, entry) {
            self.order.remove(&old.learned);
        }
        self.order.insert(learned, key);
        self.notify(cx, key, Some((mac, expires)));
        while self.cache.len() > self.config.cache_limit.max(1) {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.cache.remove(&oldest);
            self.notify(cx, oldest, None);
            cx.count("arp cache evictions");
        }
        if let Some(pending) = self.pending.remove(&key) {
            self.queued_bytes -= pending.bytes;
            cx.cancel_timer(&ArpTimer::Retry(key));
            for mut pkt in pending.queue {
                pkt.meta_mut().link_dst = Some(mac);
                cx.send(ArpPort::Link, pkt);
            }
        }
    }

    /// Tells IPv4 (if [`ArpConfig::notify_ip`]) that unicast address `ip` maps to a MAC
    /// until an instant, or no longer maps to any.
    fn notify(&self, cx: &mut Cx<Self>, ip: u32, mapping: Option<([u8; 6], Instant)>) {
        let addr = Ipv4Addr::from(ip);
        if !self.config.notify_ip
            || addr.is_broadcast()
            || addr.is_multicast()
            || addr.is_unspecified()
        {
            return;
        }
        let mut pkt = cx.alloc();
        let expires = mapping.map_or(Instant::ZERO, |(_, expires)| expires);
        pkt.put_slice(&expires.as_nanos().to_be_bytes());
        let meta = pkt.meta_mut();
        meta.mark = NEIGHBOUR_NOTICE;
        meta.next_hop = Some(IpAddr::V4(addr));
        meta.link_dst = mapping.map(|(mac, _)| mac);
        cx.send(ArpPort::Ip, pkt);
    }

    fn send_arp(
        &self,
        cx: &mut Cx<Self>,
        oper: u16,
        spa: [u8; 4],
        tha: [u8; 6],
        tpa: [u8; 4],
        dst: [u8; 6],
    ) {
        let mut pkt = cx.alloc();
        let arp = ArpPacket {
            htype: 1,
            ptype: 0x0800,
            hlen: 6,
            plen: 4,
            oper,
            sha: self.config.mac,
            spa,
            tha,
            tpa,
        };
        if let Err(e) = arp.push_onto(&mut pkt) {
            return cx.drop_packet(pkt, e.reason());
        }
        pkt.meta_mut().link_dst = Some(dst);
        cx.send(ArpPort::Arp, pkt);
    }

    fn request(&self, cx: &mut Cx<Self>, target: u32) {
        let spa = self.config.addrs.first().map_or([0; 4], |a| a.octets());
        self.send_arp(cx, OP_REQUEST, spa, [0; 6], target.to_be_bytes(), BROADCAST);
        cx.count("arp requests sent");
    }
}

#[protocol(ports(arp, link, ip))]
impl Arp {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.config.announce {
            for addr in self.config.addrs.clone() {
                let a = addr.octets();
                self.send_arp(cx, OP_REQUEST, a, [0; 6], a, BROADCAST);
            }
        }
        let sweep = self.config.entry_lifetime;
        cx.start_periodic(ArpTimer::Sweep, sweep);
    }

    /// An ARP packet from the link.
    #[on_packet(port = "arp")]
    fn rx_arp(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let arp = match ArpPacketView::parse(pkt.data()) {
            Ok(view) => view.to_owned(),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        drop(pkt);
        if arp.spa == [0; 4] {
            // An ARP probe (RFC 5227): nothing to learn from it.
            if arp.oper == OP_REQUEST && self.owns(arp.tpa) {
                self.send_arp(cx, OP_REPLY, arp.tpa, arp.sha, arp.spa, arp.sha);
            }
            return;
        }
        let known = self.cache.contains_key(&u32::from_be_bytes(arp.spa));
        let for_us = self.owns(arp.tpa);
        if known || for_us {
            self.learn(cx, arp.spa, arp.sha);
        }
        if for_us && arp.oper == OP_REQUEST && arp.spa != arp.tpa {
            self.send_arp(cx, OP_REPLY, arp.tpa, arp.sha, arp.spa, arp.sha);
            cx.count("arp replies sent");
        }
    }

    /// An IPv4 frame from the link: straight up.
    #[on_packet(port = "link")]
    fn rx_link(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(ArpPort::Ip, pkt);
    }

    /// An IPv4 packet from IPv4, to resolve `meta().next_hop` for.
    #[on_packet(port = "ip")]
    fn rx_ip(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let Some(IpAddr::V4(next_hop)) = pkt.meta().next_hop else {
            return cx.drop_packet(pkt, "no IPv4 next hop");
        };
        if pkt.meta().mark == crate::ipv4::REVALIDATE_NEXT_HOP {
            // Negative advice from above (RFC 1122 2.3.2.1): resolve this hop afresh.
            pkt.meta_mut().mark = 0;
            self.last_resolved = None;
            if let Some(old) = self.cache.remove(&u32::from(next_hop)) {
                self.order.remove(&old.learned);
                self.notify(cx, u32::from(next_hop), None);
                cx.count("arp entries revalidated");
            }
        }
        let mac = if next_hop == Ipv4Addr::BROADCAST {
            Some(BROADCAST)
        } else if next_hop.is_multicast() {
            // RFC 1112: 01:00:5e + the low 23 bits of the group.
            let o = next_hop.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        } else {
            self.resolve(u32::from(next_hop), cx.now())
        };
        if let Some(mac) = mac {
            pkt.meta_mut().link_dst = Some(mac);
            return cx.send(ArpPort::Link, pkt);
        }
        let key = u32::from(next_hop);
        let len = pkt.len();
        if self.queued_bytes + len > self.config.total_queue_bytes {
            return cx.drop_packet(pkt, "arp queues full");
        }
        let limit = self.config.queue_bytes;
        let queued = self.pending.get(&key).map_or(0, |p| p.bytes);
        if queued + len > limit {
            return cx.drop_packet(pkt, "arp queue full");
        }
        let pending = self.pending.entry(key).or_default();
        pending.queue.push_back(pkt);
        pending.bytes += len;
        self.queued_bytes += len;
        if pending.requests == 0 {
            pending.requests = 1;
            self.request(cx, key);
            cx.start_timer(ArpTimer::Retry(key), self.config.retry_interval);
        }
    }

    #[on_timer]
    fn retry(&mut self, cx: &mut Cx<Self>, target: u32) {
        let max = self.config.max_requests;
        let Some(pending) = self.pending.get_mut(&target) else {
            return;
        };
        if pending.requests >= max {
            let Some(dropped) = self.pending.remove(&target) else {
                return;
            };
            self.queued_bytes -= dropped.bytes;
            for pkt in dropped.queue {
                cx.drop_packet(pkt, "arp unresolved");
            }
            return;
        }
        pending.requests += 1;
        self.request(cx, target);
        cx.start_timer(ArpTimer::Retry(target), self.config.retry_interval);
    }

    #[on_timer]
    fn sweep(&mut self, cx: &mut Cx<Self>) {
        let now = cx.now();
        self.last_resolved = None;
        let order = &mut self.order;
        let mut forgotten = Vec::new();
        let notify = self.config.notify_ip;
        self.cache.retain(|&ip, e| {
            let fresh = e.expires > now;
            if !fresh {
                order.remove(&e.learned);
                if notify {
                    forgotten.push(ip);
                }
            }
            fresh
        });
        for ip in forgotten {
            self.notify(cx, ip, None);
        }
    }
}
