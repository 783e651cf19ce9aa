//! The simulator's event trace: what crossed which wire when, for determinism checks and
//! for reading an experiment afterwards.

use std::fmt;

use vipe_rt::{DeviceId, Instant, NodeId};

/// What happened to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// Left a device onto its link.
    Transmit,
    /// Arrived at a device from its link.
    Receive,
    /// Dropped by the link: queue full.
    QueueDrop,
    /// Lost on the link (random loss).
    Lost,
    /// Sent on a device that has no link.
    NoLink,
}

/// One trace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// When.
    pub time: Instant,
    /// Which node.
    pub node: NodeId,
    /// Which of its devices.
    pub device: DeviceId,
    /// What happened.
    pub kind: TraceKind,
    /// Packet length in bytes.
    pub len: usize,
    /// FNV-1a hash of the packet's bytes, so traces compare contents cheaply.
    pub hash: u64,
}

impl TraceEvent {
    pub(crate) fn new(
        time: Instant,
        node: NodeId,
        device: DeviceId,
        kind: TraceKind,
        bytes: &[u8],
    ) -> Self {
        TraceEvent {
            time,
            node,
            device,
            kind,
            len: bytes.len(),
            hash: fnv1a(bytes),
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TraceKind::Transmit => "tx",
            TraceKind::Receive => "rx",
            TraceKind::QueueDrop => "drop-queue",
            TraceKind::Lost => "drop-loss",
            TraceKind::NoLink => "drop-nolink",
        };
        write!(
            f,
            "{} n{} d{} {kind} len={} hash={:016x}",
            self.time, self.node.0, self.device.0, self.len, self.hash
        )
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
