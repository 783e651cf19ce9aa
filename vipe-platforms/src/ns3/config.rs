//! Settings of what the world builds in ns-3: CSMA channels, point-to-point links and
//! ns-3 IPv4 interfaces.

use std::net::Ipv4Addr;

use vipe_rt::Duration;

/// The builder methods and validation both link configurations share (same fields,
/// different defaults).
macro_rules! link_builders {
    ($config:ident) => {
        impl $config {
            /// With bit rate `bps`.
            pub fn data_rate(mut self, bps: u64) -> Self {
                self.data_rate_bps = bps;
                self
            }

            /// With propagation delay `delay`.
            pub fn delay(mut self, delay: Duration) -> Self {
                self.delay = delay;
                self
            }

            /// With device queues of `packets`.
            pub fn queue(mut self, packets: u32) -> Self {
                self.queue_packets = packets;
                self
            }

            pub(crate) fn validate(&self) -> Result<(), String> {
                check(self.data_rate_bps, self.delay, self.queue_packets)
            }
        }
    };
}

/// A CSMA channel (ns-3's `CsmaChannel`, a shared Ethernet segment) and the queue of each
/// device attached to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsmaConfig {
    /// Bit rate of the channel.
    pub data_rate_bps: u64,
    /// Propagation delay.
    pub delay: Duration,
    /// Drop-tail queue limit of each device, in packets.
    pub queue_packets: u32,
}

impl Default for CsmaConfig {
    /// 100 Mb/s, 6.56 µs (ns-3's CSMA examples), 100-packet queues.
    fn default() -> Self {
        CsmaConfig {
            data_rate_bps: 100_000_000,
            delay: Duration::from_nanos(6560),
            queue_packets: 100,
        }
    }
}

link_builders!(CsmaConfig);

/// A point-to-point link (ns-3's `PointToPointNetDevice` pair). It carries only IPv4 and
/// IPv6 frames: ns-3's PPP framing has no code for other EtherTypes (ARP included), so a
/// VIPE stack over it needs static neighbour entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P2pConfig {
    /// Bit rate of each direction.
    pub data_rate_bps: u64,
    /// Propagation delay.
    pub delay: Duration,
    /// Drop-tail queue limit of each device, in packets.
    pub queue_packets: u32,
}

impl Default for P2pConfig {
    /// 100 Mb/s, 1 ms, 100-packet queues.
    fn default() -> Self {
        P2pConfig {
            data_rate_bps: 100_000_000,
            delay: Duration::from_millis(1),
            queue_packets: 100,
        }
    }
}

link_builders!(P2pConfig);

fn check(rate: u64, delay: Duration, queue: u32) -> Result<(), String> {
    if rate == 0 {
        return Err("data rate is 0 b/s; give a positive rate, e.g. 100_000_000".into());
    }
    if queue == 0 {
        return Err("queue limit is 0 packets; give at least 1".into());
    }
    if delay.as_nanos() > i64::MAX as u64 {
        return Err(format!("delay {delay} is beyond ns-3's time range"));
    }
    Ok(())
}

/// An IPv4 interface of ns-3's own Internet stack on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Setup {
    /// The interface's address.
    pub addr: Ipv4Addr,
    /// Its on-link prefix length (0..=32).
    pub prefix_len: u8,
    /// A default route through this gateway, on this interface.
    pub gateway: Option<Ipv4Addr>,
}
