//! What a node counts: events, timers, frames in and out, drops by reason, named counters.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::InstanceId;

/// Counters of one node. Drops and named counters are keyed by the instance that counted
/// them (`None` for the node itself) and a static reason or name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Handler invocations (packets delivered plus timers fired plus start/stop).
    pub events: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Frames or datagrams fed in by the platform.
    pub device_rx: u64,
    /// Frames or datagrams handed to the platform to transmit.
    pub device_tx: u64,
    /// Dropped packets by (instance, reason).
    pub drops: BTreeMap<(Option<InstanceId>, &'static str), u64>,
    /// Protocol-defined counters by (instance, name).
    pub counters: Counters,
}

/// Protocol-defined counters by (instance, name), in that order (like a `BTreeMap`).
///
/// A protocol counts on its busiest paths (a router counts every datagram forwarded), and
/// a node has a handful of counters: a sorted vector found by a scan that compares each
/// name's address before its text costs a few instructions where a `BTreeMap`'s string
/// comparisons cost ~80.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    entries: Vec<((InstanceId, &'static str), u64)>,
    /// Where the last [`add`](Self::add) found its counter: a protocol counting on a busy
    /// path counts the same name again and again, so that entry is tried first.
    last: usize,
}

impl PartialEq for Counters {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Counters {}

impl Counters {
    /// The value of `(instance, name)`, if it was ever counted.
    pub fn get(&self, key: &(InstanceId, &str)) -> Option<&u64> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Every counter, ordered by instance and then name.
    pub fn iter(&self) -> impl Iterator<Item = (&(InstanceId, &'static str), &u64)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The values, in the order of [`iter`](Self::iter).
    pub fn values(&self) -> impl Iterator<Item = &u64> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// How many counters there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `n` to `(instance, name)`.
    #[inline]
    pub(crate) fn add(&mut self, instance: InstanceId, name: &'static str, n: u64) {
        // The same name is nearly always the same static string: compare addresses first.
        if let Some(((i, s), v)) = self.entries.get_mut(self.last)
            && *i == instance
            && core::ptr::eq(*s, name)
        {
            *v += n;
            return;
        }
        self.add_slow(instance, name, n);
    }

    #[inline(never)]
    fn add_slow(&mut self, instance: InstanceId, name: &'static str, n: u64) {
        let same = |(i, s): &(InstanceId, &'static str)| {
            *i == instance && (core::ptr::eq(*s, name) || *s == name)
        };
        if let Some(at) = self.entries.iter().position(|(k, _)| same(k)) {
            self.entries[at].1 += n;
            self.last = at;
            return;
        }
        let at = self.entries.partition_point(|(k, _)| *k < (instance, name));
        self.entries.insert(at, ((instance, name), n));
        self.last = at;
    }
}

impl<'a> IntoIterator for &'a Counters {
    type Item = (&'a (InstanceId, &'static str), &'a u64);
    type IntoIter = core::iter::Map<
        core::slice::Iter<'a, ((InstanceId, &'static str), u64)>,
        fn(&'a ((InstanceId, &'static str), u64)) -> (&'a (InstanceId, &'static str), &'a u64),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl NodeStats {
    /// All drops, whatever the reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }

    /// Drops counted under `reason`, by any instance.
    pub fn drops_for(&self, reason: &str) -> u64 {
        self.drops
            .iter()
            .filter(|((_, r), _)| *r == reason)
            .map(|(_, n)| n)
            .sum()
    }

    /// The counter `name` of `instance`.
    pub fn counter(&self, instance: InstanceId, name: &str) -> u64 {
        self.counters
            .iter()
            .filter(|((i, n), _)| *i == instance && *n == name)
            .map(|(_, v)| *v)
            .sum()
    }

    /// The counter `name` summed over every instance (e.g. all the interfaces' ARPs).
    pub fn counter_total(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .filter(|((_, n), _)| *n == name)
            .map(|(_, v)| *v)
            .sum()
    }

    pub(crate) fn add_drop(&mut self, instance: Option<InstanceId>, reason: &'static str) {
        *self.drops.entry((instance, reason)).or_insert(0) += 1;
    }

    #[inline]
    pub(crate) fn add_counter(&mut self, instance: InstanceId, name: &'static str, n: u64) {
        self.counters.add(instance, name, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::string::String;

    #[test]
    fn counters_add_up_by_name_text_and_iterate_in_key_order() {
        let mut c = Counters::default();
        let (a, b) = (InstanceId(0), InstanceId(1));
        // The same text at another address is the same counter.
        let other: &'static str = Box::leak(String::from("forwarded").into_boxed_str());
        c.add(b, "forwarded", 1);
        c.add(a, "zeta", 2);
        c.add(a, "alpha", 3);
        c.add(b, other, 4);
        c.add(a, "alpha", 5);
        let all: Vec<_> = c.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            all,
            [((a, "alpha"), 8), ((a, "zeta"), 2), ((b, "forwarded"), 5)]
        );
        assert_eq!(c.get(&(b, "forwarded")), Some(&5));
        // Counting one name again and again (the remembered entry), then another.
        c.add(a, "zeta", 1);
        c.add(a, "zeta", 1);
        c.add(b, "forwarded", 1);
        assert_eq!(c.get(&(a, "zeta")), Some(&4));
        assert_eq!(c.get(&(b, "forwarded")), Some(&6));
        assert_eq!(c.get(&(a, "forwarded")), None);
        assert_eq!(c.values().sum::<u64>(), 18);
        assert_eq!((c.len(), c.is_empty()), (3, false));
        assert_eq!((&c).into_iter().count(), 3);
    }
}
