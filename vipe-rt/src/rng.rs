//! The platform's seeded random number generator, as protocols see it.

use core::convert::Infallible;

use rand_core::{Rng as _, SeedableRng, TryRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A node's random number generator: xoshiro256++, seeded by the platform so that a
/// simulation with the same seed draws the same numbers.
///
/// It implements `rand_core`'s `TryRng` (and so `Rng`), so `rand`'s distributions work
/// with it; the common draws are methods here so protocols need no other crate.
#[derive(Clone, Debug)]
pub struct NodeRng(Xoshiro256PlusPlus);

impl NodeRng {
    /// A generator seeded with `seed`.
    pub fn seed_from_u64(seed: u64) -> Self {
        NodeRng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// A uniformly random `u32`.
    pub fn u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// A uniformly random `u64`.
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform float in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.f64() < p
        }
    }

    /// A uniform integer in `[low, high)`; `low` if the range is empty.
    pub fn below(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        // Lemire's multiply-shift: unbiased enough for experiments, and branch-free.
        let span = high - low;
        low + ((u128::from(self.0.next_u64()) * u128::from(span)) >> 64) as u64
    }

    /// Fills `dst` with random bytes.
    pub fn fill(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}

impl TryRng for NodeRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.try_fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let mut a = NodeRng::seed_from_u64(7);
        let mut b = NodeRng::seed_from_u64(7);
        for _ in 0..100 {
            assert_eq!(a.u64(), b.u64());
        }
        let mut c = NodeRng::seed_from_u64(8);
        assert_ne!(a.u64(), c.u64());
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = NodeRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let x = r.below(10, 20);
            assert!((10..20).contains(&x));
            let f = r.f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        assert_eq!(r.below(5, 5), 5);
    }
}
