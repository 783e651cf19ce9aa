//! Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4): comparisons are made
//! on the signed distance between two numbers, so they stay right across wrap-around as
//! long as the numbers are less than 2^31 apart.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence (or acknowledgement) number. Ordered by wrapping distance, not by
/// its raw value: `SeqNumber(1) > SeqNumber(u32::MAX)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self` (`self - other`).
    #[inline]
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Bytes from `earlier` up to `self`; zero if `earlier` is not before `self`.
    #[inline]
    pub fn since(self, earlier: SeqNumber) -> usize {
        self.diff(earlier).max(0) as usize
    }

    /// The larger of the two, by wrapping order.
    #[inline]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self >= other { self } else { other }
    }

    /// The smaller of the two, by wrapping order.
    #[inline]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self <= other { self } else { other }
    }

    /// Whether `low <= self < high`.
    #[inline]
    pub fn within(self, low: SeqNumber, high: SeqNumber) -> bool {
        self >= low && self < high
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SeqNumber {
    /// Wrapping order; not transitive across more than 2^31, like TCP itself.
    fn cmp(&self, other: &Self) -> Ordering {
        self.diff(*other).cmp(&0)
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    #[inline]
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn sub(self, n: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n as u32))
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_survives_wrap() {
        assert!(SeqNumber(1) > SeqNumber(u32::MAX));
        assert!(SeqNumber(u32::MAX) < SeqNumber(5));
        assert_eq!(SeqNumber(u32::MAX) + 2, SeqNumber(1));
        assert_eq!(SeqNumber(3).since(SeqNumber(u32::MAX)), 4);
        assert_eq!(SeqNumber(3).since(SeqNumber(4)), 0);
        assert!(SeqNumber(0).within(SeqNumber(u32::MAX), SeqNumber(1)));
    }
}
