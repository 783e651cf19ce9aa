//! The SACK sender's scoreboard (RFC 2018, RFC 6675): which bytes above SND.UNA the
//! receiver reported holding, whether a hole counts as lost, how much is in the pipe,
//! and which bytes to retransmit next. Ranges are merged and their number is bounded;
//! forgetting a range only costs information, never correctness.

use alloc::vec::Vec;

use super::seq::SeqNumber;

/// RFC 6675 DupThresh.
pub const DUP_THRESH: usize = 3;

/// Reported ranges above SND.UNA, sorted and disjoint.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    ranges: Vec<(SeqNumber, SeqNumber)>,
    max_ranges: usize,
}

impl Scoreboard {
    /// A scoreboard keeping at most `max_ranges` ranges.
    pub fn new(max_ranges: usize) -> Self {
        Scoreboard {
            ranges: Vec::new(),
            max_ranges: max_ranges.max(1),
        }
    }

    /// The SACKed ranges.
    pub fn ranges(&self) -> &[(SeqNumber, SeqNumber)] {
        &self.ranges
    }

    /// Whether nothing is SACKed.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Forgets everything (after a retransmission timeout, RFC 2018 section 8).
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Records a SACK block, clipped to `[una, max)`. Returns whether it told anything new.
    pub fn add(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        una: SeqNumber,
        max: SeqNumber,
    ) -> bool {
        let (l, r) = (left.max(una), right.min(max));
        if l >= r {
            return false;
        }
        let first = self.ranges.partition_point(|&(_, e)| e < l);
        let last = self.ranges.partition_point(|&(s, _)| s <= r);
        if first == last {
            if self.ranges.len() >= self.max_ranges {
                // Keep the lowest ranges: they decide what is retransmitted next.
                if first >= self.ranges.len() {
                    return false;
                }
                self.ranges.pop();
            }
            self.ranges.insert(first, (l, r));
            return true;
        }
        let s = l.min(self.ranges[first].0);
        let e = r.max(self.ranges[last - 1].1);
        let grew = last - first > 1 || s < self.ranges[first].0 || e > self.ranges[first].1;
        self.ranges.drain(first + 1..last);
        self.ranges[first] = (s, e);
        grew
    }

    /// Drops what the cumulative ACK `una` now covers.
    pub fn ack(&mut self, una: SeqNumber) {
        self.ranges.retain_mut(|r| {
            r.0 = r.0.max(una);
            r.1 > r.0
        });
    }

    /// Total bytes SACKed.
    pub fn sacked_bytes(&self) -> usize {
        self.ranges.iter().map(|&(s, e)| e.since(s)).sum()
    }

    /// Whether `seq` was SACKed.
    pub fn is_sacked(&self, seq: SeqNumber) -> bool {
        self.ranges.iter().any(|&(s, e)| seq.within(s, e))
    }

    /// Bytes SACKed at or above `seq`, and in how many ranges.
    fn above(&self, seq: SeqNumber) -> (usize, usize) {
        let mut bytes = 0;
        let mut count = 0;
        for &(s, e) in &self.ranges {
            if e > seq {
                bytes += e.since(s.max(seq));
                count += 1;
            }
        }
        (bytes, count)
    }

    /// RFC 6675 IsLost(seq): DupThresh discontiguous SACKed ranges above it, or more than
    /// (DupThresh − 1)·SMSS bytes SACKed above it.
    pub fn is_lost(&self, seq: SeqNumber, smss: usize) -> bool {
        let (bytes, count) = self.above(seq + 1);
        count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss
    }

