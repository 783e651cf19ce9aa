//! Watching a run: observers called at chosen simulated times or every interval, with
//! read access to every node (its typed protocol state through `Node::protocol`, its
//! counters) and the simulator's counters; any observer may stop the run. Metrics go to a
//! CSV file row by row as they are produced, so nothing grows in memory with run length.
//!
//! ```
//! use vipe_platforms::sim::{Control, MetricsCsv, Simulator};
//! use vipe_rt::{Duration, Instant};
//!
//! let dir = std::env::temp_dir().join("vipe-observe-doc");
//! let mut csv = MetricsCsv::create(dir.join("m.csv"), &["delivered"]).unwrap();
//! let mut sim = Simulator::new(1);
//! sim.add_node();
//! sim.observe_every(Instant::ZERO, Duration::from_millis(100), move |view| {
//!     csv.row(view.now(), &[view.stats().delivered as f64]).unwrap();
//!     if view.now() >= Instant::from_millis(300) { Control::Stop } else { Control::Continue }
//! });
//! let run = sim.run_until(Instant::from_secs(1));
//! assert_eq!(run.now, Instant::from_millis(300));
//! drop(sim); // the observer and its file go with the simulator
//! assert_eq!(std::fs::read_to_string(dir.join("m.csv")).unwrap().lines().count(), 5);
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use vipe_rt::{Instant, Node, NodeId};

use super::fault::NodeState;
use super::{SimStats, Simulator};

/// What an observer wants after it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop the run here (the run returns with [`StopReason::Observer`](super::StopReason)).
    Stop,
}

/// What an observer sees: the whole simulation, read-only.
pub struct SimView<'a> {
    pub(crate) sim: &'a Simulator,
}

impl SimView<'_> {
    /// Simulated time now.
    pub fn now(&self) -> Instant {
        self.sim.now()
    }
    /// A node (read its protocol state with `node.protocol(handle)`).
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.sim.node(id)
    }
    /// Every node, in id order (crashed ones too: they hold no protocol).
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.sim.nodes()
    }
    /// Whether a node is up, crashed or gone.
    pub fn state(&self, id: NodeId) -> Option<NodeState> {
        self.sim.node_state(id)
    }
    /// Number of nodes (every state).
    pub fn node_count(&self) -> usize {
        self.sim.node_count()
    }
    /// The simulator's counters.
    pub fn stats(&self) -> &SimStats {
        self.sim.stats()
    }
}

pub(crate) type ObserverFn = Box<dyn FnMut(&SimView<'_>) -> Control>;

pub(crate) struct Observer {
    pub(crate) f: Option<ObserverFn>,
    pub(crate) every: Option<vipe_rt::Duration>,
}

/// A CSV file of metrics, written row by row (buffered; flushed on [`flush`](Self::flush)
/// and when dropped). The first column is the simulated time in seconds.
pub struct MetricsCsv {
    path: PathBuf,
    out: BufWriter<File>,
    columns: usize,
}

impl MetricsCsv {
    /// Creates the file (and its directory) with a header `time_s,<columns...>`.
    pub fn create(path: impl AsRef<Path>, columns: &[&str]) -> io::Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = BufWriter::new(File::create(path)?);
        write!(out, "time_s")?;
        for c in columns {
            write!(out, ",{c}")?;
        }
        writeln!(out)?;
        Ok(MetricsCsv {
            path: path.to_owned(),
            out,
            columns: columns.len(),
        })
    }

    /// Writes one row at `time`; `values` must match the columns.
    pub fn row(&mut self, time: Instant, values: &[f64]) -> io::Result<()> {
        if values.len() != self.columns {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: {} values for {} columns; give one value per column",
                    self.path.display(),
                    values.len(),
                    self.columns
                ),
            ));
        }
        write!(self.out, "{:.9}", time.as_secs_f64())?;
        for v in values {
            write!(self.out, ",{v}")?;
        }
        writeln!(self.out)
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
