//! Chord identifiers: 160-bit numbers on a ring modulo 2^160, from SHA-1.

use core::fmt;
use core::net::SocketAddr;

use sha1::{Digest, Sha1};

/// A 160-bit identifier on the Chord ring (a node's or a key's), ordered as an unsigned
/// big-endian number. Stored as its upper 128 and lower 32 bits, so comparisons and
/// ring arithmetic are a few machine operations.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Id {
    hi: u128,
    lo: u32,
}

/// Bits in an identifier.
pub const ID_BITS: u32 = 160;

impl Id {
    /// Zero.
    pub const ZERO: Id = Id { hi: 0, lo: 0 };
    /// 2^160 − 1.
    pub const MAX: Id = Id {
        hi: u128::MAX,
        lo: u32::MAX,
    };

    /// From 20 big-endian bytes.
    pub fn from_bytes(bytes: [u8; 20]) -> Id {
        let mut hi = [0u8; 16];
        hi.copy_from_slice(&bytes[..16]);
        let mut lo = [0u8; 4];
        lo.copy_from_slice(&bytes[16..]);
        Id {
            hi: u128::from_be_bytes(hi),
            lo: u32::from_be_bytes(lo),
        }
    }

    /// As 20 big-endian bytes.
    pub fn to_bytes(self) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[..16].copy_from_slice(&self.hi.to_be_bytes());
        out[16..].copy_from_slice(&self.lo.to_be_bytes());
        out
    }

    /// SHA-1 of `data`.
    pub fn hash(data: &[u8]) -> Id {
        let digest = Sha1::digest(data);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&digest);
        Id::from_bytes(bytes)
    }

    /// A node's identifier as the paper derives it: SHA-1 of its address (IP and port
    /// as text, e.g. `10.0.0.1:4000`), and of `#v` appended for its virtual node `v > 0`.
    pub fn of_node(addr: SocketAddr, virtual_node: u32) -> Id {
        use core::fmt::Write;
        let mut text = heapless_text::Text::new();
        let _ = write!(text, "{addr}");
        if virtual_node > 0 {
            let _ = write!(text, "#{virtual_node}");
        }
        Id::hash(text.as_bytes())
    }

    /// A key's identifier: SHA-1 of the key.
    pub fn of_key(key: &[u8]) -> Id {
        Id::hash(key)
    }

    /// From a 64-bit number placed in the top bits, for tests and for spreading ids
    /// evenly: `Id::from_top_u64(x)` is x · 2^96.
    pub fn from_top_u64(x: u64) -> Id {
        Id {
            hi: u128::from(x) << 64,
            lo: 0,
        }
    }

    /// The top 64 bits (the identifier divided by 2^96), for plots and CSVs.
    pub fn top_u64(self) -> u64 {
        (self.hi >> 64) as u64
    }

    /// `self + other` modulo 2^160.
    pub fn wrapping_add(self, other: Id) -> Id {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        Id {
            hi: self
                .hi
                .wrapping_add(other.hi)
                .wrapping_add(u128::from(carry)),
            lo,
        }
    }

    /// `self − other` modulo 2^160: the clockwise distance from `other` to `self`.
    pub fn wrapping_sub(self, other: Id) -> Id {
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        Id {
            hi: self
                .hi
                .wrapping_sub(other.hi)
                .wrapping_sub(u128::from(borrow)),
            lo,
        }
    }

    /// 2^i for i < 160.
    pub fn pow2(i: u32) -> Id {
        debug_assert!(i < ID_BITS);
        if i < 32 {
            Id { hi: 0, lo: 1 << i }
        } else {
            Id {
                hi: 1 << (i - 32),
                lo: 0,
            }
        }
    }

    /// The clockwise distance from `self` to `to`.
    pub fn distance_to(self, to: Id) -> Id {
        to.wrapping_sub(self)
    }

    /// Whether `self` lies in the ring interval (a, b), both ends open. With a = b the
    /// interval is the whole ring but a.
    pub fn in_open(self, a: Id, b: Id) -> bool {
        let d = a.distance_to(self);
        d != Id::ZERO && (a == b || d < a.distance_to(b))
    }

    /// Whether `self` lies in (a, b]. With a = b the interval is the whole ring.
    pub fn in_half_open(self, a: Id, b: Id) -> bool {
        a == b || self == b || self.in_open(a, b)
    }

    /// ⌊log2(self)⌋, or `None` for zero.
    pub fn log2(self) -> Option<u32> {
        if self.hi != 0 {
            Some(32 + 127 - self.hi.leading_zeros())
        } else if self.lo != 0 {
            Some(31 - self.lo.leading_zeros())
        } else {
            None
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Id {
    /// The first 8 hexadecimal digits, as logs show node ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", (self.hi >> 96) as u32)
    }
}

/// A fixed buffer to format an address into without allocating.
mod heapless_text {
    /// Up to 64 bytes of text.
    pub struct Text {
        buf: [u8; 64],
        len: usize,
    }

    impl Text {
        pub fn new() -> Text {
            Text {
                buf: [0; 64],
                len: 0,
            }
        }

        pub fn as_bytes(&self) -> &[u8] {
            &self.buf[..self.len]
        }
    }

    impl core::fmt::Write for Text {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let bytes = s.as_bytes();
            let end = self.len + bytes.len();
            if end > self.buf.len() {
                return Err(core::fmt::Error);
            }
            self.buf[self.len..end].copy_from_slice(bytes);
            self.len = end;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_arithmetic_wraps_at_2_pow_160() {
        let one = Id::pow2(0);
        assert_eq!(Id::MAX.wrapping_add(one), Id::ZERO);
        assert_eq!(Id::ZERO.wrapping_sub(one), Id::MAX);
        assert_eq!(Id::pow2(31).wrapping_add(Id::pow2(31)), Id::pow2(32));
        assert_eq!(Id::pow2(40).wrapping_sub(one).log2(), Some(39));
        assert_eq!(Id::pow2(159).log2(), Some(159));
        assert_eq!(Id::pow2(3).log2(), Some(3));
        assert_eq!(Id::ZERO.log2(), None);
        let a = Id::from_top_u64(10);
        let b = Id::from_top_u64(20);
        assert!(Id::from_top_u64(15).in_open(a, b));
        assert!(!a.in_open(a, b) && !b.in_open(a, b));
        assert!(b.in_half_open(a, b));
        // Wrapping intervals: (20, 10) holds 25 and 5 but not 15.
        assert!(Id::from_top_u64(25).in_open(b, a));
        assert!(Id::from_top_u64(5).in_open(b, a));
        assert!(!Id::from_top_u64(15).in_open(b, a));
        // (a, a) is everything but a; (a, a] is everything.
        assert!(b.in_open(a, a) && !a.in_open(a, a) && a.in_half_open(a, a));
    }

    #[test]
    fn bytes_and_sha1() {
        let id = Id::hash(b"abc");
        // SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d
        assert_eq!(
            id.to_bytes(),
            [
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
            ]
        );
        assert_eq!(Id::from_bytes(id.to_bytes()), id);
        assert_eq!(alloc::format!("{id}"), "a9993e36");
        let addr: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        assert_eq!(Id::of_node(addr, 0), Id::hash(b"10.0.0.1:4000"));
        assert_eq!(Id::of_node(addr, 2), Id::hash(b"10.0.0.1:4000#2"));
    }
}
