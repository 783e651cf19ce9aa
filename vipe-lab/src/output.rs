//! The results directory: `runs.csv`, `summary.csv`, the experiment's extra CSVs and
//! distributions, and `manifest.json`.
//!
//! Everything in a CSV is a function of the parameters and seeds only (rows in point
//! then seed order, numbers in their shortest exact form), so two runs of the same sweep
//! give byte-identical CSVs whatever `--jobs` was. Wall-clock and machine figures go to
//! the manifest alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::io::Write as _;

use crate::experiment::{Distribution, RunOutput, push_csv_cell};
use crate::param::Point;
use crate::runner::{Outcome, Plan};
use crate::stats::{Estimate, percentile, sorted_finite};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// A percentile as it appears in a column name: 99 → `99`, 99.9 → `99_9`.
pub fn percentile_label(p: f64) -> String {
    format!("{p}").replace('.', "_")
}

/// A number as written in a CSV: its shortest exact form; nothing for "no value".
pub fn cell(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

fn opt_cell(v: Option<f64>) -> String {
    v.map(cell).unwrap_or_default()
}

struct CsvFile {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl CsvFile {
    fn create(dir: &Path, name: &str, header: &[String]) -> Result<CsvFile, String> {
        let path = dir.join(name);
        let mut writer = csv::Writer::from_path(&path)
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        writer
            .write_record(header)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(CsvFile { path, writer })
    }

    fn row(&mut self, cells: &[String]) -> Result<(), String> {
        self.writer
            .write_record(cells)
            .map_err(|e| format!("writing {}: {e}", self.path.display()))
    }

    fn finish(mut self) -> Result<PathBuf, String> {
        self.writer
            .flush()
            .map_err(|e| format!("writing {}: {e}", self.path.display()))?;
        Ok(self.path)
    }
}

fn param_cells(point: &Point) -> Vec<String> {
    point.values.iter().map(|(_, v)| v.to_string()).collect()
}

/// Writes every CSV of a finished (or interrupted) sweep; returns the paths.
pub fn write_csvs(plan: &Plan, outcome: &Outcome) -> Result<Vec<PathBuf>, String> {
    let exp = plan.experiment;
    let dir = &plan.out;
    let params: Vec<String> = exp.params().iter().map(|p| p.name.to_string()).collect();
    let metrics = exp.metrics();
    let samples = exp.samples();
    let mut files = Vec::new();

    // runs.csv: one row per (point, seed).
    let mut header = params.clone();
    header.push("seed".into());
    header.extend(metrics.iter().map(|m| m.name.to_string()));
    let texts = exp.texts();
    header.extend(texts.iter().map(|t| t.name.to_string()));
    let mut runs = CsvFile::create(dir, "runs.csv", &header)?;
    for run in &outcome.completed {
        let mut row = param_cells(&plan.points[run.point]);
        row.push(run.seed.to_string());
        row.extend(metrics.iter().map(|m| cell(metric(&run.output, m.name))));
        row.extend(texts.iter().map(|t| {
            run.output
                .texts
                .iter()
                .find(|(n, _)| *n == t.name)
                .map_or(String::new(), |(_, v)| v.clone())
        }));
        runs.row(&row)?;
    }
    files.push(runs.finish()?);

    // summary.csv: one row per point.
    let mut header = params.clone();
    header.push("seeds".into());
    for m in &metrics {
        for stat in ["mean", "std", "ci95_lo", "ci95_hi"] {
            header.push(format!("{stat}_{}", m.name));
        }
    }
    for s in &samples {
        for stat in ["n", "mean", "ci95_lo", "ci95_hi"] {
            header.push(format!("{stat}_{}", s.name));
        }
        for p in s.percentiles {
            header.push(format!("p{}_{}", percentile_label(*p), s.name));
        }
        header.push(format!("max_{}", s.name));
    }
    let mut summary = CsvFile::create(dir, "summary.csv", &header)?;
    let mut distributions: BTreeMap<&str, CsvFile> = BTreeMap::new();
    for s in &samples {
        let (file, column) = match s.distribution {
            Distribution::None => continue,
            Distribution::Cdf => (format!("{}_cdf.csv", s.name), "cdf"),
            Distribution::Pdf => (format!("{}_pdf.csv", s.name), "fraction"),
        };
        let mut header = params.clone();
        header.push(s.value_column.to_string());
        header.push(column.to_string());
        distributions.insert(s.name, CsvFile::create(dir, &file, &header)?);
    }
    for (index, point) in plan.points.iter().enumerate() {
        let runs: Vec<&RunOutput> = outcome
            .completed
            .iter()
            .filter(|r| r.point == index)
            .map(|r| &r.output)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let mut row = param_cells(point);
        row.push(runs.len().to_string());
        for m in &metrics {
            let values: Vec<f64> = runs.iter().map(|r| metric(r, m.name)).collect();
            match Estimate::of(&values) {
                Some(e) => row.extend([
                    cell(e.mean),
                    opt_cell(e.std),
                    opt_cell(e.lo()),
                    opt_cell(e.hi()),
                ]),
                None => row.extend(std::iter::repeat_n(String::new(), 4)),
            }
        }
        for s in &samples {
            let per_run: Vec<&[f64]> = runs.iter().map(|r| sample(r, s.name)).collect();
            let pooled = sorted_finite(per_run.iter().flat_map(|v| v.iter().copied()));
            let per_seed_means: Vec<f64> = per_run
                .iter()
                .filter_map(|v| Estimate::of(v).map(|e| e.mean))
                .collect();
            row.push(pooled.len().to_string());
            match Estimate::of(&pooled) {
                Some(e) => row.push(cell(e.mean)),
                None => row.push(String::new()),
            }
            let between_seeds = Estimate::of(&per_seed_means);
            row.push(opt_cell(between_seeds.and_then(|e| e.lo())));
            row.push(opt_cell(between_seeds.and_then(|e| e.hi())));
            for p in s.percentiles {
                row.push(opt_cell(percentile(&pooled, *p)));
            }
            row.push(opt_cell(pooled.last().copied()));
            if let Some(file) = distributions.get_mut(s.name) {
                for (value, fraction) in distribution(&pooled, s.distribution) {
                    let mut row = param_cells(point);
                    row.push(cell(value));
                    row.push(cell(fraction));
                    file.row(&row)?;
                }
            }
        }
        summary.row(&row)?;
    }
    files.push(summary.finish()?);
    for (_, file) in distributions {
        files.push(file.finish()?);
    }

    // Extra tables: rows of every run, parameters and seed first. The runs' rows are
    // already encoded; each line gets its run's prefix.
    for table in exp.tables() {
        let path = dir.join(format!("{}.csv", table.name));
        let failed = |e: std::io::Error| format!("writing {}: {e}", path.display());
        let file = std::fs::File::create(&path).map_err(failed)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut header = String::new();
        for (i, name) in params
            .iter()
            .map(String::as_str)
            .chain(["seed"])
            .chain(table.columns.iter().copied())
            .enumerate()
        {
            if i > 0 {
                header.push(',');
            }
            push_csv_cell(&mut header, name);
        }
        writeln!(out, "{header}").map_err(failed)?;
        for run in &outcome.completed {
            let Some(rows) = run.output.tables.iter().find(|t| t.name == table.name) else {
                continue;
            };
            let mut prefix = String::new();
            for v in param_cells(&plan.points[run.point]) {
                push_csv_cell(&mut prefix, &v);
                prefix.push(',');
            }
            prefix.push_str(&run.seed.to_string());
            prefix.push(',');
            let mut start = 0;
            for &end in &rows.ends {
                out.write_all(prefix.as_bytes()).map_err(failed)?;
                out.write_all(&rows.csv.as_bytes()[start..end])
                    .map_err(failed)?;
                start = end;
            }
        }
        out.flush().map_err(failed)?;
        files.push(path);
    }
    Ok(files)
}

/// The (value, CDF) pairs at 201 evenly spaced quantiles, or (value, fraction) per
/// distinct value.
fn distribution(sorted: &[f64], kind: Distribution) -> Vec<(f64, f64)> {
    if sorted.is_empty() {
        return Vec::new();
    }
    match kind {
        Distribution::None => Vec::new(),
        Distribution::Cdf => {
            const STEPS: usize = 200;
            (0..=STEPS)
                .map(|i| {
                    let q = i as f64 / STEPS as f64;
                    // Smallest value whose empirical CDF reaches q (q = 0: the minimum).
                    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
                    (sorted[rank - 1], q)
                })
                .collect()
        }
        Distribution::Pdf => {
            let mut out: Vec<(f64, f64)> = Vec::new();
            let n = sorted.len() as f64;
            for &v in sorted {
                match out.last_mut() {
                    Some((last, count)) if *last == v => *count += 1.0,
                    _ => out.push((v, 1.0)),
                }
            }
            out.iter().map(|&(v, c)| (v, c / n)).collect()
        }
    }
}

fn metric(output: &RunOutput, name: &str) -> f64 {
    output
        .metrics
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(f64::NAN, |(_, v)| *v)
}

fn sample<'a>(output: &'a RunOutput, name: &str) -> &'a [f64] {
    output
        .samples
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[], |(_, v)| v.as_slice())
}

