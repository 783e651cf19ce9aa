//! The simulator's event trace: what crossed which wire when, for determinism checks and
//! for reading an experiment afterwards. It can be kept in memory (for tests), streamed
//! to a file line by line (long runs: memory stays flat), and/or folded into a digest —
//! one 64-bit hash of the ordered event sequence, to compare runs.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use vipe_rt::{DeviceId, Instant, NodeId};

/// What happened to a packet (or a node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// Left a device onto its link or the underlay.
    Transmit,
    /// Arrived at a device.
    Receive,
    /// Dropped by the link: queue full.
    QueueDrop,
    /// Lost on the link or the underlay (random loss).
    Lost,
    /// Sent on a device that has no link.
    NoLink,
    /// Dropped: the link or the underlay path is down.
    LinkDown,
    /// Dropped: the two nodes are in different partitions.
    Partitioned,
    /// Dropped: the destination node is down.
    NodeDown,
    /// Dropped: the destination is not an address of the underlay (or the node has no
    /// device on that port), or the datagram named no destination.
    NoRoute,
    /// A duplicate copy was sent.
    Duplicated,
    /// The node crashed.
    Crash,
    /// The node restarted.
    Restart,
    /// The node left.
    Leave,
    /// The node joined.
    Join,
}

impl TraceKind {
    fn name(self) -> &'static str {
        match self {
            TraceKind::Transmit => "tx",
            TraceKind::Receive => "rx",
            TraceKind::QueueDrop => "drop-queue",
            TraceKind::Lost => "drop-loss",
            TraceKind::NoLink => "drop-nolink",
            TraceKind::LinkDown => "drop-linkdown",
            TraceKind::Partitioned => "drop-partition",
            TraceKind::NodeDown => "drop-nodedown",
            TraceKind::NoRoute => "drop-noroute",
            TraceKind::Duplicated => "dup",
            TraceKind::Crash => "crash",
            TraceKind::Restart => "restart",
            TraceKind::Leave => "leave",
            TraceKind::Join => "join",
        }
    }
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
        write!(
            f,
            "{} n{} d{} {} len={} hash={:016x}",
            self.time,
            self.node.0,
            self.device.0,
            self.kind.name(),
            self.len,
            self.hash
        )
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where trace events go; any combination.
#[derive(Default)]
pub(crate) struct TraceSink {
    pub(crate) active: bool,
    pub(crate) memory: Option<Vec<TraceEvent>>,
    stream: Option<(BufWriter<File>, String)>,
    digest: Option<u64>,
}

impl TraceSink {
    pub(crate) fn keep_in_memory(&mut self) {
        self.memory.get_or_insert_with(Vec::new);
        self.active = true;
    }

    pub(crate) fn stream_to(&mut self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = BufWriter::new(File::create(path)?);
        self.stream = Some((file, path.display().to_string()));
        self.active = true;
        Ok(())
    }

    pub(crate) fn enable_digest(&mut self) {
        self.digest.get_or_insert(0x9e37_79b9_7f4a_7c15);
        self.active = true;
    }

    pub(crate) fn digest(&self) -> Option<u64> {
        self.digest
    }

    #[inline]
    pub(crate) fn record(&mut self, event: TraceEvent) {
        if let Some(d) = &mut self.digest {
            for word in [
                event.time.as_nanos(),
                u64::from(event.node.0) << 16 | u64::from(event.device.0),
                event.kind as u64 | (event.len as u64) << 8,
                event.hash,
            ] {
                *d = super::mix(*d, word);
            }
        }
        if let Some(memory) = &mut self.memory {
            memory.push(event);
        }
        if let Some((out, path)) = &mut self.stream
            && let Err(error) = writeln!(out, "{event}")
        {
            tracing::error!(%path, %error, "trace write failed; trace file stopped");
            self.stream = None;
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.stream {
            Some((out, _)) => out.flush(),
            None => Ok(()),
        }
    }
}
