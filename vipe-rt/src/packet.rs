//! Packets: one contiguous buffer with headroom and tailroom, recycled through a pool.
//!
//! A [`Packet`] is a simplified Linux `sk_buff`: the bytes that matter sit in
//! `buf[head..tail]`; a protocol [`push`](Packet::push)es its header into the headroom on
//! the way down and [`pull`](Packet::pull)s it off on the way up, and
//! [`put`](Packet::put)s or [`trim`](Packet::trim)s at the back. No chaining: a packet is
//! always one slice. Buffers come from a [`PacketPool`] and go back to it when the packet
//! is dropped, so a node in steady state allocates nothing per packet.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::net::{IpAddr, SocketAddr};

use crate::node::DeviceId;
use crate::time::Instant;

/// Headroom reserved in front of a freshly allocated packet: enough for
/// Ethernet + 802.1Q + IPv4 with options + TCP with options.
pub const DEFAULT_HEADROOM: usize = 128;
/// Size of the buffers a default pool hands out: a full Ethernet frame plus headroom.
pub const DEFAULT_BUFFER_SIZE: usize = 2048;

/// What went wrong with a packet operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// Asked to remove more bytes than the packet holds.
    Truncated {
        /// Bytes asked for.
        wanted: usize,
        /// Bytes the packet holds.
        len: usize,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::Truncated { wanted, len } => {
                write!(f, "packet truncated: wanted {wanted} bytes, it holds {len}")
            }
        }
    }
}

impl core::error::Error for PacketError {}

/// Metadata that travels with a packet but is not part of its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// The device the packet arrived on, set by the node on receive.
    pub ingress: Option<DeviceId>,
    /// When the packet arrived at the node (platform time).
    pub rx_time: Instant,
    /// Source endpoint, for datagram devices (set on receive).
    pub src: Option<SocketAddr>,
    /// Destination endpoint, for datagram devices (set by the sender before transmit).
    pub dst: Option<SocketAddr>,
    /// Free for protocols: a mark carried between layers of one node (like `skb->mark`).
    pub mark: u32,
    /// Link-layer destination for the frame, set by address resolution (ARP) for the link
    /// layer (Ethernet) below it.
    pub link_dst: Option<[u8; 6]>,
    /// The next hop a network-layer packet is headed to, set by routing (IPv4) for address
    /// resolution below it.
    pub next_hop: Option<IpAddr>,
    /// Length of the network header the layer below pulled off before handing the packet
    /// up; `push` it back to see the whole datagram (an ICMP error quotes it).
    pub network_header_len: u8,
    /// Segmentation and checksum offload the packet carries (a large TCP/UDP segment
    /// from a TAP with offloads on); see [`crate::gso`]. Default: none, an ordinary packet.
    pub offload: crate::gso::Offload,
    /// The IP TOS / traffic-class octet (Diffserv field and ECN bits): set by IP from
    /// the header of a datagram it delivers up; on send, what an upper protocol asks IP
    /// to put in the header of a datagram it originates (default 0).
    pub tos: u8,
    /// On send: an upper protocol asks IP to set Don't Fragment (path MTU discovery,
    /// RFC 1191). Default: off.
    pub dont_fragment: bool,
}

/// Pool statistics, for reports and for tests that check steady state allocates nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created because the free list was empty.
    pub allocated: u64,
    /// Buffers handed out from the free list.
    pub reused: u64,
    /// Buffers returned to the free list.
    pub returned: u64,
    /// Buffers in the free list now.
    pub free: usize,
}

struct PoolShared {
    // Boxed on purpose: a body is handed out and taken back as is, never reallocated.
    #[allow(clippy::vec_box)]
    free: RefCell<Vec<Box<Body>>>,
    buffer_size: usize,
    max_free: usize,
    allocated: Cell<u64>,
    reused: Cell<u64>,
    returned: Cell<u64>,
}

/// A pool of packet buffers. Cloning the pool gives another handle to the same buffers.
///
/// Single-threaded by design: each node (one thread) has its own pool.
#[derive(Clone)]
pub struct PacketPool {
    shared: Rc<PoolShared>,
}