/// Everything needed to rerun a sweep, plus what it cost on this machine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The experiment's name.
    pub experiment: String,
    /// What it measures.
    pub measures: String,
    /// The published figure it reproduces.
    pub reproduces: Option<String>,
    /// Whether `--quick` was given, and what it shrank.
    pub quick: Option<String>,
    /// Every parameter with the values swept (defaults included).
    pub parameters: BTreeMap<String, Vec<serde_json::Value>>,
    /// Parameter order (CSV column order).
    pub parameter_order: Vec<String>,
    /// The seeds of every point.
    pub seeds: Vec<u64>,
    /// Points × seeds.
    pub runs_planned: usize,
    /// Runs that finished.
    pub runs_completed: usize,
    /// Runs that failed, with point, seed and message.
    pub failures: Vec<FailureRecord>,
    /// Whether Ctrl-C stopped the sweep early.
    pub interrupted: bool,
    /// The exact command line.
    pub command: Vec<String>,
    /// This crate's version.
    pub version: String,
    /// The commit the binary was built from (`git rev-parse HEAD` at build time), if
    /// built from a git checkout.
    pub git_commit: Option<String>,
    /// Whether tracked files differed from that commit (unknown once the tree has moved
    /// to another commit).
    pub git_dirty: Option<bool>,
    /// `rustc -V` of the compiler that built the runner.
    pub rustc: String,
    /// Logical cores of the machine.
    pub cores: usize,
    /// Runs in parallel, and why fewer than asked if so.
    pub jobs: usize,
    /// Why `jobs` is below what was asked, if it is.
    pub jobs_note: Option<String>,
    /// Start of the sweep (RFC 3339, UTC).
    pub started: String,
    /// Wall seconds of the whole sweep.
    pub wall_seconds: f64,
    /// Peak resident set size of the runner process, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Per run: wall time and memory.
    pub runs: Vec<RunCost>,
    /// Files written.
    pub files: Vec<String>,
}

