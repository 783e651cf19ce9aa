//! Point-to-point links: latency, bandwidth (serialisation delay), a drop-tail queue and
//! random loss, in each direction independently.

use std::collections::VecDeque;

use vipe_rt::{DeviceId, Duration, NodeId, Packet};

/// How a simulated link behaves (the same in both directions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// Propagation delay.
    pub latency: Duration,
    /// Bits per second; 0 means infinitely fast (no serialisation delay).
    pub bandwidth_bps: u64,
    /// Packets that may wait behind the one being transmitted; more are dropped (drop-tail).
    pub queue_limit: usize,
    /// Probability that a transmitted packet is lost on the wire, in `[0, 1]`.
    pub loss: f64,
}

impl Default for LinkConfig {
    /// 1 ms, 100 Mbit/s, 100 packets of queue, no loss.
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(1),
            bandwidth_bps: 100_000_000,
            queue_limit: 100,
            loss: 0.0,
        }
    }
}

impl LinkConfig {
    /// Sets the propagation delay.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
    /// Sets the bandwidth in bits per second (0: unlimited).
    pub fn bandwidth_bps(mut self, bps: u64) -> Self {
        self.bandwidth_bps = bps;
        self
    }
    /// Sets the queue limit in packets.
    pub fn queue_limit(mut self, packets: usize) -> Self {
        self.queue_limit = packets;
        self
    }
    /// Sets the loss probability.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Checks the settings, saying what to change.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(format!(
                "link loss must be a probability in [0, 1], got {}; e.g. 0.01 for 1% loss",
                self.loss
            ));
        }
        Ok(())
    }

    /// Time to put `bytes` on the wire.
    pub fn serialisation_delay(&self, bytes: usize) -> Duration {
        if self.bandwidth_bps == 0 {
            return Duration::ZERO;
        }
        let bits = bytes as u128 * 8;
        Duration::from_nanos((bits * 1_000_000_000).div_ceil(u128::from(self.bandwidth_bps)) as u64)
    }
}

/// One end of a link: a device of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkEnd {
    /// The node.
    pub node: NodeId,
    /// Its device.
    pub device: DeviceId,
}

/// One direction of a link: a transmitter with its queue.
#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) from: LinkEnd,
    pub(crate) to: LinkEnd,
    pub(crate) busy: bool,
    pub(crate) queue: VecDeque<Packet>,
}

/// A bidirectional point-to-point link.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    /// Whether the link carries frames (a fault may take it down).
    pub(crate) up: bool,
    pub(crate) channels: [Channel; 2],
}

impl Link {
    pub(crate) fn new(a: LinkEnd, b: LinkEnd, config: LinkConfig) -> Self {
        let channel = |from, to| Channel {
            from,
            to,
            busy: false,
            queue: VecDeque::new(),
        };
        Link {
            config,
            up: true,
            channels: [channel(a, b), channel(b, a)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_delay_follows_bandwidth() {
        let cfg = LinkConfig::default().bandwidth_bps(10_000_000);
        assert_eq!(cfg.serialisation_delay(1250), Duration::from_millis(1));
        assert_eq!(
            cfg.bandwidth_bps(0).serialisation_delay(1500),
            Duration::ZERO
        );
    }

    #[test]
    fn bad_loss_is_rejected_with_a_hint() {
        let err = LinkConfig::default().loss(1.5).validate().unwrap_err();
        assert!(err.contains("[0, 1]"), "{err}");
    }
}
