//! Buffers for packets in flight, in power-of-two size classes (32 B … 64 KiB), recycled
//! through one free list per class. A packet in flight costs its size class plus a small
//! fixed record, whichever node sent it; nodes keep no buffers of their own for it.
//! Free lists shrink: a class keeps idle at most a quarter of the buffers it has in use
//! (and at least a few), so memory follows the load down after a burst.

/// Smallest class: 32 bytes.
const MIN_SHIFT: u32 = 5;
/// Number of classes (32 B … 2^(5+16) = 2 MiB; larger payloads get exact buffers).
const CLASSES: usize = 17;
/// Buffers a class always may keep.
const KEEP_MIN: usize = 64;

/// A buffer holding `len` bytes of a packet in flight.
#[derive(Debug)]
pub(crate) struct Payload {
    buf: Box<[u8]>,
    len: u32,
}

impl Payload {
    /// The bytes.
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

#[derive(Debug, Default)]
struct Class {
    free: Vec<Box<[u8]>>,
    live: usize,
}

/// The size-classed buffer store.
#[derive(Debug)]
pub(crate) struct PayloadStore {
    classes: Vec<Class>,
}

impl Default for PayloadStore {
    fn default() -> Self {
        PayloadStore {
            classes: (0..CLASSES).map(|_| Class::default()).collect(),
        }
    }
}

#[inline]
fn class_of(len: usize) -> usize {
    let bits = usize::BITS - len.max(1).saturating_sub(1).leading_zeros();
    (bits.saturating_sub(MIN_SHIFT)) as usize
}

impl PayloadStore {
    /// A buffer holding a copy of `bytes`.
    #[inline]
    pub(crate) fn store(&mut self, bytes: &[u8]) -> Payload {
        let class = class_of(bytes.len());
        let mut buf = match self.classes.get_mut(class) {
            Some(c) => {
                c.live += 1;
                c.free
                    .pop()
                    .unwrap_or_else(|| vec![0; 1 << (class as u32 + MIN_SHIFT)].into_boxed_slice())
            }
            None => vec![0; bytes.len()].into_boxed_slice(),
        };
        buf[..bytes.len()].copy_from_slice(bytes);
        Payload {
            buf,
            len: bytes.len() as u32,
        }
    }

    /// Takes a buffer back once its packet has arrived (or was dropped).
    #[inline]
    pub(crate) fn release(&mut self, payload: Payload) {
        let class = class_of(payload.buf.len());
        if let Some(c) = self.classes.get_mut(class)
            && payload.buf.len() == 1 << (class as u32 + MIN_SHIFT)
        {
            c.live -= 1;
            let limit = KEEP_MIN.max(c.live / 4);
            if c.free.len() < limit {
                c.free.push(payload.buf);
            } else if c.free.len() > 2 * limit {
                // Far more idle than in use: let the list shrink.
                c.free.truncate(limit);
                c.free.shrink_to_fit();
            }
        }
    }

    /// Buffers parked in the free lists, and their bytes.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> (usize, usize) {
        self.classes
            .iter()
            .enumerate()
            .fold((0, 0), |(n, b), (i, c)| {
                (
                    n + c.free.len(),
                    b + c.free.len() * (1 << (i as u32 + MIN_SHIFT)),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_powers_of_two_from_32_bytes() {
        assert_eq!(class_of(0), 0);
        assert_eq!(class_of(32), 0);
        assert_eq!(class_of(33), 1);
        assert_eq!(class_of(64), 1);
        assert_eq!(class_of(65), 2);
        assert_eq!(class_of(1500), 6);
        let mut store = PayloadStore::default();
        let p = store.store(&[7; 64]);
        assert_eq!(p.buf.len(), 64);
        assert_eq!(p.data(), &[7; 64]);
        let big = store.store(&vec![1; 3 << 20]);
        assert_eq!(big.data().len(), 3 << 20);
        store.release(big);
        assert_eq!(store.idle().0, 0, "oversized buffers are not kept");
    }

    #[test]
    fn buffers_are_reused_and_the_free_lists_shrink_after_a_burst() {
        let mut store = PayloadStore::default();
        let burst: Vec<Payload> = (0..10_000).map(|_| store.store(&[1; 60])).collect();
        for p in burst {
            store.release(p);
        }
        let (kept, bytes) = store.idle();
        assert!(kept <= 2 * KEEP_MIN, "kept {kept} idle after the burst");
        assert_eq!(bytes, kept * 64);
        // Steady use reuses them: nothing new is kept.
        for _ in 0..10 {
            let p = store.store(&[2; 60]);
            store.release(p);
        }
        assert!(store.idle().0 <= kept);
        let a = store.store(&[3; 10]);
        assert_eq!(a.data(), &[3; 10]);
    }
}
