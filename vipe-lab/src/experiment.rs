//! What an experiment is: typed parameters, `run(point, seed) -> rows`, how its rows
//! summarise, which figures to draw.
//!
//! An experiment implements [`Experiment`]; the runner sees it through the object-safe
//! [`DynExperiment`], which every `Experiment` gets for free. Adding one is a file in
//! `experiments/` and a line in [`crate::experiments::all`].

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::DeserializeOwned;
use vipe_platforms::sim::Simulator;
use vipe_rt::Instant;

use crate::param::{ParamSpec, Point};
use crate::progress::JobProgress;

/// Name, purpose and provenance of an experiment.
#[derive(Clone, Copy, Debug)]
pub struct Info {
    /// The name on the command line (`vipe-lab run NAME`).
    pub name: &'static str,
    /// What it measures, in one line.
    pub measures: &'static str,
    /// The published figure it reproduces, if any (e.g. "Stoica et al., ToN 2003, Fig. 10").
    pub reproduces: Option<&'static str>,
}

/// The documented smaller version of an experiment (`--quick`): parameter defaults it
/// replaces, the seeds it runs, and what it shrank, in words.
#[derive(Clone, Debug)]
pub struct Quick {
    /// `(parameter, value list)` replacing the default; the command line still wins.
    pub overrides: Vec<(&'static str, &'static str)>,
    /// Seeds to run unless `--seeds`/`--seed-list` says otherwise.
    pub seeds: u32,
    /// What `--quick` shrinks, shown by `help` and recorded in the manifest.
    pub what: &'static str,
}

/// A per-run number, summarised over seeds by mean, standard deviation and 95% CI.
#[derive(Clone, Debug)]
pub struct MetricSpec {
    /// Column name (snake_case).
    pub name: &'static str,
    /// Unit for axes and tables.
    pub unit: &'static str,
    /// What it is.
    pub help: &'static str,
}

/// A per-run text value written to `runs.csv` only (e.g. a digest that shows two runs
/// were the same); not summarised.
#[derive(Clone, Debug)]
pub struct TextSpec {
    /// Column name (snake_case).
    pub name: &'static str,
    /// What it is.
    pub help: &'static str,
}

/// How a sample's distribution is written out beside the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// Nothing beyond the summary's percentiles.
    None,
    /// `<name>_cdf.csv`: the empirical CDF at 201 quantiles per point (continuous values).
    Cdf,
    /// `<name>_pdf.csv`: the fraction of samples at each distinct value (discrete values,
    /// e.g. hop counts).
    Pdf,
}

/// Per-run samples (e.g. one RTT per probe) pooled over a point's seeds: the summary
/// gives their count, mean (with a 95% CI over the per-seed means) and percentiles.
#[derive(Clone, Debug)]
pub struct SampleSpec {
    /// Base of the column names: `n_<name>`, `mean_<name>`, `p99_<name>`, ...
    pub name: &'static str,
    /// Unit for axes and tables.
    pub unit: &'static str,
    /// What one sample is.
    pub help: &'static str,
    /// Percentiles (0–100] written to the summary as `p<P>_<name>`.
    pub percentiles: &'static [f64],
    /// Whether to write the distribution out, and how.
    pub distribution: Distribution,
    /// The value column's name in the distribution file (e.g. `path_length`).
    pub value_column: &'static str,
}

/// An extra CSV with rows from every run (e.g. one row per probe), written as
/// `<name>.csv` with the parameter and seed columns first.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// File name without `.csv`.
    pub name: &'static str,
    /// Column names after the parameters and the seed.
    pub columns: &'static [&'static str],
}

