//! # vipe-lab — the VIPE experiment runner
//!
//! An experiment is a type implementing [`Experiment`]: typed parameters, a
//! `run(point, seed)` on its own single-threaded simulator returning rows, how the rows
//! summarise, which figures to draw. The runner sweeps the Cartesian product of the
//! parameter lists given on the command line over several seeds, spreads the runs over
//! cores (rayon), shows progress (indicatif), and writes to a results directory:
//!
//! - `runs.csv` (one row per point and seed) and `summary.csv` (per point: mean, standard
//!   deviation and 95% Student-t confidence interval of each metric over seeds, and
//!   percentiles of pooled samples), plus the experiment's own CSVs — identical bytes
//!   for any `--jobs`;
//! - `manifest.json`: every parameter value, the seeds, version, git commit, compiler,
//!   cores, wall time and peak memory per run, the command line;
//! - figures as SVG and PNG with error bars and, where the experiment reproduces a
//!   paper, the paper's points.
//!
//! ```text
//! vipe-lab list
//! vipe-lab help heartbeat
//! vipe-lab run heartbeat --loss 0.05,0.2 --seeds 4 --jobs 2
//! vipe-lab plot results/heartbeat
//! ```

pub mod cli;
pub mod experiment;
pub mod experiments;
pub mod memory;
pub mod output;
pub mod param;
pub mod plot;
pub mod progress;
pub mod runner;
pub mod stats;

pub use experiment::{Experiment, RunContext, RunOutput};
