//! A Pastry node's state (the paper's §2.1): the leaf set L, the routing table R and the
//! neighbourhood set M, each kept compact so a node at 10^6 nodes holds a few KiB.

use core::net::SocketAddr;

use alloc::vec;
use alloc::vec::Vec;

use super::id::Id;

/// Another node: its identifier, address, and its position for the proximity metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peer {
    /// Its identifier.
    pub id: Id,
    /// Where to send to it.
    pub addr: SocketAddr,
    /// Its coordinates; the proximity metric is the Euclidean distance between two
    /// nodes' coordinates (the paper's emulated network places nodes in a plane).
    pub pos: [f32; 2],
}

impl Peer {
    /// The proximity metric between this node and a node at `pos`.
    #[inline]
    pub fn distance_to(&self, pos: [f32; 2]) -> f32 {
        let (dx, dy) = (self.pos[0] - pos[0], self.pos[1] - pos[1]);
        libm::sqrtf(dx * dx + dy * dy)
    }
}

/// The leaf set: the |L|/2 nodes with the nearest larger identifiers (clockwise) and the
/// |L|/2 with the nearest smaller ones (counter-clockwise), each side nearest first.
/// With fewer than |L| nodes in all, a node may sit on both sides.
#[derive(Clone, Debug)]
pub struct LeafSet {
    me: Id,
    half: usize,
    cw: Vec<Peer>,
    ccw: Vec<Peer>,
}

impl LeafSet {
    /// An empty leaf set of `size` (even; |L|) entries around `me`.
    pub fn new(me: Id, size: usize) -> LeafSet {
        let half = (size / 2).max(1);
        LeafSet {
            me,
            half,
            cw: Vec::with_capacity(half),
            ccw: Vec::with_capacity(half),
        }
    }

    /// The clockwise side, nearest first.
    pub fn cw(&self) -> &[Peer] {
        &self.cw
    }

    /// The counter-clockwise side, nearest first.
    pub fn ccw(&self) -> &[Peer] {
        &self.ccw
    }

    /// Every member once.
    pub fn members(&self) -> impl Iterator<Item = &Peer> {
        let cw = &self.cw;
        cw.iter().chain(
            self.ccw
                .iter()
                .filter(move |p| !cw.iter().any(|q| q.id == p.id)),
        )
    }

    /// Distinct members.
    pub fn len(&self) -> usize {
        self.members().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.cw.is_empty() && self.ccw.is_empty()
    }

    /// Whether a side is not full: then this node knows every node there is (the
    /// network has fewer than |L| + 1 nodes).
    pub fn is_partial(&self) -> bool {
        self.cw.len() < self.half || self.ccw.len() < self.half
    }

    /// Takes `peer` in if it is nearer than a member of a side; returns whether it did.
    pub fn insert(&mut self, peer: Peer) -> bool {
        if peer.id == self.me {
            return false;
        }
        let me = self.me;
        let a = insert_side(&mut self.cw, self.half, peer, |p| me.cw(p));
        let b = insert_side(&mut self.ccw, self.half, peer, |p| p.cw(me));
        a || b
    }

    /// Removes `id`; returns whether it was a member.
    pub fn remove(&mut self, id: Id) -> bool {
        let before = self.cw.len() + self.ccw.len();
        self.cw.retain(|p| p.id != id);
        self.ccw.retain(|p| p.id != id);
        before != self.cw.len() + self.ccw.len()
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: Id) -> bool {
        self.cw.iter().chain(&self.ccw).any(|p| p.id == id)
    }

    /// Whether `key` lies within the range the leaf set covers, from its farthest
    /// counter-clockwise member to its farthest clockwise one (always, while partial).
    pub fn covers(&self, key: Id) -> bool {
        if self.is_partial() {
            return true;
        }
        let (Some(first), Some(last)) = (self.ccw.last(), self.cw.last()) else {
            return true;
        };
        first.id.cw(key) <= first.id.cw(last.id)
    }

    /// The member of the side `id` lies on, farthest from this node (whom to ask for a
    /// replacement when `id` failed).
    pub fn farthest_on_side_of(&self, id: Id) -> Option<Peer> {
        let side = if self.me.cw(id) <= id.cw(self.me) {
            &self.cw
        } else {
            &self.ccw
        };
        side.iter().rev().find(|p| p.id != id).copied()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        (self.cw.capacity() + self.ccw.capacity()) * core::mem::size_of::<Peer>()
    }
}