/// What a line figure plots on y.
#[derive(Clone, Debug)]
pub enum Y {
    /// A metric's mean over seeds, with its 95% CI as error bars.
    Metric(&'static str),
    /// A sample's pooled mean, with the 95% CI over per-seed means as error bars.
    SampleMean(&'static str),
    /// A sample's pooled percentile (no error bars).
    Percentile(&'static str, f64),
}

impl Y {
    /// The summary column holding the value.
    pub fn column(&self) -> String {
        match self {
            Y::Metric(m) => format!("mean_{m}"),
            Y::SampleMean(s) => format!("mean_{s}"),
            Y::Percentile(s, p) => format!("p{}_{s}", crate::output::percentile_label(*p)),
        }
    }

    /// The columns holding the CI's ends, if the value has a CI.
    pub fn ci_columns(&self) -> Option<(String, String)> {
        match self {
            Y::Metric(m) | Y::SampleMean(m) => {
                Some((format!("ci95_lo_{m}"), format!("ci95_hi_{m}")))
            }
            Y::Percentile(..) => None,
        }
    }

    /// The name in a legend.
    pub fn label(&self) -> String {
        match self {
            Y::Metric(m) => format!("mean {m}, 95% CI"),
            Y::SampleMean(s) => format!("mean {s}, 95% CI"),
            Y::Percentile(s, p) => format!("p{} {s}", crate::output::percentile_label(*p)),
        }
    }
}

/// Looks a parameter's value up by name (as in `summary.csv`), for a [`Reference::Model`].
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<f64>;

/// A model of a figure's y from the parameters: `None` where it has no value.
pub type Model = fn(Lookup<'_>) -> Option<f64>;

/// A reference drawn over the measured values.
#[derive(Clone, Debug)]
pub enum Reference {
    /// Published points (x, y), e.g. a paper's figure; drawn as hollow markers.
    Points {
        /// Legend entry, e.g. "Stoica et al. 2003".
        label: &'static str,
        /// The points.
        points: Vec<(f64, f64)>,
    },
    /// A model evaluated at every point of each series from its parameter values (as
    /// they appear in `summary.csv`); drawn as a dashed line.
    Model {
        /// Legend entry, e.g. "analytic".
        label: &'static str,
        /// The model's value at a point (`None` where it has none).
        value: Model,
    },
}

/// What a figure shows.
#[derive(Clone, Debug)]
pub enum FigureKind {
    /// Values against a swept parameter; one line per combination of the other swept
    /// parameters and per `ys` entry.
    Line {
        /// The parameter on x.
        x: &'static str,
        /// What goes on y (several share one axis and unit).
        ys: Vec<Y>,
    },
    /// The empirical CDF of a sample (needs `Distribution::Cdf`), one curve per point.
    Cdf {
        /// The sample.
        sample: &'static str,
    },
    /// The fraction of a sample at each value (needs `Distribution::Pdf`), one curve
    /// per point; `Reference::Points` are overlaid.
    Pdf {
        /// The sample.
        sample: &'static str,
    },
}

/// One figure, written as `<file>.svg` and `<file>.png`.
#[derive(Clone, Debug)]
pub struct FigureSpec {
    /// File name without extension.
    pub file: &'static str,
    /// Title over the plot.
    pub title: &'static str,
    /// What it shows.
    pub kind: FigureKind,
    /// The y axis label, with its unit.
    pub y_label: &'static str,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// Published points or a model to overlay.
    pub references: Vec<Reference>,
}

/// What one run (one point, one seed) produced.
#[derive(Clone, Debug, Default)]
pub struct RunOutput {
    pub(crate) metrics: Vec<(&'static str, f64)>,
    pub(crate) texts: Vec<(&'static str, String)>,
    pub(crate) samples: Vec<(&'static str, Vec<f64>)>,
    pub(crate) tables: Vec<TableRows>,
    pub(crate) events: Option<u64>,
}

impl RunOutput {
    /// An empty output.
    pub fn new() -> Self {
        RunOutput::default()
    }

    /// Records a metric (every declared metric must be recorded once; `NaN` means "no
    /// value in this run" and is left out of the summary).
    pub fn metric(&mut self, name: &'static str, value: f64) -> &mut Self {
        self.metrics.push((name, value));
        self
    }

    /// Records a declared text column.
    pub fn text(&mut self, name: &'static str, value: String) -> &mut Self {
        self.texts.push((name, value));
        self
    }

    /// Records the samples of a declared sample.
    pub fn samples(&mut self, name: &'static str, values: Vec<f64>) -> &mut Self {
        self.samples.push((name, values));
        self
    }

    /// Adds a row to a declared table; cells are written as given (quoted if they hold a
    /// comma, a quote or a line break). Rows are kept encoded, so a run with millions of
    /// rows costs their bytes, not a `String` per cell.
    pub fn row<S: AsRef<str>>(&mut self, table: &'static str, cells: &[S]) -> &mut Self {
        let rows = match self.tables.iter().position(|t| t.name == table) {
            Some(i) => &mut self.tables[i],
            None => {
                self.tables.push(TableRows {
                    name: table,
                    csv: String::new(),
                    ends: Vec::new(),
                    cells: cells.len(),
                    ragged: false,
                });
                self.tables.last_mut().expect("pushed")
            }
        };
        rows.ragged |= rows.cells != cells.len();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                rows.csv.push(',');
            }
            push_csv_cell(&mut rows.csv, cell.as_ref());
        }
        rows.csv.push('\n');
        rows.ends.push(rows.csv.len());
        self
    }

    /// Simulator events the run processed: the manifest turns it into events per wall
    /// second (which never enters a CSV).
    pub fn events(&mut self, events: u64) -> &mut Self {
        self.events = Some(events);
        self
    }
}

/// A run's rows of one table, CSV-encoded (without the parameter and seed columns).
#[derive(Clone, Debug)]
pub(crate) struct TableRows {
    pub(crate) name: &'static str,
    pub(crate) csv: String,
    /// Where each row ends in `csv` (a quoted cell may hold a line break).
    pub(crate) ends: Vec<usize>,
    /// Cells in the first row.
    pub(crate) cells: usize,
    /// Whether some row had another number of cells.
    pub(crate) ragged: bool,
}

/// Appends `cell` as RFC 4180 does: quoted, with quotes doubled, if it needs to be.
pub(crate) fn push_csv_cell(out: &mut String, cell: &str) {
    if cell.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

/// Unwinds a run that was stopped by Ctrl-C (never reported as a failure).
#[derive(Debug)]
pub struct Cancelled;

/// What a run gets besides its parameters: its seed, and progress reporting.
pub struct RunContext {
    /// The seed of this run; derive every random choice from it.
    pub seed: u64,
    pub(crate) progress: Arc<JobProgress>,
    pub(crate) cancel: Arc<AtomicBool>,
}

impl RunContext {
    /// A context with no progress display (for tests and library use).
    pub fn detached(seed: u64) -> Self {
        RunContext {
            seed,
            progress: Arc::new(JobProgress::hidden()),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Shows `sim`'s simulated time against `target` in this run's progress line, and
    /// stops the run (by unwinding with [`Cancelled`]) when the user presses Ctrl-C.
    pub fn watch(&self, sim: &mut Simulator, target: Instant) {
        sim.set_progress(std::time::Duration::from_millis(100), self.reporter(target));
    }

    /// The callback [`watch`](Self::watch) installs, for code that builds its simulator
    /// itself and takes a progress callback.
    pub fn reporter(&self, target: Instant) -> impl FnMut(Instant) + 'static {
        let progress = Arc::clone(&self.progress);
        let cancel = Arc::clone(&self.cancel);
        progress.set_target(target);
        move |now| {
            if cancel.load(Ordering::Relaxed) {
                std::panic::resume_unwind(Box::new(Cancelled));
            }
            progress.update(now);
        }
    }

    /// Whether the user asked to stop; long loops outside a watched simulator check it.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// An experiment. `Params` is its typed parameter struct: serde fills it from the
/// parameter values, matching each `ParamSpec` name (kebab-case) to a field (snake_case).
pub trait Experiment: Send + Sync + 'static {
    /// The typed parameters of one point.
    type Params: DeserializeOwned + Debug;

    /// Name, purpose, provenance.
    fn info(&self) -> Info;
    /// Its parameters, in the order of the CSV columns.
    fn params(&self) -> Vec<ParamSpec>;
    /// The smaller version run by `--quick`.
    fn quick(&self) -> Quick;
    /// Seeds run when the command line does not say.
    fn default_seeds(&self) -> u32 {
        5
    }
    /// Its per-run numbers.
    fn metrics(&self) -> Vec<MetricSpec>;
    /// Its per-run text columns.
    fn texts(&self) -> Vec<TextSpec> {
        Vec::new()
    }
    /// Its per-run samples.
    fn samples(&self) -> Vec<SampleSpec> {
        Vec::new()
    }
    /// Its extra per-run tables.
    fn tables(&self) -> Vec<TableSpec> {
        Vec::new()
    }
    /// Its figures.
    fn figures(&self) -> Vec<FigureSpec>;
    /// Checks one point before anything runs (e.g. relations between parameters); the
    /// error says what to change.
    fn check(&self, _params: &Self::Params) -> Result<(), String> {
        Ok(())
    }
    /// Memory one run at these parameters may need, in bytes; the runner lowers
    /// parallelism to fit the machine.
    fn memory_per_run(&self, _params: &Self::Params) -> Option<u64> {
        None
    }
    /// Runs one point with one seed.
    fn run(&self, params: &Self::Params, cx: &RunContext) -> Result<RunOutput, String>;
}

/// An [`Experiment`] with its parameters untyped: what the runner and the registry hold.
pub trait DynExperiment: Send + Sync {
    /// See [`Experiment::info`].
    fn info(&self) -> Info;
    /// See [`Experiment::params`].
    fn params(&self) -> Vec<ParamSpec>;
    /// See [`Experiment::quick`].
    fn quick(&self) -> Quick;
    /// See [`Experiment::default_seeds`].
    fn default_seeds(&self) -> u32;
    /// See [`Experiment::metrics`].
    fn metrics(&self) -> Vec<MetricSpec>;
    /// See [`Experiment::texts`].
    fn texts(&self) -> Vec<TextSpec>;
    /// See [`Experiment::samples`].
    fn samples(&self) -> Vec<SampleSpec>;
    /// See [`Experiment::tables`].
    fn tables(&self) -> Vec<TableSpec>;
    /// See [`Experiment::figures`].
    fn figures(&self) -> Vec<FigureSpec>;
    /// Types the point and checks it; returns the memory a run may need.
    fn check_point(&self, point: &Point) -> Result<Option<u64>, String>;
    /// Types the point and runs it.
    fn run_point(&self, point: &Point, cx: &RunContext) -> Result<RunOutput, String>;
}

fn typed<E: Experiment>(e: &E, point: &Point) -> Result<E::Params, String> {
    serde_json::from_value(point.to_json()).map_err(|err| {
        format!(
            "experiment '{}' declares parameters its parameter struct does not accept: {err}",
            e.info().name
        )
    })
}

impl<E: Experiment> DynExperiment for E {
    fn info(&self) -> Info {
        Experiment::info(self)
    }
    fn params(&self) -> Vec<ParamSpec> {
        Experiment::params(self)
    }
    fn quick(&self) -> Quick {
        Experiment::quick(self)
    }
    fn default_seeds(&self) -> u32 {
        Experiment::default_seeds(self)
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        Experiment::metrics(self)
    }
    fn texts(&self) -> Vec<TextSpec> {
        Experiment::texts(self)
    }
    fn samples(&self) -> Vec<SampleSpec> {
        Experiment::samples(self)
    }
    fn tables(&self) -> Vec<TableSpec> {
        Experiment::tables(self)
    }
    fn figures(&self) -> Vec<FigureSpec> {
        Experiment::figures(self)
    }
    fn check_point(&self, point: &Point) -> Result<Option<u64>, String> {
        let params = typed(self, point)?;
        self.check(&params)?;
        Ok(self.memory_per_run(&params))
    }
    fn run_point(&self, point: &Point, cx: &RunContext) -> Result<RunOutput, String> {
        let params = typed(self, point)?;
        self.run(&params, cx)
    }
}
