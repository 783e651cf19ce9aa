//! Pastry identifiers: 128-bit numbers on a circle modulo 2^128, read as digits of
//! `b` bits from the most significant end.

use core::fmt;
use core::net::SocketAddr;

use sha1::{Digest, Sha1};

/// A 128-bit node identifier or key. Kept as two 64-bit halves (so a [`super::Peer`]
/// packs without the 16-byte alignment of `u128`), ordered as an unsigned number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Id {
    hi: u64,
    lo: u64,
}

/// Bits in an identifier.
pub const ID_BITS: u32 = 128;

impl Id {
    /// Zero.
    pub const ZERO: Id = Id { hi: 0, lo: 0 };

    /// From its value.
    pub const fn new(value: u128) -> Id {
        Id {
            hi: (value >> 64) as u64,
            lo: value as u64,
        }
    }

    /// Its value.
    pub const fn get(self) -> u128 {
        ((self.hi as u128) << 64) | self.lo as u128
    }

    /// From 16 big-endian bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Id {
        Id::new(u128::from_be_bytes(bytes))
    }

    /// As 16 big-endian bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.get().to_be_bytes()
    }

    /// The first 128 bits of SHA-1 of `data` (the paper: a hash of the node's IP
    /// address or public key).
    pub fn hash(data: &[u8]) -> Id {
        let digest = Sha1::digest(data);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Id::from_bytes(bytes)
    }

    /// A node's identifier: the hash of its address as text (e.g. `10.0.0.1:4000`).
    pub fn of_addr(addr: SocketAddr) -> Id {
        use core::fmt::Write;
        let mut text = alloc::string::String::new();
        let _ = write!(text, "{addr}");
        Id::hash(text.as_bytes())
    }

    /// Digit `i` (0 = most significant) in base 2^`b`. With `b` not dividing 128 the
    /// last digit has fewer bits, read as if padded with zeros.
    #[inline]
    pub fn digit(self, i: u32, b: u32) -> usize {
        let shift = i * b;
        debug_assert!(shift < ID_BITS);
        ((self.get() << shift) >> (ID_BITS - b)) as usize
    }

    /// Digits in an identifier with digits of `b` bits.
    pub fn digits(b: u32) -> u32 {
        ID_BITS.div_ceil(b)
    }

    /// The length, in digits of `b` bits, of the prefix `self` and `other` share.
    #[inline]
    pub fn shared_prefix(self, other: Id, b: u32) -> u32 {
        let x = self.get() ^ other.get();
        if x == 0 {
            Id::digits(b)
        } else {
            x.leading_zeros() / b
        }
    }

    /// Clockwise distance from `self` to `other`: `other − self` modulo 2^128.
    #[inline]
    pub fn cw(self, other: Id) -> u128 {
        other.get().wrapping_sub(self.get())
    }

    /// The distance between `self` and `other` on the circle (the shorter way round):
    /// what "numerically closest" means.
    #[inline]
    pub fn ring_distance(self, other: Id) -> u128 {
        let d = self.cw(other);
        d.min(d.wrapping_neg())
    }

    /// Whether `a` is closer to `self` than `b` is; ties go to the smaller identifier,
    /// so every node picks the same one.
    #[inline]
    pub fn closer(self, a: Id, b: Id) -> bool {
        let (da, db) = (self.ring_distance(a), self.ring_distance(b));
        da < db || (da == db && a < b)
    }

    /// The identifier with `self`'s first `row` digits, then digit `col`, then zeros:
    /// the smallest key routing table slot (`row`, `col`) covers.
    pub fn slot_key(self, row: u32, col: usize, b: u32) -> Id {
        let keep = row * b;
        let prefix = if keep == 0 {
            0
        } else {
            self.get() & (u128::MAX << (ID_BITS - keep))
        };
        let shift = ID_BITS.saturating_sub(keep + b);
        Id::new(prefix | ((col as u128) << shift))
    }

    /// The first and last keys routing-table slot (`row`, `col`) covers: those with
    /// `self`'s first `row` digits, then digit `col`.
    pub fn slot_range(self, row: u32, col: usize, b: u32) -> (Id, Id) {
        let lo = self.slot_key(row, col, b).get();
        let width = (row + 1) * b;
        let span = if width >= ID_BITS {
            0
        } else {
            u128::MAX >> width
        };
        (Id::new(lo), Id::new(lo + span))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.get())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first 8 hex digits, as Pastry papers print identifiers.
        write!(f, "{:08x}…", (self.get() >> 96) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_prefixes() {
        let a = Id::new(0x1234_5678_9abc_def0_0000_0000_0000_0000);
        assert_eq!(a.digit(0, 4), 1);
        assert_eq!(a.digit(3, 4), 4);
        assert_eq!(a.digit(0, 8), 0x12);
        assert_eq!(Id::digits(4), 32);
        assert_eq!(Id::digits(3), 43);
        // The last 3-bit digit holds 2 bits, padded.
        assert_eq!(Id::new(3).digit(42, 3), 6);
        let b = Id::new(0x1235_0000_0000_0000_0000_0000_0000_0000);
        assert_eq!(a.shared_prefix(b, 4), 3);
        assert_eq!(a.shared_prefix(a, 4), 32);
        assert_eq!(a.shared_prefix(b, 1), 15);
    }

    #[test]
    fn circle() {
        let a = Id::new(10);
        let b = Id::new(u128::MAX - 5);
        assert_eq!(a.ring_distance(b), 16);
        assert_eq!(b.ring_distance(a), 16);
        assert_eq!(a.cw(b), u128::MAX - 15);
        assert!(Id::new(0).closer(b, Id::new(20)));
        // A tie goes to the smaller identifier.
        assert!(Id::new(10).closer(Id::new(5), Id::new(15)));
        assert!(!Id::new(10).closer(Id::new(15), Id::new(5)));
    }

    #[test]
    fn slot_keys() {
        let me = Id::new(0xabcd_u128 << 112);
        let k = me.slot_key(2, 7, 4);
        assert_eq!(k.get() >> 116, 0xab7);
        assert_eq!(k.get() & ((1u128 << 116) - 1), 0);
        assert_eq!(k.shared_prefix(me, 4), 2);
        assert_eq!(k.digit(2, 4), 7);
        assert_eq!(me.slot_key(0, 3, 4).get() >> 124, 3);
        let (lo, hi) = me.slot_range(2, 7, 4);
        assert_eq!((lo, hi.get() >> 116), (k, 0xab7));
        assert_eq!(hi.get() & ((1u128 << 116) - 1), (1u128 << 116) - 1);
        assert_eq!(me.slot_range(15, 2, 8).0, me.slot_range(15, 2, 8).1);
    }

    #[test]
    fn bytes_round_trip() {
        let a = Id::new(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        assert_eq!(Id::from_bytes(a.to_bytes()), a);
        assert_eq!(a.to_bytes()[0], 1);
        assert_ne!(Id::of_addr("10.0.0.1:4000".parse().unwrap()), Id::ZERO);
    }
}
