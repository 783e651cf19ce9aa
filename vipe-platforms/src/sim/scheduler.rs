//! The simulator's event queue: events ordered by (time, sequence), the sequence being
//! the order they were scheduled in, so equal times come out first-scheduled-first and a
//! run is deterministic.
//!
//! Two implementations with one interface, so they can be measured against each other
//! (`cargo bench -p vipe-platforms --bench scheduler`):
//!
//! - [`HeapQueue`]: one global binary heap. Every push and pop is O(log n) with
//!   cache-unfriendly sift paths once the heap outgrows the caches (10^6+ entries).
//! - [`WheelQueue`] (the simulator's): a two-level hierarchical timing wheel with a binary
//!   heap for events beyond its horizon. Pushing appends to a bucket (O(1)); only the
//!   bucket that is current is ordered, in a small heap that stays in cache. Events past
//!   both wheel levels wait in the far heap and are cascaded in when the wheel reaches
//!   them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use vipe_rt::Instant;

/// An entry: time, sequence, and the caller's item.
#[derive(Clone, Copy, Debug)]
struct Entry<T> {
    time: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
/// Reversed: the earliest entry is the greatest, so `BinaryHeap<Entry>` is a min-heap and
/// a bucket's vector becomes a heap (and back) without copying.
impl<T> Ord for Entry<T> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Sorts entries latest first (`Entry`'s order), comparing (time, sequence) as one
/// 128-bit key: one branch-free comparison instead of two dependent ones.
#[inline]
fn sort_latest_first<T>(entries: &mut [Entry<T>]) {
    entries
        .sort_unstable_by_key(|e| std::cmp::Reverse(u128::from(e.time) << 64 | u128::from(e.seq)));
}

/// A priority queue of events by (time, order of scheduling).
pub trait EventQueue<T> {
    /// Schedules `item` at `time`. `time` must not be before the last popped time.
    fn push(&mut self, time: Instant, item: T);
    /// Removes the earliest event (first scheduled among equal times).
    fn pop(&mut self) -> Option<(Instant, T)>;
    /// The earliest event's time.
    fn peek_time(&mut self) -> Option<Instant>;
    /// Number of events waiting.
    fn len(&self) -> usize;
    /// Whether nothing waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One global binary heap: the baseline the wheel is measured against.
#[derive(Debug)]
pub struct HeapQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

impl<T> Default for HeapQueue<T> {
    fn default() -> Self {
        HeapQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> EventQueue<T> for HeapQueue<T> {
    #[inline]
    fn push(&mut self, time: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Entry {
            time: time.as_nanos(),
            seq: self.seq,
            item,
        });
    }
    #[inline]
    fn pop(&mut self) -> Option<(Instant, T)> {
        self.heap
            .pop()
            .map(|e| (Instant::from_nanos(e.time), e.item))
    }
    fn peek_time(&mut self) -> Option<Instant> {
        self.heap.peek().map(|e| Instant::from_nanos(e.time))
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Bits of a level-1 bucket index: 4096 buckets per level.
const LEVEL_BITS: u32 = 12;
const LEVEL_SIZE: usize = 1 << LEVEL_BITS;
const LEVEL_MASK: u64 = LEVEL_SIZE as u64 - 1;
/// Largest allocation (in entries) an emptied bucket keeps for reuse.
const KEEP_BUCKET_CAPACITY: usize = 256;
/// Larger allocations given up by buckets are kept for buckets that outgrow theirs, in
/// classes by powers of two: at most this many per class, and room for at most half as
/// many entries as are pending in all (so memory still follows the load down).
const SPARES_PER_CLASS: usize = 32;
/// Level-1 insertions are staged and scattered into their buckets this many at a time.
const STAGE: usize = 32;

/// A two-level hierarchical timing wheel with a heap for far events.
///
/// Level 1 has 4096 buckets of `2^shift` ns (default 2^16 ns ≈ 65 µs, a horizon of
/// ≈ 268 ms); level 2 has 4096 buckets each one level-1 turn wide (≈ 18 min); beyond that,
/// a binary heap. The bucket holding the current time is sorted when the wheel reaches it
/// and popped from its end (`run`: sequential, and the next events are known, so the
/// simulator can prefetch what they touch); events scheduled into that bucket meanwhile go
/// to a small heap (`late`), and each pop takes the earlier of the two;
/// the others are unordered vectors until the wheel reaches them.
#[derive(Debug)]
pub struct WheelQueue<T> {
    shift: u32,
    /// The level-1 slot (`time >> shift`) that `run` and `late` hold.
    cur: u64,
    /// The current bucket, sorted latest first (`Entry`'s order is reversed: ascending
    /// order puts the latest first), so the next event is at the end.
    run: Vec<Entry<T>>,
    /// Events scheduled into the current bucket after it was sorted.
    late: BinaryHeap<Entry<T>>,
    l1: Vec<Vec<Entry<T>>>,
    /// One bit per level-1 bucket: set when it holds something.
    l1_bits: Vec<u64>,
    l1_len: usize,
    l2: Vec<Vec<Entry<T>>>,
    l2_len: usize,
    far: BinaryHeap<Entry<T>>,
    /// Level-1 events not yet in their buckets (all after the current bucket): see
    /// `flush`.
    staged: Vec<Entry<T>>,
    /// Large bucket allocations not in use, by ⌊log2(capacity)⌋ (see `grow`).
    spares: Vec<Vec<Vec<Entry<T>>>>,
    /// Entries the spares have room for.
    spare_entries: usize,
    seq: u64,
    len: usize,
}

impl<T: Copy> Default for WheelQueue<T> {
    fn default() -> Self {
        Self::new(16)
    }
}

impl<T: Copy> WheelQueue<T> {
    /// A wheel whose level-1 buckets are `2^shift` ns wide (clamped to 4..=40).
    pub fn new(shift: u32) -> Self {
        WheelQueue {
            shift: shift.clamp(4, 40),
            cur: 0,
            run: Vec::new(),
            late: BinaryHeap::new(),
            l1: (0..LEVEL_SIZE).map(|_| Vec::new()).collect(),
            l1_bits: vec![0; LEVEL_SIZE / 64],
            l1_len: 0,
            l2: (0..LEVEL_SIZE).map(|_| Vec::new()).collect(),
            l2_len: 0,
            far: BinaryHeap::new(),
            staged: Vec::with_capacity(STAGE),
            spares: (0..usize::BITS).map(|_| Vec::new()).collect(),
            spare_entries: 0,
            seq: 0,
            len: 0,
        }
    }

    /// Appends to a level-1 bucket. A full bucket past the small allocation it keeps
    /// doubles into a spare allocation when there is one: at 10^6 nodes × 8 packets a
    /// bucket fills to ~10^4 entries every turn, and growing it into fresh memory each
    /// time (reallocations into memory the kernel must fault in and zero) cost ~10% of
    /// the run.
    #[inline]
    fn push_l1(&mut self, i: usize, e: Entry<T>) {
        let bucket = &self.l1[i];
        if bucket.len() == bucket.capacity() && bucket.capacity() >= KEEP_BUCKET_CAPACITY {
            self.grow(i);
        }
        self.l1[i].push(e);
    }

    /// Doubles bucket `i`'s allocation, into a spare if one is there.
    #[cold]
    fn grow(&mut self, i: usize) {
        let want = self.l1[i].capacity() * 2;
        let class = want.ilog2() as usize;
        let Some(mut bigger) = self.spares[class].pop() else {
            // No spare: the allocator's own growth (a large block is remapped, not
            // copied, so the old and new blocks are never both held).
            let bucket = &mut self.l1[i];
            bucket.reserve_exact(want - bucket.len());
            return;
        };
        self.spare_entries -= bigger.capacity();
        bigger.extend_from_slice(&self.l1[i]);
        let old = std::mem::replace(&mut self.l1[i], bigger);
        self.give_back(old);
    }

    /// Takes an allocation no longer used: a small one is returned (cleared) for a
    /// bucket to keep; a large one goes to the spares (or is freed if its class is full)
    /// and the bucket gets none.
    fn give_back(&mut self, mut v: Vec<Entry<T>>) -> Vec<Entry<T>> {
        v.clear();
        if v.capacity() <= KEEP_BUCKET_CAPACITY {
            return v;
        }
        let room = v.capacity();
        let class = &mut self.spares[room.ilog2() as usize];
        if class.len() < SPARES_PER_CLASS && self.spare_entries + room <= self.len / 2 {
            class.push(v);
            self.spare_entries += room;
        }
        Vec::new()
    }

    /// Schedules an event: level-1 ones via the staging buffer.
    #[inline]
    fn stage(&mut self, e: Entry<T>) {
        let slot = e.time >> self.shift;
        if slot > self.cur && slot < self.cur + LEVEL_SIZE as u64 {
            self.staged.push(e);
            if self.staged.len() == STAGE {
                self.flush();
            }
        } else {
            self.insert(e);
        }
    }

    /// Scatters the staged events into their buckets. Appending to a random one of 4096
    /// buckets misses the cache twice (the bucket's header, then its tail) when the
    /// wheel is large; staged, the headers and then the tails of a batch are loaded
    /// together, their misses overlapping, before anything is written.
    fn flush(&mut self) {
        let mut staged = std::mem::take(&mut self.staged);
        for e in &staged {
            super::prefetch_lines(&self.l1[((e.time >> self.shift) & LEVEL_MASK) as usize]);
        }
        for e in &staged {
            let bucket = &self.l1[((e.time >> self.shift) & LEVEL_MASK) as usize];
            super::prefetch_addr(bucket.as_ptr().wrapping_add(bucket.len()).cast());
        }
        for e in staged.drain(..) {
            self.insert(e);
        }
        self.staged = staged;
    }

    #[inline]
    fn insert(&mut self, e: Entry<T>) {
        let slot = e.time >> self.shift;
        if slot <= self.cur {
            // The current bucket (or, defensively, the past: it sorts first anyway).
            self.late.push(e);
        } else if slot < self.cur + LEVEL_SIZE as u64 {
            let i = (slot & LEVEL_MASK) as usize;
            self.push_l1(i, e);
            self.l1_bits[i / 64] |= 1 << (i % 64);
            self.l1_len += 1;
        } else {
            let slot2 = slot >> LEVEL_BITS;
            if slot2 < (self.cur >> LEVEL_BITS) + LEVEL_SIZE as u64 {
                self.l2[(slot2 & LEVEL_MASK) as usize].push(e);
                self.l2_len += 1;
            } else {
                self.far.push(e);
            }
        }
    }

    /// The first level-1 slot after `cur` holding events (circularly over the window).
    fn next_l1_slot(&self) -> Option<u64> {
        if self.l1_len == 0 {
            return None;
        }
        let start = ((self.cur + 1) & LEVEL_MASK) as usize;
        // Scan the bitmap words from `start`, wrapping once.
        let words = self.l1_bits.len();
        let mut w = start / 64;
        let mut mask = !0u64 << (start % 64);
        for _ in 0..=words {
            let bits = self.l1_bits[w] & mask;
            if bits != 0 {
                let i = (w * 64 + bits.trailing_zeros() as usize) as u64;
                let dist = (i + LEVEL_SIZE as u64 - ((self.cur + 1) & LEVEL_MASK)) & LEVEL_MASK;
                return Some(self.cur + 1 + dist);
            }
            w = (w + 1) % words;
            mask = !0;
        }
        None
    }

    /// Moves level-1 bucket `slot` into `run`, sorted.
    fn load_bucket(&mut self, slot: u64) {
        let i = (slot & LEVEL_MASK) as usize;
        self.l1_bits[i / 64] &= !(1 << (i % 64));
        let mut bucket = std::mem::take(&mut self.l1[i]);
        self.l1_len -= bucket.len();
        // An emptied bucket keeps a small allocation for reuse, never a large one: every
        // bucket keeping the largest it ever held cost ~1 GB at 10^6 nodes × 8 packets
        // in flight (4096 buckets × ~10^4 entries), when only the live entries need
        // memory. A few large ones are kept as spares for the buckets that fill up.
        if self.run.is_empty() {
            // The run takes the bucket's allocation; the bucket gets the old run's.
            sort_latest_first(&mut bucket);
            let old = std::mem::replace(&mut self.run, bucket);
            self.l1[i] = self.give_back(old);
        } else {
            self.run.append(&mut bucket);
            sort_latest_first(&mut self.run);
            self.l1[i] = self.give_back(bucket);
        }
    }

    #[inline]
    fn near_is_empty(&self) -> bool {
        self.run.is_empty() && self.late.is_empty()
    }

    /// Whether the next event is in `late` rather than at the end of `run`.
    #[inline]
    fn late_first(&self) -> bool {
        match (self.run.last(), self.late.peek()) {
            (Some(r), Some(l)) => l > r,
            (None, _) => true,
            (Some(_), None) => false,
        }
    }

    /// Makes `run` or `late` non-empty if anything is queued. Returns false if nothing is.
    fn refill(&mut self) -> bool {
        if !self.staged.is_empty() {
            self.flush();
        }
        while self.near_is_empty() {
            if self.len == 0 {
                return false;
            }
            let boundary = ((self.cur >> LEVEL_BITS) + 1) << LEVEL_BITS;
            let next = self.next_l1_slot();
            if let Some(slot) = next.filter(|&s| s < boundary) {
                self.cur = slot;
                self.load_bucket(slot);
                continue;
            }
            // Nothing more in this turn of level 1: go to the next turn that has events.
            let cur2 = self.cur >> LEVEL_BITS;
            let mut target = next.map(|s| s >> LEVEL_BITS);
            if self.l2_len > 0 {
                for d in 1..LEVEL_SIZE as u64 {
                    if !self.l2[((cur2 + d) & LEVEL_MASK) as usize].is_empty() {
                        target = Some(target.map_or(cur2 + d, |t| t.min(cur2 + d)));
                        break;
                    }
                }
            }
            if let Some(e) = self.far.peek() {
                let t2 = e.time >> (self.shift + LEVEL_BITS);
                target = Some(target.map_or(t2, |t| t.min(t2)));
            }
            let Some(turn) = target else {
                return false;
            };
            self.cur = turn << LEVEL_BITS;
            let i2 = (turn & LEVEL_MASK) as usize;
            let cascade = std::mem::take(&mut self.l2[i2]);
            self.l2_len -= cascade.len();
            for e in &cascade {
                self.insert(*e);
            }
            let mut cascade = cascade;
            cascade.clear();
            if cascade.capacity() <= KEEP_BUCKET_CAPACITY {
                self.l2[i2] = cascade;
            }
            let horizon2 = turn + LEVEL_SIZE as u64;
            while let Some(e) = self.far.peek() {
                if e.time >> (self.shift + LEVEL_BITS) >= horizon2 {
                    break;
                }
                let Some(e) = self.far.pop() else {
                    break;
                };
                self.insert(e);
            }
            // Level 1 may already hold events for the first slot of this turn.
            let i = (self.cur & LEVEL_MASK) as usize;
            if !self.l1[i].is_empty() {
                self.load_bucket(self.cur);
            }
        }
        true
    }
}

impl<T: Copy> WheelQueue<T> {
    /// The items of the next two events, as far as the current bucket tells (`None`
    /// where it does not hold them), without removing them: for prefetching.
    #[inline]
    pub fn lookahead(&self) -> (Option<T>, Option<T>) {
        // The end of the sorted run (an event scheduled late into this bucket may come
        // between: a hint is all this is).
        let n = self.run.len();
        let next = n.checked_sub(1).map(|i| self.run[i].item);
        let after = n.checked_sub(2).map(|i| self.run[i].item);
        (next, after)
    }
}

impl<T: Copy> EventQueue<T> for WheelQueue<T> {
    #[inline]
    fn push(&mut self, time: Instant, item: T) {
        self.seq += 1;
        self.len += 1;
        self.stage(Entry {
            time: time.as_nanos(),
            seq: self.seq,
            item,
        });
    }

    #[inline]
    fn pop(&mut self) -> Option<(Instant, T)> {
        if self.near_is_empty() && !self.refill() {
            return None;
        }
        let e = if self.late_first() {
            self.late.pop()?
        } else {
            self.run.pop()?
        };
        self.len -= 1;
        Some((Instant::from_nanos(e.time), e.item))
    }

    fn peek_time(&mut self) -> Option<Instant> {
        if self.near_is_empty() && !self.refill() {
            return None;
        }
        let e = if self.late_first() {
            self.late.peek()?
        } else {
            self.run.last()?
        };
        Some(Instant::from_nanos(e.time))
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence for the tests.
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    /// Drives both queues through the same hold workload (pop one, push one later)
    /// with delays from a few ns up to hours, and checks they agree event by event.
    fn same_as_heap(shift: u32, max_delay: u64, initial: usize, steps: usize) {
        let mut wheel = WheelQueue::new(shift);
        let mut heap = HeapQueue::default();
        let mut state = 7;
        for i in 0..initial {
            let t = Instant::from_nanos(lcg(&mut state) % max_delay);
            wheel.push(t, i as u32);
            heap.push(t, i as u32);
        }
        let mut last = Instant::ZERO;
        for i in 0..steps {
            assert_eq!(wheel.len(), heap.len());
            let a = wheel.pop();
            let b = heap.pop();
            assert_eq!(a, b, "step {i}");
            let Some((now, _)) = a else { break };
            assert!(now >= last);
            last = now;
            for _ in 0..(lcg(&mut state) % 3) {
                // Equal times on purpose now and then, to check the tie order.
                let d = match lcg(&mut state) % 4 {
                    0 => 0,
                    _ => lcg(&mut state) % max_delay,
                };
                let t = Instant::from_nanos(now.as_nanos() + d);
                wheel.push(t, (initial + i) as u32);
                heap.push(t, (initial + i) as u32);
            }
        }
        while let Some(b) = heap.pop() {
            assert_eq!(wheel.pop(), Some(b));
        }
        assert_eq!(wheel.pop(), None);
    }

    #[test]
    fn wheel_agrees_with_the_heap_for_near_events() {
        same_as_heap(16, 1 << 20, 1000, 20_000);
    }

    #[test]
    fn wheel_agrees_with_the_heap_across_levels_and_the_far_heap() {
        // Delays up to 2^45 ns cross both levels (horizon 2^(8+24) ns) and the far heap.
        same_as_heap(8, 1 << 45, 2000, 20_000);
    }

    #[test]
    fn equal_times_come_out_in_scheduling_order() {
        let mut wheel = WheelQueue::new(10);
        let t = Instant::from_millis(5);
        for i in 0..100u32 {
            wheel.push(t, i);
        }
        let order: Vec<u32> = std::iter::from_fn(|| wheel.pop().map(|(_, i)| i)).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn peek_does_not_remove() {
        let mut wheel = WheelQueue::new(16);
        assert_eq!(wheel.peek_time(), None);
        wheel.push(Instant::from_secs(3600), 1u8);
        assert_eq!(wheel.peek_time(), Some(Instant::from_secs(3600)));
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.pop(), Some((Instant::from_secs(3600), 1)));
        assert!(wheel.is_empty());
    }
}