fn insert_side(side: &mut Vec<Peer>, half: usize, peer: Peer, d: impl Fn(Id) -> u128) -> bool {
    if side.iter().any(|p| p.id == peer.id) {
        return false;
    }
    let dp = d(peer.id);
    let at = side.partition_point(|p| d(p.id) < dp);
    if at >= half {
        return false;
    }
    if side.len() == half {
        side.pop();
    }
    side.insert(at, peer);
    true
}

/// The routing table: row `r` holds, in column `c`, a node whose identifier shares this
/// node's first `r` digits and has `c` as digit `r`, the nearest such node known by the
/// proximity metric. Rows are allocated as they are first needed (⌈log_{2^b} N⌉ of them).
#[derive(Clone, Debug)]
pub struct RoutingTable {
    me: Id,
    pos: [f32; 2],
    b: u32,
    rows: Vec<Option<Peer>>,
}

impl RoutingTable {
    /// An empty table for `me` at `pos`, digits of `b` bits.
    pub fn new(me: Id, pos: [f32; 2], b: u32) -> RoutingTable {
        RoutingTable {
            me,
            pos,
            b,
            rows: Vec::new(),
        }
    }

    /// Bits per digit.
    pub fn b(&self) -> u32 {
        self.b
    }

    /// Columns per row, 2^b.
    pub fn columns(&self) -> usize {
        1 << self.b
    }

    /// Rows allocated.
    pub fn rows(&self) -> usize {
        self.rows.len() / self.columns()
    }

    /// The entry in (`row`, `col`).
    #[inline]
    pub fn get(&self, row: u32, col: usize) -> Option<Peer> {
        let i = row as usize * self.columns() + col;
        self.rows.get(i).copied().flatten()
    }

    /// Row `row`'s entries (empty if not allocated).
    pub fn row(&self, row: usize) -> &[Option<Peer>] {
        let c = self.columns();
        self.rows.get(row * c..(row + 1) * c).unwrap_or(&[])
    }

    /// The slot `peer` belongs in, or `None` for this node itself.
    #[inline]
    pub fn slot_of(&self, id: Id) -> Option<(u32, usize)> {
        if id == self.me {
            return None;
        }
        let row = self.me.shared_prefix(id, self.b);
        Some((row, id.digit(row, self.b)))
    }

    /// Takes `peer` into its slot if the slot is empty or `peer` is nearer than its
    /// entry; returns whether it did.
    pub fn consider(&mut self, peer: Peer) -> bool {
        let Some((row, col)) = self.slot_of(peer.id) else {
            return false;
        };
        let c = self.columns();
        let i = row as usize * c + col;
        match self.rows.get(i).copied().flatten() {
            // Already there: the entry stays as first learned (a message naming a known
            // id from another address does not move it; a node that does move is taken
            // back in once its old entry has failed).
            Some(old) if old.id == peer.id => false,
            Some(old) if old.distance_to(self.pos) <= peer.distance_to(self.pos) => false,
            _ => {
                if self.rows.len() <= i {
                    self.rows.resize((row as usize + 1) * c, None);
                }
                self.rows[i] = Some(peer);
                true
            }
        }
    }

    /// Puts `peer` into its slot whatever is there (a converged start's choice).
    pub fn set(&mut self, peer: Peer) {
        if let Some((row, col)) = self.slot_of(peer.id) {
            let c = self.columns();
            let i = row as usize * c + col;
            if self.rows.len() <= i {
                self.rows.resize((row as usize + 1) * c, None);
            }
            self.rows[i] = Some(peer);
        }
    }

    /// Removes `id` from its slot; returns the slot if it held it.
    pub fn remove(&mut self, id: Id) -> Option<(u32, usize)> {
        let (row, col) = self.slot_of(id)?;
        let i = row as usize * self.columns() + col;
        match self.rows.get(i) {
            Some(Some(p)) if p.id == id => {
                self.rows[i] = None;
                Some((row, col))
            }
            _ => None,
        }
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = &Peer> {
        self.rows.iter().flatten()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries().count()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * core::mem::size_of::<Option<Peer>>()
    }
}

/// The neighbourhood set: the |M| nodes nearest by the proximity metric, nearest first.
#[derive(Clone, Debug)]
pub struct Neighbourhood {
    me: Id,
    pos: [f32; 2],
    size: usize,
    members: Vec<Peer>,
}

impl Neighbourhood {
    /// An empty set of up to `size` nodes around `me` at `pos`.
    pub fn new(me: Id, pos: [f32; 2], size: usize) -> Neighbourhood {
        Neighbourhood {
            me,
            pos,
            size,
            members: vec![],
        }
    }

