//! A Chord node's routing state: predecessor, successor list and fingers.
//!
//! Fingers are kept as the distinct nodes they point to, ordered by clockwise distance
//! from this node: of the 160 finger slots of the paper only ~log2 N hold distinct nodes,
//! and finger i is the first of them at distance ≥ 2^i. That keeps a node's state small
//! at 10^6 nodes.

use core::net::SocketAddr;

use alloc::vec::Vec;

use super::id::Id;

/// Another node: its identifier and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Its identifier.
    pub id: Id,
    /// Where to send to it.
    pub addr: SocketAddr,
}

/// Predecessor, successors and fingers of one node.
#[derive(Clone, Debug)]
pub struct Table {
    me: Peer,
    successors: Vec<Peer>,
    max_successors: usize,
    predecessor: Option<Peer>,
    fingers: Vec<Peer>,
}

impl Table {
    /// The state of a node alone on its ring, keeping up to `successors` successors.
    pub fn new(me: Peer, successors: usize) -> Table {
        Table {
            me,
            successors: Vec::new(),
            max_successors: successors.max(1),
            predecessor: None,
            fingers: Vec::new(),
        }
    }

    /// This node.
    pub fn me(&self) -> Peer {
        self.me
    }

    /// The successor: the first of the successor list; if that list is empty (its
    /// entries failed), the nearest finger, the closest node known clockwise; this node
    /// itself when it knows no other.
    pub fn successor(&self) -> Peer {
        self.successors
            .first()
            .or(self.fingers.first())
            .copied()
            .unwrap_or(self.me)
    }

    /// The successor list, nearest first.
    pub fn successors(&self) -> &[Peer] {
        &self.successors
    }

    /// The predecessor, if known.
    pub fn predecessor(&self) -> Option<Peer> {
        self.predecessor
    }

    /// The distinct finger nodes, nearest first.
    pub fn fingers(&self) -> &[Peer] {
        &self.fingers
    }

    /// Finger `i`: the first known finger node at clockwise distance ≥ 2^i.
    pub fn finger(&self, i: u32) -> Option<Peer> {
        let start = super::id::Id::pow2(i);
        let at = self
            .fingers
            .partition_point(|p| self.me.id.distance_to(p.id) < start);
        self.fingers.get(at).copied()
    }

    /// Sets the predecessor.
    pub fn set_predecessor(&mut self, peer: Option<Peer>) {
        self.predecessor = peer.filter(|p| p.id != self.me.id);
    }

    /// Replaces the successor list by `first` followed by `rest` (the successor's own
    /// list), without this node, duplicates, or more than the configured length.
    pub fn set_successors(&mut self, first: Peer, rest: &[Peer]) {
        self.successors.clear();
        for p in core::iter::once(&first).chain(rest) {
            if self.successors.len() == self.max_successors {
                break;
            }
            if p.id != self.me.id && !self.successors.iter().any(|s| s.id == p.id) {
                self.successors.push(*p);
            }
        }
    }

    /// Puts `peer` first in the successor list (a closer successor was found).
    pub fn prepend_successor(&mut self, peer: Peer) {
        let rest = core::mem::take(&mut self.successors);
        self.set_successors(peer, &rest);
    }

    /// Records that the lookup of `start` ended at `node`: `node` becomes a finger, and
    /// fingers in [start, node) are dropped (had they been alive, the lookup would have
    /// ended at them).
    pub fn set_finger(&mut self, start: Id, node: Peer) {
        if node.id == self.me.id {
            return;
        }
        let me = self.me.id;
        let from = me.distance_to(start);
        let to = me.distance_to(node.id);
        self.fingers.retain(|p| {
            let d = me.distance_to(p.id);
            !(from <= d && d < to) && p.id != node.id
        });
        let at = self.fingers.partition_point(|p| me.distance_to(p.id) < to);
        self.fingers.insert(at, node);
        self.prune_fingers();
    }

