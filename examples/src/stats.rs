//! Summary statistics for experiment reports, and the drop lines of an exit report.

use std::collections::BTreeMap;

use vipe_rt::{Duration, Node};

/// The drops of `node` for an exit report: one line per (protocol, reason), most
/// frequent first, `"<protocol>: <reason>: <count>"`. The protocol is the dropping
/// instance's protocol name, with its label when it has its own (`"arp (arp1)"` for a
/// router's second interface); drops the node made itself (no instance) say `node`.
pub fn drop_lines(node: &Node) -> Vec<String> {
    let names: BTreeMap<_, _> = node
        .instances()
        .map(|(id, label, descriptor, _)| {
            let name = if label == descriptor.name {
                descriptor.name.to_owned()
            } else {
                format!("{} ({label})", descriptor.name)
            };
            (id, name)
        })
        .collect();
    let mut lines: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for ((instance, reason), n) in &node.stats().drops {
        let who = instance
            .and_then(|i| names.get(&i).cloned())
            .unwrap_or_else(|| "node".to_owned());
        *lines.entry((who, reason)).or_insert(0) += n;
    }
    let mut lines: Vec<_> = lines.into_iter().collect();
    lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    lines
        .into_iter()
        .map(|((who, reason), n)| format!("{who}: {reason}: {n}"))
        .collect()
}

/// Min, mean, percentiles and max of a set of durations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub count: usize,
    /// Smallest.
    pub min: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Summary {
    /// The summary of `samples`, or `None` if there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let rank =
            |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        let total: u128 = sorted.iter().map(|d| u128::from(d.as_nanos())).sum();
        Some(Summary {
            count: sorted.len(),
            min: sorted[0],
            mean: Duration::from_nanos((total / sorted.len() as u128) as u64),
            p50: rank(0.50),
            p99: rank(0.99),
            max: sorted[sorted.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use vipe_rt::prelude::*;

    #[protocol(name = "dropper")]
    struct Dropper;

    #[protocol]
    impl Dropper {
        #[on_packet(port = "any")]
        fn any(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
            let reason = if pkt.len() > 1 { "long" } else { "short" };
            cx.drop_packet(pkt, reason);
        }
    }

    #[test]
    fn drop_lines_say_which_protocol_dropped_what_and_how_often() {
        let mut node = Node::new(NodeId(0));
        let a = node.add(Dropper);
        let b = node.add_named(Dropper, "second");
        let (da, db) = (
            node.add_device("a", DeviceKind::Frame),
            node.add_device("b", DeviceKind::Frame),
        );
        node.attach(da, a.port(DropperPort::Any)).unwrap();
        node.attach(db, b.port(DropperPort::Any)).unwrap();
        node.start(Instant::ZERO);
        for (dev, data) in [(da, &b"xx"[..]), (da, b"xx"), (da, b"x"), (db, b"xx")] {
            node.handle_input(Instant::ZERO, dev, Packet::from_slice(data));
        }
        assert_eq!(
            drop_lines(&node),
            [
                "dropper: long: 2",
                "dropper: short: 1",
                "dropper (second): long: 1"
            ]
        );
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::of(&samples).unwrap();
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(s.mean, Duration::from_micros(50_500));
        assert!(Summary::of(&[]).is_none());
    }
}
