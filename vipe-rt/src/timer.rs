//! Timers: one-shot and periodic, keyed by a typed timer value, cancellable.
//!
//! A [`TimerQueue`] keeps each live timer in a slot of a slab (found by key through a
//! hash map) and orders them in a binary heap of small `(deadline, sequence, slot)`
//! entries, with lazy cancellation: cancelling or re-arming only updates the slot, and
//! heap entries whose sequence no longer matches their slot are skipped when they surface
//! (and compacted away when they pile up). Checking the top of the heap costs no hashing,
//! and a periodic timer re-arms in place, so the hot path of a timer-driven simulation
//! touches the hash map only to arm or cancel by key. Arming, cancelling and firing are
//! O(log n), so tens of thousands of live timers stay cheap.
//!
//! Arming a key that is already armed re-arms it: there is at most one live timer per key.
//!
//! Most instances arm a handful of timers (a simulated node of a large experiment: one
//! or two), so a queue starts small: up to [`SMALL_TIMERS`] timers sit in one inline
//! array, found and ordered by a linear scan — no heap, no hash map, no allocation, and
//! nothing to chase through memory when a simulator wakes one of a million nodes. The
//! queue moves to the heap-and-slab form above when more are armed at once. Both forms
//! fire in the same (deadline, arming sequence) order.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::hash::Hash;

use hashbrown::HashMap;
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;

use crate::time::{Duration, Instant};

/// A timer that came due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired<T> {
    /// The timer's key.
    pub key: T,
    /// The deadline it was armed for.
    pub deadline: Instant,
}

/// A live timer (or, with `key == None`, a free slot).
struct Slot<T> {
    key: Option<T>,
    seq: u64,
    deadline: Instant,
    period: Option<Duration>,
}

/// A heap entry: deadline and arming sequence packed into one `u128` (deadline in the
/// high half), so ordering is a single wide comparison; plus the slot it refers to.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    order: u128,
    slot: u32,
}

impl Entry {
    #[inline]
    fn new(deadline: Instant, seq: u64, slot: u32) -> Self {
        Entry {
            order: (u128::from(deadline.as_nanos()) << 64) | u128::from(seq),
            slot,
        }
    }
    #[inline]
    fn deadline(self) -> Instant {
        Instant::from_nanos((self.order >> 64) as u64)
    }
    #[inline]
    fn seq(self) -> u64 {
        self.order as u64
    }
}

impl PartialOrd for Entry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    #[inline]
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.order.cmp(&other.order)
    }
}

/// Most timers the inline form holds before the queue moves to a heap.
pub const SMALL_TIMERS: usize = 8;

/// A live timer of the inline form.
struct SmallTimer<T> {
    key: T,
    deadline: Instant,
    seq: u64,
    period: Option<Duration>,
}

enum Repr<T> {
    /// Up to `SMALL_TIMERS` timers, the first one inline.
    Small(SmallVec<[SmallTimer<T>; 1]>),
    /// More: a heap of entries over a slab, keys in a hash map.
    Large(alloc::boxed::Box<HeapTimers<T>>),
}

/// A set of live timers keyed by `T`.
pub struct TimerQueue<T> {
    repr: Repr<T>,
}

impl<T: Clone + Eq + Hash> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> TimerQueue<T> {
    /// An empty queue (allocates nothing).
    pub fn new() -> Self {
        TimerQueue {
            repr: Repr::Small(SmallVec::new()),
        }
    }

    /// Arms `key` to fire at `deadline` (re-arming it if it was armed). `seq` orders
    /// timers with equal deadlines: lower fires first. `period`, if any, re-arms the
    /// timer every `period` after each firing.
    #[inline]
    pub fn arm(&mut self, key: T, deadline: Instant, period: Option<Duration>, seq: u64) {
        match &mut self.repr {
            Repr::Small(timers) => {
                if let Some(t) = timers.iter_mut().find(|t| t.key == key) {
                    t.deadline = deadline;
                    t.seq = seq;
                    t.period = period;
                } else if timers.len() < SMALL_TIMERS {
                    // No spare capacity: a million simulated nodes carry these.
                    if timers.len() == timers.inline_size() || timers.spilled() {
                        timers.reserve_exact(1);
                    }
                    timers.push(SmallTimer {
                        key,
                        deadline,
                        seq,
                        period,
                    });
                } else {
                    let mut large = HeapTimers::new();
                    for t in timers.drain(..) {
                        large.arm(t.key, t.deadline, t.period, t.seq);
                    }
                    large.arm(key, deadline, period, seq);
                    self.repr = Repr::Large(alloc::boxed::Box::new(large));
                }
            }
            Repr::Large(large) => large.arm(key, deadline, period, seq),
        }
    }

    /// Disarms `key`. Returns whether it was armed.
    pub fn cancel(&mut self, key: &T) -> bool {
        match &mut self.repr {
            Repr::Small(timers) => match timers.iter().position(|t| t.key == *key) {
                Some(i) => {
                    timers.swap_remove(i);
                    if timers.is_empty() {
                        // Back inline: an instance that armed a burst once keeps nothing.
                        timers.shrink_to_fit();
                    }
                    true
                }
                None => false,
            },
            Repr::Large(large) => large.cancel(key),
        }
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.repr = Repr::Small(SmallVec::new());
    }

