//! The send buffer: bytes the application wrote, from the oldest unacknowledged one
//! (SND.UNA) onwards, with a fixed capacity. Acknowledged bytes leave from the front;
//! segments copy ranges out by offset from SND.UNA, so retransmission is a copy too.

use alloc::collections::VecDeque;

/// Application bytes waiting to be sent or acknowledged.
#[derive(Debug, Clone)]
pub struct SendBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl SendBuffer {
    /// An empty buffer that holds at most `capacity` bytes. Memory is taken as data
    /// arrives, not up front.
    pub fn new(capacity: usize) -> Self {
        SendBuffer {
            bytes: VecDeque::new(),
            capacity,
        }
    }

    /// Bytes held (unacknowledged plus unsent).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Room left for the application.
    pub fn free(&self) -> usize {
        self.capacity - self.bytes.len()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends as much of `data` as fits; returns how much was taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.bytes.extend(&data[..n]);
        n
    }

    /// Drops `n` acknowledged bytes from the front.
    pub fn ack(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.drain(..n);
        if self.bytes.is_empty() && self.bytes.capacity() > 64 * 1024 {
            self.bytes.shrink_to(64 * 1024);
        }
    }

    /// Copies the bytes at `offset..offset + out.len()` (from SND.UNA) into `out`;
    /// returns how many were available.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.bytes.len() {
            return 0;
        }
        let n = out.len().min(self.bytes.len() - offset);
        let (a, b) = self.bytes.as_slices();
        let mut copied = 0;
        if offset < a.len() {
            let take = n.min(a.len() - offset);
            out[..take].copy_from_slice(&a[offset..offset + take]);
            copied = take;
        }
        if copied < n {
            let start = offset + copied - a.len();
            out[copied..n].copy_from_slice(&b[start..start + n - copied]);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_ack_read_across_the_wrap() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.write(b"abcdef"), 6);
        b.ack(4);
        assert_eq!(b.write(b"ghijklmn"), 6);
        assert_eq!(b.free(), 0);
        let mut out = [0u8; 8];
        assert_eq!(b.read_at(0, &mut out), 8);
        assert_eq!(&out, b"efghijkl");
        assert_eq!(b.read_at(6, &mut out), 2);
        assert_eq!(&out[..2], b"kl");
        assert_eq!(b.read_at(9, &mut out), 0);
    }
}