/// A failed run in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The point's parameters (`name=value ...`).
    pub point: String,
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub message: String,
}

/// What one run cost.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunCost {
    /// The point's parameters (`name=value ...`).
    pub point: String,
    /// The seed.
    pub seed: u64,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Peak heap the run allocated (its thread's, above where it started), bytes.
    pub peak_heap_bytes: Option<u64>,
    /// The process's peak resident set during the run, bytes; measured with `--jobs 1`
    /// only (parallel runs share the process), `null` otherwise.
    pub peak_rss_bytes: Option<u64>,
    /// Simulator events processed, if the experiment reports them.
    pub events: Option<u64>,
    /// Events per wall second.
    pub events_per_second: Option<f64>,
}

/// Reads the experiment name of a results directory's manifest, if it has one.
pub fn manifest_experiment(dir: &Path) -> Result<Option<String>, String> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a vipe-lab manifest: {e}", path.display()))?;
    match json.get("experiment").and_then(|v| v.as_str()) {
        Some(name) => Ok(Some(name.to_string())),
        None => Err(format!(
            "{} is not a vipe-lab manifest (no \"experiment\" field)",
            path.display()
        )),
    }
}

/// Writes the manifest.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<PathBuf, String> {
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest).expect("the manifest serialises");
    std::fs::write(&path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// The manifest's version, commit and compiler fields.
pub fn provenance() -> (String, Option<String>, Option<bool>, String) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(source)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    // The commit the binary was built from; the tree's state says whether it was
    // dirty only while the tree is still at that commit (otherwise: unknown).
    let built = Some(env!("VIPE_LAB_BUILD_COMMIT").to_string()).filter(|c| !c.is_empty());
    let head = git(&["rev-parse", "HEAD"]);
    let commit = built.clone().or_else(|| head.clone());
    let dirty = if built.is_some() && built != head {
        None
    } else {
        commit
            .as_ref()
            .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
            .map(|s| !s.is_empty())
    };
    (
        env!("CARGO_PKG_VERSION").to_string(),
        commit,
        dirty,
        env!("VIPE_LAB_RUSTC_VERSION").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions() {
        let v = [1.0, 1.0, 2.0, 4.0];
        assert_eq!(
            distribution(&v, Distribution::Pdf),
            [(1.0, 0.5), (2.0, 0.25), (4.0, 0.25)]
        );
        let cdf = distribution(&v, Distribution::Cdf);
        assert_eq!(cdf.len(), 201);
        assert_eq!(cdf[0], (1.0, 0.0));
        assert_eq!(cdf[100], (1.0, 0.5));
        assert_eq!(cdf[101], (2.0, 0.505));
        assert_eq!(cdf[200], (4.0, 1.0));
        assert_eq!(percentile_label(99.9), "99_9");
        assert_eq!(cell(f64::NAN), "");
        assert_eq!(cell(0.1), "0.1");
    }
}
