//! Compact containers for the node record: a FIFO whose first few items live inline, and
//! a name stored inline when short. A simulator holds a million nodes; each heap piece a
//! node owns costs an allocation header, a cache miss per event that touches it, and a
//! pointer to chase.

use alloc::boxed::Box;
use core::fmt;

use smallvec::SmallVec;

/// A FIFO queue holding up to `N + 1` items inline (a first slot and `N` in the ring): a ring over slots that are all
/// initialised (`None` when free), so pushing and popping move one item and touch no
/// other slot. Between platform calls a node's queues are empty, so the inline space
/// serves almost every event; a burst spills to the heap, and the heap buffer is given
/// back once the queue is drained.
///
/// The oldest item sits in a slot of its own while the ring is empty: a chain of
/// handlers each sending one packet on (the common case: one frame up or down a stack)
/// stores and takes it there, without ring arithmetic.
pub(crate) struct Fifo<T, const N: usize> {
    /// The oldest item, when the ring holds nothing older.
    first: Option<T>,
    ring: Ring<T, N>,
}

impl<T, const N: usize> Default for Fifo<T, N> {
    fn default() -> Self {
        Fifo {
            first: None,
            ring: Ring::default(),
        }
    }
}

impl<T, const N: usize> Fifo<T, N> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.ring.len as usize
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.ring.len == 0
    }

    #[inline(always)]
    pub(crate) fn push_back(&mut self, item: T) {
        if self.first.is_none() && self.ring.len == 0 {
            self.first = Some(item);
        } else {
            self.ring.push_back(item);
        }
    }

    #[inline(always)]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        match self.first.take() {
            Some(item) => Some(item),
            None => self.ring.pop_front(),
        }
    }
}

/// The ring behind a [`Fifo`]'s first slot.
struct Ring<T, const N: usize> {
    /// The ring; its length is the capacity.
    slots: SmallVec<[Option<T>; N]>,
    head: u32,
    len: u32,
}

impl<T, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Ring {
            slots: SmallVec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T, const N: usize> Ring<T, N> {
    /// Behind the first slot: taken only when events queue up (a burst, a handler that
    /// sends several packets), so kept out of line.
    #[inline(never)]
    fn push_back(&mut self, item: T) {
        if self.len as usize == self.slots.len() {
            self.grow();
        }
        let mut at = self.head as usize + self.len as usize;
        if at >= self.slots.len() {
            at -= self.slots.len();
        }
        self.slots[at] = Some(item);
        self.len += 1;
    }

    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let head = self.head as usize;
        let item = self.slots[head].take();
        self.len -= 1;
        self.head = if head + 1 == self.slots.len() {
            0
        } else {
            head as u32 + 1
        };
        if self.len == 0 {
            self.head = 0;
            if self.slots.spilled() {
                self.release();
            }
        }
        item
    }

    /// Doubles the ring (to `N` first), keeping the order.
    #[cold]
    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(N).max(1);
        let mut slots: SmallVec<[Option<T>; N]> = SmallVec::with_capacity(capacity);
        let (head, old) = (self.head as usize, self.slots.len());
        for i in 0..self.len as usize {
            let mut at = head + i;
            if at >= old {
                at -= old;
            }
            slots.push(self.slots[at].take());
        }
        slots.resize_with(capacity, || None);
        self.slots = slots;
        self.head = 0;
    }

    /// Gives a drained heap ring back.
    #[cold]
    fn release(&mut self) {
        self.slots = SmallVec::new();
    }
}

/// A name (of a device) stored inline up to 22 bytes, on the heap beyond.
#[derive(Clone)]
pub(crate) enum Name {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<str>),
}

impl Name {
    pub(crate) fn new(name: &str) -> Self {
        let mut bytes = [0; 22];
        match bytes.get_mut(..name.len()) {
            Some(dst) => {
                dst.copy_from_slice(name.as_bytes());
                Name::Inline {
                    len: name.len() as u8,
                    bytes,
                }
            }
            None => Name::Heap(name.into()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Always whole UTF-8: copied from a `&str`, cut at its own length.
            Name::Inline { len, bytes } => {
                core::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Name::Heap(s) => s,
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn a_fifo_is_no_larger_than_the_plain_two_slot_queue_it_replaced() {
        // The node record holds two of these; a simulator holds a million nodes. Before
        // the first slot, a queue was a two-slot `SmallVec` and a head index.
        type Item = (u64, alloc::boxed::Box<u8>, u64);
        let old = core::mem::size_of::<SmallVec<[Option<Item>; 2]>>() + 8;
        let new = core::mem::size_of::<Fifo<Item, 1>>();
        assert!(new <= old, "{new} > {old}");
    }

    #[test]
    fn fifo_keeps_order_across_spill_and_drain() {
        let mut q: Fifo<u32, 2> = Fifo::default();
        for round in 0..3 {
            for i in 0..10 {
                q.push_back(round * 100 + i);
            }
            assert_eq!(q.len(), 10);
            let out: Vec<u32> = core::iter::from_fn(|| q.pop_front()).collect();
            assert_eq!(out, (0..10).map(|i| round * 100 + i).collect::<Vec<_>>());
            assert!(q.is_empty());
            assert!(
                !q.ring.slots.spilled(),
                "the heap buffer is given back when drained"
            );
        }
    }

    #[test]
    fn fifo_that_never_drains_stays_bounded() {
        let mut q: Fifo<u64, 2> = Fifo::default();
        q.push_back(0);
        for i in 1..100_000u64 {
            q.push_back(i);
            assert_eq!(q.pop_front(), Some(i - 1));
        }
        assert_eq!(q.len(), 1);
        assert!(q.ring.slots.len() < 100);
    }

    #[test]
    fn names_inline_and_long() {
        assert_eq!(Name::new("udp4000").as_str(), "udp4000");
        assert!(matches!(Name::new("eth0"), Name::Inline { .. }));
        let long = "a-device-name-longer-than-22-bytes";
        assert_eq!(Name::new(long).as_str(), long);
        assert_eq!(Name::new("").as_str(), "");
        assert_eq!(Name::new("žluťoučký").as_str(), "žluťoučký");
    }
}