impl PacketPool {
    /// A pool of `buffer_size`-byte buffers that keeps at most `max_free` idle buffers.
    pub fn new(buffer_size: usize, max_free: usize) -> Self {
        PacketPool {
            shared: Rc::new(PoolShared {
                free: RefCell::new(Vec::new()),
                buffer_size,
                max_free,
                allocated: Cell::new(0),
                reused: Cell::new(0),
                returned: Cell::new(0),
            }),
        }
    }

    /// An empty packet with [`DEFAULT_HEADROOM`] bytes of headroom.
    pub fn alloc(&self) -> Packet {
        self.alloc_with_headroom(DEFAULT_HEADROOM)
    }

    /// An empty packet with `headroom` bytes free in front (the buffer grows if needed).
    pub fn alloc_with_headroom(&self, headroom: usize) -> Packet {
        let shared = &self.shared;
        let mut body = match shared.free.borrow_mut().pop() {
            Some(body) => {
                shared.reused.set(shared.reused.get() + 1);
                body
            }
            None => {
                shared.allocated.set(shared.allocated.get() + 1);
                Box::new(Body {
                    buf: vec![0; shared.buffer_size.max(headroom)],
                    head: 0,
                    tail: 0,
                    meta: PacketMeta::default(),
                    pool: None,
                })
            }
        };
        body.reset(headroom);
        body.pool = Some(self.shared.clone());
        Packet::from_body(body)
    }

    /// A packet holding a copy of `bytes`, with default headroom.
    pub fn alloc_from(&self, bytes: &[u8]) -> Packet {
        let mut pkt = self.alloc();
        pkt.put_slice(bytes);
        pkt
    }

    /// Size of the buffers this pool hands out.
    pub fn buffer_size(&self) -> usize {
        self.shared.buffer_size
    }

    /// Allocation and reuse counters.
    pub fn stats(&self) -> PoolStats {
        let s = &self.shared;
        PoolStats {
            allocated: s.allocated.get(),
            reused: s.reused.get(),
            returned: s.returned.get(),
            free: s.free.borrow().len(),
        }
    }
}

impl Default for PacketPool {
    fn default() -> Self {
        PacketPool::new(DEFAULT_BUFFER_SIZE, 4096)
    }
}

impl fmt::Debug for PacketPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketPool")
            .field("buffer_size", &self.shared.buffer_size)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A packet: bytes in one contiguous buffer, plus [`PacketMeta`].
///
/// The packet itself is one pointer: buffer, offsets and metadata live in a boxed body
/// that the pool recycles whole, so moving a packet through queues and handlers copies
/// eight bytes, and a node in steady state allocates nothing.
pub struct Packet {
    /// Always `Some` but inside `drop`, which takes it back to the pool.
    body: Option<Box<Body>>,
}

struct Body {
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    meta: PacketMeta,
    pool: Option<Rc<PoolShared>>,
}

impl Packet {
    fn from_body(body: Box<Body>) -> Self {
        Packet { body: Some(body) }
    }