    /// Keeps only fingers that some slot points to: an entry at distance d serves slot j
    /// when 2^j lies in (d of the entry before it, d]; an entry with no power of two in
    /// that range (a node learnt earlier, when the ring was smaller) serves none.
    fn prune_fingers(&mut self) {
        let me = self.me.id;
        let mut last: Option<u32> = None;
        self.fingers.retain(|p| {
            let bucket = me.distance_to(p.id).log2();
            let keep = match (last, bucket) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(l), Some(b)) => b > l,
            };
            if keep {
                last = bucket;
            }
            keep
        });
    }

    /// Forgets a node taken as failed, wherever it appears.
    pub fn remove(&mut self, id: Id) -> bool {
        let before = self.successors.len() + self.fingers.len();
        self.successors.retain(|p| p.id != id);
        self.fingers.retain(|p| p.id != id);
        let mut removed = before != self.successors.len() + self.fingers.len();
        if self.predecessor.is_some_and(|p| p.id == id) {
            self.predecessor = None;
            removed = true;
        }
        removed
    }

    /// Up to `k` known nodes in (me, key), the closest to `key` first: where an iterative
    /// lookup goes next, with alternates in case it has failed.
    pub fn closest_preceding(&self, key: Id, k: usize, out: &mut Vec<Peer>) {
        out.clear();
        let me = self.me.id;
        let limit = me.distance_to(key);
        let end = self
            .fingers
            .partition_point(|p| me.distance_to(p.id) < limit);
        let fingers = self.fingers[..end].iter().rev().take(k);
        let successors = self
            .successors
            .iter()
            .filter(|p| me.distance_to(p.id) < limit && p.id != me);
        for p in fingers.chain(successors) {
            if !out.iter().any(|q| q.id == p.id) {
                out.push(*p);
            }
        }
        out.sort_unstable_by_key(|p| core::cmp::Reverse(me.distance_to(p.id)));
        out.truncate(k);
    }

    /// Where `key`'s owner is in the successor list: the first successor s_j with the
    /// key in (s_(j−1), s_j] (s_(−1) being this node); `None` if the key lies beyond the
    /// list. With a list of r successors a node answers for keys up to r nodes ahead,
    /// which is how the successor list shortens a lookup's last steps (ToN §V-D).
    pub fn owner_in_successors(&self, key: Id) -> Option<usize> {
        let mut prev = self.me.id;
        for (j, s) in self.successors.iter().enumerate() {
            if key.in_half_open(prev, s.id) {
                return Some(j);
            }
            prev = s.id;
        }
        None
    }

    /// Whether this node is responsible for `key`: it lies in (predecessor, me].
    pub fn owns(&self, key: Id) -> bool {
        match self.predecessor {
            Some(p) => key.in_half_open(p.id, self.me.id),
            None => true,
        }
    }

    /// Memory the table holds on the heap, in bytes.
    pub fn heap_bytes(&self) -> usize {
        (self.successors.capacity() + self.fingers.capacity()) * core::mem::size_of::<Peer>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u64) -> Peer {
        Peer {
            id: Id::from_top_u64(n),
            addr: SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 4000)),
        }
    }

    #[test]
    fn fingers_stay_distinct_and_ordered() {
        let mut t = Table::new(peer(100), 3);
        // Lookups of 100 + 2^i (in units of 2^96 ids) found these nodes.
        t.set_finger(Id::from_top_u64(101), peer(110));
        t.set_finger(Id::from_top_u64(102), peer(110));
        t.set_finger(Id::from_top_u64(164), peer(200));
        t.set_finger(Id::from_top_u64(228), peer(300));
        assert_eq!(t.fingers(), [peer(110), peer(200), peer(300)]);
        // A later lookup of 164 found 150: 200 is not dropped (it is beyond 150), 150
        // comes before it.
        t.set_finger(Id::from_top_u64(164), peer(150));
        assert_eq!(t.fingers(), [peer(110), peer(150), peer(200), peer(300)]);
        // A lookup of 120 that ended at 250: 150 and 200 (in [120, 250)) must be gone,
        // and 300 too: 250 is the first node at distance ≥ 128, and no power of two lies
        // between 250's distance (150) and 300's (200), so no finger slot points at 300.
        t.set_finger(Id::from_top_u64(120), peer(250));
        assert_eq!(t.fingers(), [peer(110), peer(250)]);
        assert_eq!(t.finger(96 + 3), Some(peer(110))); // distance ≥ 8 · 2^96
        assert_eq!(t.finger(96 + 5), Some(peer(250))); // ≥ 32
        assert_eq!(t.finger(96 + 8), None); // ≥ 256: none known
    }

    #[test]
    fn closest_preceding_prefers_the_nearest_below_the_key() {
        let mut t = Table::new(peer(100), 3);
        t.set_successors(peer(105), &[peer(107), peer(109), peer(111)]);
        assert_eq!(t.successors().len(), 3);
        for (start, node) in [(101, 105), (116, 120), (132, 140), (164, 170), (228, 230)] {
            t.set_finger(Id::from_top_u64(start), peer(node));
        }
        let mut out = Vec::new();
        t.closest_preceding(Id::from_top_u64(169), 3, &mut out);
        assert_eq!(out, [peer(140), peer(120), peer(109)]);
        t.closest_preceding(Id::from_top_u64(101), 3, &mut out);
        assert!(out.is_empty());
        // Wrapping: the key is "behind" us, everything known precedes it.
        t.closest_preceding(Id::from_top_u64(99), 2, &mut out);
        assert_eq!(out, [peer(230), peer(170)]);
        assert!(t.remove(Id::from_top_u64(140)));
        t.closest_preceding(Id::from_top_u64(169), 1, &mut out);
        assert_eq!(out, [peer(120)]);
    }

    #[test]
    fn successors_and_ownership() {
        let mut t = Table::new(peer(100), 2);
        assert_eq!(t.successor(), peer(100));
        assert!(t.owns(Id::from_top_u64(5)));
        t.set_successors(peer(100), &[peer(120), peer(130), peer(140)]);
        assert_eq!(t.successors(), [peer(120), peer(130)]);
        t.prepend_successor(peer(110));
        assert_eq!(t.successors(), [peer(110), peer(120)]);
        t.set_predecessor(Some(peer(90)));
        assert!(t.owns(Id::from_top_u64(95)) && t.owns(Id::from_top_u64(100)));
        assert!(!t.owns(Id::from_top_u64(101)) && !t.owns(Id::from_top_u64(90)));
    }
}
