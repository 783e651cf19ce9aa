//! Timers: one-shot and periodic, keyed by a typed timer value, cancellable.
//!
//! A [`TimerQueue`] is a binary heap ordered by (deadline, arming sequence) with lazy
//! cancellation: cancelling or re-arming a key only updates a hash map, and stale heap
//! entries are skipped when they surface (and compacted away when they pile up). Arming,
//! cancelling and firing are O(log n), so tens of thousands of live timers stay cheap.
//!
//! Arming a key that is already armed re-arms it: there is at most one live timer per key.

use alloc::collections::BinaryHeap;
use core::cmp::{Ordering, Reverse};
use core::hash::Hash;

use hashbrown::HashMap;
use rustc_hash::FxBuildHasher;

use crate::time::{Duration, Instant};

/// A timer that came due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired<T> {
    /// The timer's key.
    pub key: T,
    /// The deadline it was armed for.
    pub deadline: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    seq: u64,
    deadline: Instant,
    period: Option<Duration>,
}

struct Entry<T> {
    deadline: Instant,
    seq: u64,
    key: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// A set of live timers keyed by `T`.
pub struct TimerQueue<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    live: HashMap<T, Slot, FxBuildHasher>,
}

impl<T: Clone + Eq + Hash> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> TimerQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            live: HashMap::with_hasher(FxBuildHasher),
        }
    }

    /// Arms `key` to fire at `deadline` (re-arming it if it was armed). `seq` orders
    /// timers with equal deadlines: lower fires first. `period`, if any, re-arms the
    /// timer every `period` after each firing.
    pub fn arm(&mut self, key: T, deadline: Instant, period: Option<Duration>, seq: u64) {
        self.live.insert(
            key.clone(),
            Slot {
                seq,
                deadline,
                period,
            },
        );
        self.heap.push(Reverse(Entry { deadline, seq, key }));
        if self.heap.len() > 64 && self.heap.len() > 4 * self.live.len() {
            self.compact();
        }
    }

    /// Disarms `key`. Returns whether it was armed.
    pub fn cancel(&mut self, key: &T) -> bool {
        self.live.remove(key).is_some()
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.live.clear();
        self.heap.clear();
    }

    /// When `key` fires next, if it is armed.
    pub fn deadline(&self, key: &T) -> Option<Instant> {
        self.live.get(key).map(|slot| slot.deadline)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The earliest armed timer's (deadline, sequence), skipping cancelled entries.
    #[inline]
    pub fn peek(&mut self) -> Option<(Instant, u64)> {
        while let Some(Reverse(top)) = self.heap.peek() {
            match self.live.get(&top.key) {
                Some(slot) if slot.seq == top.seq => return Some((top.deadline, top.seq)),
                _ => {
                    self.heap.pop();
                }
            }
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
        let period = self.live.get(&entry.key).and_then(|slot| slot.period);
        match period {
            Some(period) => {
                let next = entry.deadline + period.max(Duration::from_nanos(1));
                self.arm(entry.key.clone(), next, Some(period), next_seq);
            }
            None => {
                self.live.remove(&entry.key);
            }
        }
        Some(Expired {
            key: entry.key,
            deadline: entry.deadline,
        })
    }

    fn compact(&mut self) {
        let live = &self.live;
        self.heap.retain(|Reverse(entry)| {
            live.get(&entry.key)
                .is_some_and(|slot| slot.seq == entry.seq)
        });
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
        assert!(q.heap.len() <= 4 * 100 + 1);
    }
}