    /// When `key` fires next, if it is armed.
    pub fn deadline(&self, key: &T) -> Option<Instant> {
        match &self.repr {
            Repr::Small(timers) => timers.iter().find(|t| t.key == *key).map(|t| t.deadline),
            Repr::Large(large) => large.deadline(key),
        }
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(timers) => timers.len(),
            Repr::Large(large) => large.len(),
        }
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of the earliest inline timer.
    #[inline]
    fn small_min(timers: &[SmallTimer<T>]) -> Option<usize> {
        let mut best: Option<(Instant, u64, usize)> = None;
        for (i, t) in timers.iter().enumerate() {
            if best.is_none_or(|(d, s, _)| (t.deadline, t.seq) < (d, s)) {
                best = Some((t.deadline, t.seq, i));
            }
        }
        best.map(|(_, _, i)| i)
    }

    /// The earliest armed timer's (deadline, sequence).
    #[inline]
    pub fn peek(&mut self) -> Option<(Instant, u64)> {
        match &mut self.repr {
            Repr::Small(timers) => {
                Self::small_min(timers).map(|i| (timers[i].deadline, timers[i].seq))
            }
            Repr::Large(large) => large.peek(),
        }
    }

    /// Removes and returns the earliest timer if it is due at `now`. A periodic timer is
    /// re-armed for its next period (at `deadline + period`, so it does not drift) with
    /// sequence `next_seq` before it is returned, so the handler may still cancel it.
    #[inline]
    pub fn pop_due(&mut self, now: Instant, next_seq: u64) -> Option<Expired<T>> {
        match &mut self.repr {
            Repr::Small(timers) => {
                let i = Self::small_min(timers)?;
                let t = &mut timers[i];
                let deadline = t.deadline;
                if deadline > now {
                    return None;
                }
                let key = match t.period {
                    Some(period) => {
                        t.deadline = deadline + period.max(Duration::from_nanos(1));
                        t.seq = next_seq;
                        t.key.clone()
                    }
                    None => {
                        let t = timers.swap_remove(i);
                        if timers.is_empty() {
                            timers.shrink_to_fit();
                        }
                        t.key
                    }
                };
                Some(Expired { key, deadline })
            }
            Repr::Large(large) => large.pop_due(now, next_seq),
        }
    }
}

/// The heap-and-slab form of a [`TimerQueue`], for instances with many timers.
struct HeapTimers<T> {
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    by_key: HashMap<T, u32, FxBuildHasher>,
}

impl<T: Clone + Eq + Hash> HeapTimers<T> {
    fn new() -> Self {
        HeapTimers {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::with_hasher(FxBuildHasher),
        }
    }

    /// Arms `key` to fire at `deadline` (re-arming it if it was armed). `seq` orders
    /// timers with equal deadlines: lower fires first. `period`, if any, re-arms the
    /// timer every `period` after each firing.
    pub fn arm(&mut self, key: T, deadline: Instant, period: Option<Duration>, seq: u64) {
        let index = match self.by_key.get(&key) {
            Some(&index) => index,
            None => {
                let index = match self.free.pop() {
                    Some(index) => index,
                    None => {
                        if self.slots.is_empty() {
                            // Most instances arm one or two timers: no spare capacity
                            // for the first (a simulated node carries a million of these).
                            self.slots.reserve_exact(1);
                            self.heap.reserve_exact(1);
                        }
                        self.slots.push(Slot {
                            key: None,
                            seq: 0,
                            deadline,
                            period: None,
                        });
                        (self.slots.len() - 1) as u32
                    }
                };
                self.slots[index as usize].key = Some(key.clone());
                self.by_key.insert(key, index);
                index
            }
        };
        self.set(index, deadline, period, seq);
    }

    #[inline]
    fn set(&mut self, index: u32, deadline: Instant, period: Option<Duration>, seq: u64) {
        let slot = &mut self.slots[index as usize];
        slot.seq = seq;
        slot.deadline = deadline;
        slot.period = period;
        self.heap.push(Reverse(Entry::new(deadline, seq, index)));
        if self.heap.len() > 64 && self.heap.len() > 4 * self.by_key.len() {
            self.compact();
        }
    }

    /// Disarms `key`. Returns whether it was armed.
    pub fn cancel(&mut self, key: &T) -> bool {
        match self.by_key.remove(key) {
            Some(index) => {
                self.release(index);
                true
            }
            None => false,
        }
    }

    fn release(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.key = None;
        slot.seq = 0;
        self.free.push(index);
    }

