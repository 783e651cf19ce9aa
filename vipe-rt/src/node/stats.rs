//! What a node counts: events, timers, frames in and out, drops by reason, named counters.

use alloc::collections::BTreeMap;

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
    pub counters: BTreeMap<(InstanceId, &'static str), u64>,
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

    pub(crate) fn add_counter(&mut self, instance: InstanceId, name: &'static str, n: u64) {
        *self.counters.entry((instance, name)).or_insert(0) += n;
    }
}