    /// The members, nearest first.
    pub fn members(&self) -> &[Peer] {
        &self.members
    }

    /// Takes `peer` in if it is nearer than a member; returns whether it did.
    pub fn consider(&mut self, peer: Peer) -> bool {
        if peer.id == self.me || self.size == 0 || self.members.iter().any(|p| p.id == peer.id) {
            return false;
        }
        let d = peer.distance_to(self.pos);
        let at = self
            .members
            .partition_point(|p| p.distance_to(self.pos) <= d);
        if at >= self.size {
            return false;
        }
        if self.members.len() == self.size {
            self.members.pop();
        }
        self.members.insert(at, peer);
        true
    }

    /// Removes `id`; returns whether it was a member.
    pub fn remove(&mut self, id: Id) -> bool {
        let before = self.members.len();
        self.members.retain(|p| p.id != id);
        before != self.members.len()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.members.capacity() * core::mem::size_of::<Peer>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: u128, x: f32) -> Peer {
        Peer {
            id: Id::new(id),
            addr: SocketAddr::from(([10, 0, 0, 1], 4000)),
            pos: [x, 0.0],
        }
    }

    #[test]
    fn leaf_set_keeps_the_nearest_on_each_side() {
        let me = Id::new(1000);
        let mut l = LeafSet::new(me, 4);
        for id in [990, 1010, 980, 1020, 1030, 970, 995, 1005] {
            l.insert(peer(id, 0.0));
        }
        let cw: Vec<u128> = l.cw().iter().map(|p| p.id.get()).collect();
        let ccw: Vec<u128> = l.ccw().iter().map(|p| p.id.get()).collect();
        assert_eq!(cw, [1005, 1010]);
        assert_eq!(ccw, [995, 990]);
        assert!(l.covers(Id::new(1008)));
        assert!(l.covers(Id::new(990)));
        assert!(!l.covers(Id::new(1011)));
        assert!(!l.covers(Id::new(989)));
        assert_eq!(
            l.farthest_on_side_of(Id::new(1005)).unwrap().id,
            Id::new(1010)
        );
        assert!(l.remove(Id::new(1005)));
        assert!(l.is_partial() && l.covers(Id::new(5000)));
    }

    #[test]
    fn leaf_set_wraps_around_zero() {
        let me = Id::new(5);
        let mut l = LeafSet::new(me, 2);
        l.insert(peer(u128::MAX - 1, 0.0));
        l.insert(peer(9, 0.0));
        assert!(l.covers(Id::new(u128::MAX)));
        assert!(l.covers(Id::new(0)));
        assert!(!l.covers(Id::new(100)));
        // With two nodes in all, each is on both sides of the third.
        let mut small = LeafSet::new(me, 4);
        small.insert(peer(9, 0.0));
        assert_eq!(
            (small.cw().len(), small.ccw().len(), small.len()),
            (1, 1, 1)
        );
    }

    #[test]
    fn routing_table_prefers_nearer_nodes() {
        let me = Id::new(0x1000_u128 << 112);
        let mut t = RoutingTable::new(me, [0.0, 0.0], 4);
        let far = peer(0x2000_u128 << 112, 100.0);
        let near = peer(0x2100_u128 << 112, 10.0);
        assert!(t.consider(far));
        assert!(t.consider(near));
        assert!(!t.consider(far));
        assert_eq!(t.get(0, 2).unwrap().id, near.id);
        assert_eq!(t.slot_of(Id::new(0x1300_u128 << 112)), Some((1, 3)));
        assert!(t.consider(peer(0x1300_u128 << 112, 50.0)));
        assert_eq!((t.rows(), t.len()), (2, 2));
        assert_eq!(t.remove(near.id), Some((0, 2)));
        assert!(t.get(0, 2).is_none());
        assert!(!t.consider(peer(me.get(), 0.0)));
    }

    #[test]
    fn neighbourhood_keeps_the_nearest() {
        let mut m = Neighbourhood::new(Id::new(1), [0.0, 0.0], 2);
        m.consider(peer(2, 30.0));
        m.consider(peer(3, 10.0));
        m.consider(peer(4, 20.0));
        let ids: Vec<u128> = m.members().iter().map(|p| p.id.get()).collect();
        assert_eq!(ids, [3, 4]);
        assert!(m.remove(Id::new(3)));
    }
}