    /// When `key` fires next, if it is armed.
    pub fn deadline(&self, key: &T) -> Option<Instant> {
        self.by_key
            .get(key)
            .map(|&index| self.slots[index as usize].deadline)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    #[inline]
    fn is_live(&self, entry: Entry) -> bool {
        let slot = &self.slots[entry.slot as usize];
        slot.seq == entry.seq() && slot.key.is_some()
    }

    /// The earliest armed timer's (deadline, sequence), skipping cancelled entries.
    #[inline]
    pub fn peek(&mut self) -> Option<(Instant, u64)> {
        while let Some(&Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                return Some((top.deadline(), top.seq()));
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns the earliest timer if it is due at `now`. A periodic timer is
    /// re-armed for its next period (at `deadline + period`, so it does not drift) with
    /// sequence `next_seq` before it is returned, so the handler may still cancel it.
    #[inline]
    pub fn pop_due(&mut self, now: Instant, next_seq: u64) -> Option<Expired<T>> {
        let (deadline, _) = self.peek()?;
        if deadline > now {
            return None;
        }
        let Reverse(entry) = self.heap.pop()?;
        let (deadline, index) = (entry.deadline(), entry.slot);
        let slot = &mut self.slots[index as usize];
        let key = match slot.period {
            Some(period) => {
                let key = slot.key.clone()?;
                let next = deadline + period.max(Duration::from_nanos(1));
                self.set(index, next, Some(period), next_seq);
                key
            }
            None => {
                let key = slot.key.take()?;
                self.by_key.remove(&key);
                self.release(index);
                key
            }
        };
        Some(Expired { key, deadline })
    }

    fn compact(&mut self) {
        let heap = core::mem::take(&mut self.heap);
        let live: Vec<_> = heap
            .into_iter()
            .filter(|Reverse(e)| self.is_live(*e))
            .collect();
        self.heap = BinaryHeap::from(live);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn fires_in_deadline_then_sequence_order() {
        let mut q = TimerQueue::new();
        q.arm("b", t(10), None, 2);
        q.arm("a", t(10), None, 1);
        q.arm("c", t(5), None, 3);
        let order: Vec<_> = core::iter::from_fn(|| q.pop_due(t(100), 9).map(|e| e.key)).collect();
        assert_eq!(order, ["c", "a", "b"]);
    }

    #[test]
    fn rearm_replaces_and_cancel_removes() {
        let mut q = TimerQueue::new();
        q.arm(1u32, t(10), None, 1);
        q.arm(1u32, t(20), None, 2);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(t(15), 3), None);
        assert_eq!(q.pop_due(t(20), 3).unwrap().deadline, t(20));
        q.arm(2u32, t(30), None, 4);
        assert!(q.cancel(&2));
        assert!(!q.cancel(&2));
        assert_eq!(q.peek(), None);
    }

    #[test]
    fn periodic_timers_rearm_without_drift() {
        let mut q = TimerQueue::new();
        q.arm((), t(10), Some(Duration::from_millis(10)), 1);
        // Fired late at 13 ms: the next deadline is still 20 ms.
        assert_eq!(q.pop_due(t(13), 2).unwrap().deadline, t(10));
        assert_eq!(q.deadline(&()), Some(t(20)));
        assert!(q.cancel(&()));
        assert_eq!(q.pop_due(t(100), 3), None);
    }

    #[test]
    fn many_rearms_keep_the_heap_bounded() {
        let mut q = TimerQueue::new();
        for i in 0..100_000u64 {
            q.arm(i % 100, t(i), None, i);
        }
        assert_eq!(q.len(), 100);
        let Repr::Large(large) = &q.repr else {
            panic!("100 timers are kept in the heap form");
        };
        assert!(large.heap.len() <= 4 * 100 + 1);
    }

    /// The inline form and the heap form fire the same timers in the same order, across
    /// the switch from one to the other and back (after `clear`).
    #[test]
    fn inline_and_heap_forms_agree() {
        let mut state = 11u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        for keys in [2u64, SMALL_TIMERS as u64, 3 * SMALL_TIMERS as u64] {
            let mut small = TimerQueue::new();
            let mut large = HeapTimers::new();
            let mut seq = 0;
            let mut now = 0;
            for step in 0..5000 {
                seq += 1;
                let key = next() % keys;
                match next() % 4 {
                    0 => assert_eq!(small.cancel(&key), large.cancel(&key), "step {step}"),
                    1 => {
                        let period = Some(Duration::from_millis(1 + next() % 20));
                        let d = t(now + next() % 50);
                        small.arm(key, d, period, seq);
                        large.arm(key, d, period, seq);
                    }
                    _ => {
                        let d = t(now + next() % 50);
                        small.arm(key, d, None, seq);
                        large.arm(key, d, None, seq);
                    }
                }
                now += next() % 5;
                loop {
                    seq += 1;
                    let (a, b) = (small.pop_due(t(now), seq), large.pop_due(t(now), seq));
                    assert_eq!(a, b, "step {step}");
                    if a.is_none() {
                        break;
                    }
                }
                assert_eq!(small.len(), large.len());
                assert_eq!(small.peek(), large.peek());
            }
            small.clear();
            assert!(small.is_empty() && matches!(small.repr, Repr::Small(_)));
        }
    }
}
