//! Compact containers for the node record: a FIFO whose first few items live inline, and
//! a name stored inline when short. A simulator holds a million nodes; each heap piece a
//! node owns costs an allocation header, a cache miss per event that touches it, and a
//! pointer to chase.

use alloc::boxed::Box;
use core::fmt;

use smallvec::SmallVec;

/// A FIFO queue holding up to `N` items inline. Between platform calls a node's queues
/// are empty, so the inline space serves almost every event; a burst spills to the heap,
/// and the heap buffer is given back once the queue is drained.
pub(crate) struct Fifo<T, const N: usize> {
    items: SmallVec<[Option<T>; N]>,
    head: u32,
}

impl<T, const N: usize> Default for Fifo<T, N> {
    fn default() -> Self {
        Fifo {
            items: SmallVec::new(),
            head: 0,
        }
    }
}

impl<T, const N: usize> Fifo<T, N> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.items.len() - self.head as usize
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(crate) fn push_back(&mut self, item: T) {
        let head = self.head as usize;
        if head >= 32 && head * 2 >= self.items.len() {
            // A queue that never drains (handlers bouncing packets in zero time): drop
            // the consumed front now and then so it does not grow without bound.
            self.items.drain(..head);
            self.head = 0;
        }
        self.items.push(Some(item));
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let item = self.items.get_mut(self.head as usize)?.take();
        self.head += 1;
        if self.head as usize == self.items.len() {
            self.head = 0;
            self.items.clear();
            if self.items.spilled() {
                self.items.shrink_to_fit();
            }
        }
        item
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
                !q.items.spilled(),
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
        assert!(q.items.len() < 100);
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
