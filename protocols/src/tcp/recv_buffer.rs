//! The receive buffer: a ring of fixed capacity holding in-order bytes the application
//! has not read yet, and, beyond them, out-of-order bytes placed where they belong. An
//! assembler remembers which ranges beyond the in-order end are filled; it holds at most
//! a fixed number of ranges, so out-of-order reassembly is bounded both in bytes (the
//! window) and in bookkeeping.

use alloc::vec::Vec;

/// Ranges `[start, end)` of filled bytes, as offsets from the end of in-order data.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    ranges: Vec<(usize, usize)>,
    max_ranges: usize,
}

impl Assembler {
    /// An assembler tracking at most `max_ranges` separate ranges.
    pub fn new(max_ranges: usize) -> Self {
        Assembler {
            ranges: Vec::new(),
            max_ranges: max_ranges.max(1),
        }
    }

    /// The filled ranges, in order.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    /// Whether no range is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Marks `[start, end)` filled, merging with neighbours. Returns false (and changes
    /// nothing) if that would need more than `max_ranges` ranges.
    pub fn add(&mut self, start: usize, end: usize) -> bool {
        if start >= end {
            return true;
        }
        // First range whose end reaches start, last range whose start reaches end.
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = self.ranges.partition_point(|&(s, _)| s <= end);
        if first == last {
            if self.ranges.len() >= self.max_ranges {
                return false;
            }
            self.ranges.insert(first, (start, end));
        } else {
            let s = start.min(self.ranges[first].0);
            let e = end.max(self.ranges[last - 1].1);
            self.ranges.drain(first + 1..last);
            self.ranges[first] = (s, e);
        }
        true
    }

    /// Removes and returns the length of a range starting at offset zero, shifting the
    /// others down by it.
    pub fn take_front(&mut self) -> usize {
        match self.ranges.first() {
            Some(&(0, end)) => {
                self.ranges.remove(0);
                for r in &mut self.ranges {
                    r.0 -= end;
                    r.1 -= end;
                }
                end
            }
            _ => 0,
        }
    }

    /// Shifts every range down by `n` bytes of in-order data, clipping at zero.
    pub fn shift(&mut self, n: usize) {
        self.ranges.retain_mut(|r| {
            r.0 = r.0.saturating_sub(n);
            r.1 = r.1.saturating_sub(n);
            r.1 > r.0
        });
    }
}

/// In-order and out-of-order received bytes.
#[derive(Debug, Clone)]
pub struct RecvBuffer {
    ring: Vec<u8>,
    capacity: usize,
    start: usize,
    len: usize,
    assembler: Assembler,
}

impl RecvBuffer {
    /// A buffer of `capacity` bytes tracking at most `max_ranges` out-of-order ranges.
    /// The ring is allocated on the first write, so an idle or half-open connection
    /// costs no buffer memory.
    pub fn new(capacity: usize, max_ranges: usize) -> Self {
        RecvBuffer {
            ring: Vec::new(),
            capacity,
            start: 0,
            len: 0,
            assembler: Assembler::new(max_ranges),
        }
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// In-order bytes ready for the application.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no in-order byte is ready.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room beyond the in-order bytes (the receive window).
    pub fn window(&self) -> usize {
        self.capacity - self.len
    }

    /// The out-of-order ranges, as offsets from the in-order end.
    pub fn out_of_order(&self) -> &[(usize, usize)] {
        self.assembler.ranges()
    }

    fn copy_in(&mut self, at: usize, data: &[u8]) {
        if self.ring.len() < self.capacity {
            self.ring.resize(self.capacity, 0);
        }
        let pos = (self.start + self.len + at) % self.capacity;
        let first = data.len().min(self.capacity - pos);
        self.ring[pos..pos + first].copy_from_slice(&data[..first]);
        self.ring[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Places `data` at `offset` bytes beyond the in-order end (the part beyond the
    /// window is cut off). Returns how many bytes became in-order, or `None` if the
    /// assembler is full and the data was not kept.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Option<usize> {
        let window = self.window();
        if offset >= window || data.is_empty() {
            return Some(0);
        }
        let data = &data[..data.len().min(window - offset)];
        if !self.assembler.add(offset, offset + data.len()) {
            return None;
        }
        self.copy_in(offset, data);
        let n = self.assembler.take_front();
        self.len += n;
        Some(n)
    }

    /// Copies up to `out.len()` in-order bytes out; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        let first = n.min(self.capacity - self.start);
        out[..first].copy_from_slice(&self.ring[self.start..self.start + first]);
        out[first..n].copy_from_slice(&self.ring[..n - first]);
        self.start = (self.start + n) % self.capacity.max(1);
        self.len -= n;
        if self.len == 0 && self.assembler.is_empty() {
            self.start = 0;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembler_merges_and_bounds() {
        let mut a = Assembler::new(2);
        assert!(a.add(10, 20));
        assert!(a.add(30, 40));
        assert!(!a.add(50, 60));
        assert!(a.add(20, 30));
        assert_eq!(a.ranges(), &[(10, 40)]);
        assert!(a.add(0, 5));
        assert_eq!(a.take_front(), 5);
        assert_eq!(a.ranges(), &[(5, 35)]);
    }

    #[test]
    fn out_of_order_then_gap_fill() {
        let mut b = RecvBuffer::new(10, 4);
        assert_eq!(b.write_at(3, b"def"), Some(0));
        assert_eq!(b.write_at(0, b"abc"), Some(6));
        let mut out = [0u8; 4];
        assert_eq!(b.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        // Wraps around the ring; the part past the window is cut off.
        assert_eq!(b.write_at(0, b"ghijklmnop"), Some(8));
        let mut out = [0u8; 16];
        assert_eq!(b.read(&mut out), 10);
        assert_eq!(&out[..10], b"efghijklmn");
    }
}