    /// A packet that belongs to no pool, holding a copy of `bytes` with default headroom.
    /// Handy in tests; protocols allocate through `Cx::alloc`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut pkt = Packet::from_body(Box::new(Body {
            buf: vec![0; DEFAULT_HEADROOM + bytes.len()],
            head: DEFAULT_HEADROOM,
            tail: DEFAULT_HEADROOM,
            meta: PacketMeta::default(),
            pool: None,
        }));
        pkt.put_slice(bytes);
        pkt
    }

    #[inline(always)]
    fn b(&self) -> &Body {
        match &self.body {
            Some(body) => body,
            None => unreachable!("a packet's body is only taken by drop"),
        }
    }

    #[inline(always)]
    fn bm(&mut self) -> &mut Body {
        match &mut self.body {
            Some(body) => body,
            None => unreachable!("a packet's body is only taken by drop"),
        }
    }

    /// Number of bytes in the packet.
    #[inline]
    pub fn len(&self) -> usize {
        let b = self.b();
        b.tail - b.head
    }

    /// Whether the packet holds no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packet's bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let b = self.b();
        &b.buf[b.head..b.tail]
    }

    /// The packet's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let b = self.bm();
        &mut b.buf[b.head..b.tail]
    }

    /// Free bytes in front of the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.b().head
    }

    /// Free bytes behind the data.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let b = self.b();
        b.buf.len() - b.tail
    }

    /// The metadata.
    #[inline]
    pub fn meta(&self) -> &PacketMeta {
        &self.b().meta
    }

    /// The metadata, writable.
    #[inline]
    pub fn meta_mut(&mut self) -> &mut PacketMeta {
        &mut self.bm().meta
    }

    /// Grows the data by `n` bytes at the front and returns them for a header to be
    /// written. Uses the headroom; if it is short, the buffer is reallocated (slow path).
    /// The returned bytes hold stale contents: write all of them.
    #[inline]
    pub fn push(&mut self, n: usize) -> &mut [u8] {
        let b = self.bm();
        if n > b.head {
            b.grow_front(n);
        }
        b.head -= n;
        &mut b.buf[b.head..b.head + n]
    }

    /// Prepends a copy of `bytes`.
    #[inline]
    pub fn push_slice(&mut self, bytes: &[u8]) {
        self.push(bytes.len()).copy_from_slice(bytes);
    }

    /// Removes `n` bytes from the front and returns them (a header being consumed).
    #[inline]
    pub fn pull(&mut self, n: usize) -> Result<&[u8], PacketError> {
        let len = self.len();
        if n > len {
            return Err(PacketError::Truncated { wanted: n, len });
        }
        let b = self.bm();
        let start = b.head;
        b.head += n;
        Ok(&b.buf[start..start + n])
    }

    /// Grows the data by `n` bytes at the back and returns them to be written.
    /// The buffer is reallocated if the tailroom is short. The bytes hold stale contents.
    #[inline]
    pub fn put(&mut self, n: usize) -> &mut [u8] {
        let b = self.bm();
        if n > b.buf.len() - b.tail {
            b.grow_back(n);
        }
        let start = b.tail;
        b.tail += n;
        &mut b.buf[start..start + n]
    }

    /// Appends a copy of `bytes`.
    #[inline]
    pub fn put_slice(&mut self, bytes: &[u8]) {
        self.put(bytes.len()).copy_from_slice(bytes);
    }

    /// Removes `n` bytes from the back (padding, a trailer).
    #[inline]
    pub fn trim(&mut self, n: usize) -> Result<(), PacketError> {
        let len = self.len();
        if n > len {
            return Err(PacketError::Truncated { wanted: n, len });
        }
        self.bm().tail -= n;
        Ok(())
    }

    /// Empties the packet for reuse, as its pool would hand out a fresh one: no bytes,
    /// `headroom` bytes free in front, default metadata. A platform that reads into the
    /// packets it has just written saves them the trip back through the pool.
    #[inline]
    pub fn reset(&mut self, headroom: usize) {
        self.bm().reset(headroom);
    }

    /// Shortens the data to `len` bytes; does nothing if it is already that short.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            let b = self.bm();
            b.tail = b.head + len;
        }
    }

    /// A copy of this packet (bytes and metadata), from the same pool.
    pub fn duplicate(&self) -> Packet {
        let b = self.b();
        let mut copy = match &b.pool {
            Some(shared) => PacketPool {
                shared: shared.clone(),
            }
            .alloc_with_headroom(b.head),
            None => Packet::from_slice(&[]),
        };
        copy.put_slice(self.data());
        *copy.meta_mut() = b.meta;
        copy
    }
}

impl Body {
    #[inline]
    fn reset(&mut self, headroom: usize) {
        if self.buf.len() < headroom {
            self.buf.resize(headroom, 0);
        }
        self.head = headroom;
        self.tail = headroom;
        self.meta = PacketMeta::default();
    }