    /// The unSACKed holes below the highest SACKed byte, from `una`.
    pub fn holes(&self, una: SeqNumber) -> impl Iterator<Item = (SeqNumber, SeqNumber)> + '_ {
        let mut prev = una;
        self.ranges.iter().filter_map(move |&(s, e)| {
            let hole = (prev, s);
            prev = e;
            (hole.0 < hole.1).then_some(hole)
        })
    }

    /// RFC 6675 SetPipe: bytes believed in the network, from SND.UNA to SND.MAX, given
    /// that everything below `high_rxt` in a hole was retransmitted. One pass from the
    /// top: a hole's IsLost needs only the SACKed bytes and ranges above it.
    pub fn pipe(&self, una: SeqNumber, max: SeqNumber, high_rxt: SeqNumber, smss: usize) -> usize {
        let top = self.ranges.last().map_or(una, |r| r.1);
        let mut pipe = max.since(top.max(una));
        let (mut bytes_above, mut count_above) = (0usize, 0usize);
        for i in (0..self.ranges.len()).rev() {
            let (s, e) = self.ranges[i];
            bytes_above += e.since(s);
            count_above += 1;
            let a = if i == 0 { una } else { self.ranges[i - 1].1 };
            if a >= s {
                continue;
            }
            // IsLost(a): the ranges from i up all lie above a + 1, since a < s.
            let lost = count_above >= DUP_THRESH || bytes_above > (DUP_THRESH - 1) * smss;
            if !lost {
                pipe += s.since(a);
            }
            pipe += high_rxt.min(s).since(a);
        }
        pipe
    }

    /// RFC 6675 NextSeg rule 1: the first lost, unSACKed, not yet retransmitted range at
    /// or above `high_rxt`, at most `smss` long.
    pub fn next_lost(
        &self,
        una: SeqNumber,
        high_rxt: SeqNumber,
        smss: usize,
    ) -> Option<(SeqNumber, usize)> {
        for (a, b) in self.holes(una) {
            let start = a.max(high_rxt);
            if start < b && self.is_lost(start, smss) {
                return Some((start, b.since(start).min(smss)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    #[test]
    fn merge_clip_and_ack() {
        let mut b = Scoreboard::new(4);
        assert!(b.add(s(200), s(300), s(100), s(1000)));
        assert!(b.add(s(400), s(500), s(100), s(1000)));
        assert!(!b.add(s(200), s(300), s(100), s(1000)));
        assert!(b.add(s(300), s(400), s(100), s(1000)));
        assert_eq!(b.ranges(), &[(s(200), s(500))]);
        assert!(!b.add(s(0), s(50), s(100), s(1000)), "below SND.UNA");
        b.ack(s(250));
        assert_eq!(b.ranges(), &[(s(250), s(500))]);
        assert_eq!(b.sacked_bytes(), 250);
    }

    #[test]
    fn loss_pipe_and_next_segment() {
        let mut b = Scoreboard::new(8);
        // Segments of 100 from 0; 100..200 lost, 200..500 SACKed, 500..600 in flight.
        b.add(s(200), s(500), s(0), s(600));
        assert!(!b.is_lost(s(0), 100) || b.sacked_bytes() > 200);
        assert!(b.is_lost(s(100), 100));
        assert_eq!(b.next_lost(s(0), s(0), 100), Some((s(0), 100)));
        assert_eq!(b.next_lost(s(0), s(100), 100), Some((s(100), 100)));
        assert_eq!(b.next_lost(s(0), s(200), 100), None);
        // Hole 0..200 lost (300 bytes SACKed above); tail 500..600 in flight.
        assert_eq!(b.pipe(s(0), s(600), s(0), 100), 100);
        assert_eq!(b.pipe(s(0), s(600), s(100), 100), 200);
    }

    /// SetPipe as RFC 6675 writes it: every hole asks IsLost on its own.
    fn naive_pipe(
        b: &Scoreboard,
        una: SeqNumber,
        max: SeqNumber,
        rxt: SeqNumber,
        smss: usize,
    ) -> usize {
        let mut pipe = 0;
        for (a, e) in b.holes(una) {
            if !b.is_lost(a, smss) {
                pipe += e.since(a);
            }
            pipe += rxt.min(e).since(a);
        }
        let top = b.ranges().last().map_or(una, |r| r.1);
        pipe + max.since(top.max(una))
    }

    #[test]
    fn one_pass_pipe_matches_the_rfc_formula() {
        // A small deterministic generator: many scoreboards, SND.UNA near the wrap.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..2000 {
            let una = SeqNumber(u32::MAX - 3000) + next(6000) as usize;
            let max = una + 20_000;
            let mut b = Scoreboard::new(64);
            for _ in 0..next(12) {
                let l = una + next(20_000) as usize;
                b.add(l, l + 1 + next(1500) as usize, una, max);
            }
            let rxt = una + next(20_000) as usize;
            let smss = 100 + next(1400) as usize;
            assert_eq!(
                b.pipe(una, max, rxt, smss),
                naive_pipe(&b, una, max, rxt, smss)
            );
        }
    }
}