    #[cold]
    fn grow_front(&mut self, n: usize) {
        let extra = n - self.head + DEFAULT_HEADROOM;
        let mut buf = vec![0; self.buf.len() + extra];
        buf[self.head + extra..self.tail + extra].copy_from_slice(&self.buf[self.head..self.tail]);
        self.buf = buf;
        self.head += extra;
        self.tail += extra;
    }

    #[cold]
    fn grow_back(&mut self, n: usize) {
        let needed = self.tail + n;
        let new_len = needed.max(self.buf.len() * 2);
        self.buf.resize(new_len, 0);
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        let Some(mut body) = self.body.take() else {
            return;
        };
        if let Some(shared) = body.pool.take() {
            let mut free = shared.free.borrow_mut();
            if free.len() < shared.max_free && body.buf.len() >= shared.buffer_size {
                shared.returned.set(shared.returned.get() + 1);
                free.push(body);
            }
        }
    }
}

impl Clone for Packet {
    fn clone(&self) -> Self {
        self.duplicate()
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("meta", self.meta())
            .finish()
    }
}

impl PartialEq for Packet {
    /// Packets are equal when their bytes are; metadata and buffer layout are ignored.
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_put_trim_keep_one_contiguous_slice() {
        let pool = PacketPool::new(256, 8);
        let mut pkt = pool.alloc();
        pkt.put_slice(b"payload");
        pkt.push_slice(b"HDR:");
        assert_eq!(pkt.data(), b"HDR:payload");
        assert_eq!(pkt.pull(4).unwrap(), b"HDR:");
        pkt.trim(3).unwrap();
        assert_eq!(pkt.data(), b"payl");
        assert_eq!(
            pkt.pull(9),
            Err(PacketError::Truncated { wanted: 9, len: 4 })
        );
        assert!(pkt.trim(5).is_err());
        assert_eq!(pkt.data(), b"payl", "a failed pull or trim changes nothing");
    }

    #[test]
    fn push_beyond_headroom_and_put_beyond_tailroom_grow_the_buffer() {
        let pool = PacketPool::new(64, 8);
        let mut pkt = pool.alloc_with_headroom(2);
        pkt.put_slice(&[7; 100]);
        pkt.push_slice(&[1; 10]);
        assert_eq!(pkt.len(), 110);
        assert_eq!(&pkt.data()[..10], &[1; 10]);
        assert_eq!(&pkt.data()[10..], &[7; 100][..]);
    }

    #[test]
    fn buffers_return_to_the_pool_so_steady_state_allocates_nothing() {
        let pool = PacketPool::new(256, 8);
        for _ in 0..1000 {
            let mut pkt = pool.alloc();
            pkt.put_slice(b"x");
        }
        let stats = pool.stats();
        assert_eq!(stats.allocated, 1);
        assert_eq!(stats.reused, 999);
        assert_eq!(stats.free, 1);
    }

    #[test]
    fn a_reset_packet_is_as_clean_as_a_fresh_one() {
        let pool = PacketPool::new(256, 8);
        let mut pkt = pool.alloc_with_headroom(16);
        pkt.put_slice(b"payload");
        pkt.push_slice(b"hdr");
        pkt.meta_mut().mark = 7;
        pkt.meta_mut().link_dst = Some([1; 6]);
        pkt.reset(32);
        assert!(pkt.is_empty());
        assert_eq!(pkt.headroom(), 32);
        assert_eq!(*pkt.meta(), PacketMeta::default());
        assert_eq!(pkt.tailroom(), 256 - 32);
        // It still goes back to its pool when dropped.
        drop(pkt);
        assert_eq!(pool.stats().free, 1);
    }

    #[test]
    fn recycled_buffers_start_clean() {
        let pool = PacketPool::new(256, 8);
        let mut pkt = pool.alloc();
        pkt.put_slice(b"old");
        pkt.meta_mut().mark = 9;
        drop(pkt);
        let pkt = pool.alloc();
        assert!(pkt.is_empty());
        assert_eq!(pkt.meta().mark, 0);
        assert_eq!(pkt.headroom(), DEFAULT_HEADROOM);
    }
}
