//! Running a sweep: check everything first, spread the (point, seed) runs over cores,
//! catch panics and Ctrl-C, then write the results.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant as WallInstant;

use rayon::prelude::*;

use crate::experiment::{Cancelled, DynExperiment, RunContext, RunOutput};
use crate::memory::{self, RunMemory};
use crate::output::{self, FailureRecord, Manifest, RunCost};
use crate::param::{ParamSpec, Point, Sweep, Value};
use crate::progress::{Display, Mode};

/// How the seeds were chosen on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// The experiment's default count (or `--quick`'s).
    Default,
    /// `--seeds N`: seeds 1 to N.
    Count(u32),
    /// `--seed-list A,B,...`.
    List(Vec<u64>),
}

/// What the user asked for.
#[derive(Clone)]
pub struct Request {
    /// The experiment.
    pub experiment: &'static dyn DynExperiment,
    /// `(parameter, value list as typed)` from the command line.
    pub params: Vec<(String, String)>,
    /// The seeds.
    pub seeds: Seeds,
    /// `--jobs`; `None`: one per core.
    pub jobs: Option<usize>,
    /// `--out`; `None`: `results/<experiment>`.
    pub out: Option<PathBuf>,
    /// `--quick`.
    pub quick: bool,
    /// The command line, for the manifest.
    pub command: Vec<String>,
}

/// A checked sweep, ready to run.
pub struct Plan {
    /// The experiment.
    pub experiment: &'static dyn DynExperiment,
    /// The values of every parameter.
    pub sweep: Sweep,
    /// Every point, in order.
    pub points: Vec<Point>,
    /// The seeds run at every point.
    pub seeds: Vec<u64>,
    /// Runs in parallel.
    pub jobs: usize,
    /// Why `jobs` is below what was asked, if it is.
    pub jobs_note: Option<String>,
    /// The results directory (created).
    pub out: PathBuf,
    /// What `--quick` shrank, if given.
    pub quick: Option<&'static str>,
    /// The command line.
    pub command: Vec<String>,
}

/// Checks a request completely — experiment, parameters, ranges, relations between
/// parameters, seeds, jobs, memory, the output directory — before anything runs.
pub fn plan(request: Request) -> Result<Plan, String> {
    let exp = request.experiment;
    let name = exp.info().name;
    let specs = exp.params();
    let quick = exp.quick();
    for (p, _) in &request.params {
        if !specs.iter().any(|s| s.name == p) {
            return Err(format!(
                "experiment '{name}' has no parameter --{p}; `vipe-lab help {name}` lists them"
            ));
        }
    }
    let mut lists = Vec::new();
    for spec in &specs {
        let given = request
            .params
            .iter()
            .find(|(p, _)| p == spec.name)
            .map(|(_, v)| v.as_str())
            .or_else(|| {
                request
                    .quick
                    .then(|| quick.overrides.iter().find(|(p, _)| *p == spec.name))
                    .flatten()
                    .map(|(_, v)| *v)
            })
            .or(spec.default_sweep);
        let values = match given {
            Some(text) => spec
                .parse_list(text)
                .map_err(|e| format!("--{} {text}: {e} ({})", spec.name, describe(spec)))?,
            None => vec![spec.default.clone()],
        };
        lists.push((spec.name, values));
    }
    let sweep = Sweep { lists };
    let points = sweep.points();

    let seeds: Vec<u64> = match &request.seeds {
        Seeds::Default if request.quick => (1..=u64::from(quick.seeds)).collect(),
        Seeds::Default => (1..=u64::from(exp.default_seeds())).collect(),
        Seeds::Count(0) => return Err("--seeds 0: run at least one seed".into()),
        Seeds::Count(n) => (1..=u64::from(*n)).collect(),
        Seeds::List(list) if list.is_empty() => {
            return Err("--seed-list is empty: give at least one seed".into());
        }
        Seeds::List(list) => {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!("--seed-list names seed {} twice", w[0]));
            }
            list.clone()
        }
    };

    // A point is named by what the user set or swept.
    let mut named = sweep.varying();
    named.extend(
        specs
            .iter()
            .filter(|s| request.params.iter().any(|(p, _)| p == s.name))
            .map(|s| s.name),
    );
    let mut most_memory = None::<(u64, usize)>;
    for (index, point) in points.iter().enumerate() {
        let need = exp
            .check_point(point)
            .map_err(|e| format!("at {}: {e}", point.describe(&named)))?;
        if let Some(need) = need
            && most_memory.is_none_or(|(m, _)| need > m)
        {
            most_memory = Some((need, index));
        }
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked = match request.jobs {
        Some(0) => return Err("--jobs 0: run at least one job".into()),
        Some(j) => j,
        None => cores,
    };
    let runs = points.len() * seeds.len();
    let mut jobs = asked.min(runs).max(1);
    let mut jobs_note = None;
    if let (Some((need, index)), Some(available)) = (most_memory, memory::available()) {
        let usable = available / 10 * 9;
        let fit = (usable / need.max(1)) as usize;
        let at = points[index].describe(&sweep.varying());
        if fit == 0 {
            return Err(format!(
                "a run at {at} needs about {} but only {} of memory is available; shrink that point",
                memory::human(need),
                memory::human(available)
            ));
        }
        if fit < jobs {
            let note = format!(
                "lowering --jobs from {jobs} to {fit}: a run at {at} needs about {}, and {} is available",
                memory::human(need),
                memory::human(available)
            );
            jobs = fit;
            jobs_note = Some(note);
        }
    }

    let out = request
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(name));
    if let Some(other) = output::manifest_experiment(&out)?
        && other != name
    {
        return Err(format!(
            "{} holds results of experiment '{other}'; give another --out or remove that directory",
            out.display()
        ));
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| format!("cannot create the output directory {}: {e}", out.display()))?;

    Ok(Plan {
        experiment: exp,
        sweep,
        points,
        seeds,
        jobs,
        jobs_note,
        out,
        quick: request.quick.then_some(quick.what),
        command: request.command,
    })
}

/// What a parameter is, for an error about its value: "one-way link latency, in ms".
fn describe(spec: &ParamSpec) -> String {
    match (spec.help.is_empty(), spec.unit.is_empty()) {
        (false, false) => format!("{}, in {}", spec.help, spec.unit),
        (false, true) => spec.help.to_string(),
        (true, false) => format!("in {}", spec.unit),
        (true, true) => spec.name.to_string(),
    }
}

/// A run that finished.
#[derive(Debug)]
pub struct Completed {
    /// Index into `Plan::points`.
    pub point: usize,
    /// Its seed.
    pub seed: u64,
    /// What it produced.
    pub output: RunOutput,
    /// Wall seconds.
    pub wall: f64,
    /// Peak heap, bytes.
    pub peak_heap: Option<u64>,
    /// The process's peak RSS during the run, bytes: measured with `--jobs 1` only (with
    /// parallel runs the process's RSS is theirs together).
    pub peak_rss: Option<u64>,
}

/// A run that failed.
#[derive(Debug)]
pub struct Failed {
    /// Index into `Plan::points`.
    pub point: usize,
    /// Its seed.
    pub seed: u64,
    /// Why: the experiment's error, or the panic message and where it was raised.
    pub message: String,
}

/// How a sweep ended.
#[derive(Debug)]
pub struct Outcome {
    /// Finished runs, in (point, seed) order.
    pub completed: Vec<Completed>,
    /// Failed runs, in (point, seed) order.
    pub failed: Vec<Failed>,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
    /// Start, for the manifest.
    pub started: std::time::SystemTime,
    /// Wall seconds of the whole sweep.
    pub wall: f64,
}

impl Outcome {
    /// The process exit code: 0 if every run finished, 130 if interrupted, 1 if any
    /// failed.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            130
        } else if !self.failed.is_empty() {
            1
        } else {
            0
        }
    }
}

enum RunResult {
    Done(Completed),
    Failed(Failed),
    Skipped,
}

thread_local! {
    /// Set while a run executes on this thread: its panics are reported by the runner,
    /// not printed by the default hook.
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_RUN.with(Cell::get) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("panicked{at}: {message}")));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs every (point, seed) of the plan on `plan.jobs` threads. `cancel` is set by the
/// Ctrl-C handler: runs not started are skipped, running ones stop at their next
/// progress report, finished ones are kept.
pub fn execute(plan: &Plan, mode: Mode, cancel: Arc<AtomicBool>) -> Outcome {
    install_panic_hook();
    let started = std::time::SystemTime::now();
    let clock = WallInstant::now();
    let work: Vec<(usize, u64)> = (0..plan.points.len())
        .flat_map(|p| plan.seeds.iter().map(move |&s| (p, s)))
        .collect();
    let display = Display::new(mode, work.len());
    let varying = plan.sweep.varying();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.jobs)
        .thread_name(|i| format!("vipe-lab-{i}"))
        .build()
        .expect("a thread pool");
    let results: Vec<RunResult> = pool.install(|| {
        work.par_iter()
            .with_max_len(1)
            .map(|&(point, seed)| {
                if cancel.load(Ordering::Relaxed) {
                    return RunResult::Skipped;
                }
                let label = format!("{} seed={seed}", plan.points[point].describe(&varying));
                let job = Arc::new(display.job(label.clone()));
                let cx = RunContext {
                    seed,
                    progress: Arc::clone(&job),
                    cancel: Arc::clone(&cancel),
                };
                let memory = RunMemory::start();
                let alone = plan.jobs == 1 && memory::reset_peak_rss();
                let clock = WallInstant::now();
                IN_RUN.with(|r| r.set(true));
                let result = catch_unwind(AssertUnwindSafe(|| {
                    plan.experiment.run_point(&plan.points[point], &cx)
                }));
                IN_RUN.with(|r| r.set(false));
                let wall = clock.elapsed();
                let peak_heap = memory.finish();
                let peak_rss = if alone { memory::peak_rss() } else { None };
                let failure = |message: String| {
                    display.message(&format!("vipe-lab: run {label} FAILED: {message}"));
                    display.finished(&job, "FAILED", wall);
                    RunResult::Failed(Failed {
                        point,
                        seed,
                        message,
                    })
                };
                match result {
                    Ok(Ok(output)) => match validate_output(plan.experiment, &output) {
                        Ok(()) => {
                            display.finished(&job, "done", wall);
                            RunResult::Done(Completed {
                                point,
                                seed,
                                output,
                                wall: wall.as_secs_f64(),
                                peak_heap,
                                peak_rss,
                            })
                        }
                        Err(e) => failure(format!("the experiment's output is malformed: {e}")),
                    },
                    Ok(Err(message)) => failure(message),
                    Err(payload) if payload.is::<Cancelled>() => {
                        display.finished(&job, "stopped", wall);
                        RunResult::Skipped
                    }
                    Err(_) => failure(
                        LAST_PANIC
                            .with(|p| p.borrow_mut().take())
                            .unwrap_or_else(|| "panicked".into()),
                    ),
                }
            })
            .collect()
    });
    display.close();
    let mut outcome = Outcome {
        completed: Vec::new(),
        failed: Vec::new(),
        interrupted: cancel.load(Ordering::Relaxed),
        started,
        wall: 0.0,
    };
    for result in results {
        match result {
            RunResult::Done(c) => outcome.completed.push(c),
            RunResult::Failed(f) => outcome.failed.push(f),
            RunResult::Skipped => {}
        }
    }
    outcome.wall = clock.elapsed().as_secs_f64();
    outcome
}

/// Every declared metric once, every declared sample once, rows only in declared tables
/// with the declared number of cells.
fn validate_output(exp: &dyn DynExperiment, output: &RunOutput) -> Result<(), String> {
    let metrics = exp.metrics();
    for m in &metrics {
        let n = output.metrics.iter().filter(|(n, _)| *n == m.name).count();
        if n != 1 {
            return Err(format!("metric '{}' recorded {n} times, not once", m.name));
        }
    }
    if let Some((n, _)) = output
        .metrics
        .iter()
        .find(|(n, _)| !metrics.iter().any(|m| m.name == *n))
    {
        return Err(format!("metric '{n}' is not declared"));
    }
    let texts = exp.texts();
    for t in &texts {
        let n = output.texts.iter().filter(|(n, _)| *n == t.name).count();
        if n != 1 {
            return Err(format!("text '{}' recorded {n} times, not once", t.name));
        }
    }
    if let Some((n, _)) = output
        .texts
        .iter()
        .find(|(n, _)| !texts.iter().any(|t| t.name == *n))
    {
        return Err(format!("text '{n}' is not declared"));
    }
    let samples = exp.samples();
    for s in &samples {
        let n = output.samples.iter().filter(|(n, _)| *n == s.name).count();
        if n != 1 {
            return Err(format!("sample '{}' recorded {n} times, not once", s.name));
        }
    }
    if let Some((n, _)) = output
        .samples
        .iter()
        .find(|(n, _)| !samples.iter().any(|s| s.name == *n))
    {
        return Err(format!("sample '{n}' is not declared"));
    }
    let tables = exp.tables();
    for rows in &output.tables {
        let name = rows.name;
        match tables.iter().find(|t| t.name == name) {
            None => return Err(format!("table '{name}' is not declared")),
            Some(t) if rows.ragged || t.columns.len() != rows.cells => {
                return Err(format!(
                    "rows of table '{name}' must have {} cells, one per column",
                    t.columns.len()
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Writes the CSVs, the figures and the manifest; returns the files written.
pub fn write_results(plan: &Plan, outcome: &Outcome) -> Result<Vec<PathBuf>, String> {
    let mut files = output::write_csvs(plan, outcome)?;
    if !outcome.completed.is_empty() {
        files.extend(crate::plot::draw_all(plan.experiment, &plan.out)?);
    }
    let manifest = manifest(plan, outcome, &files);
    files.push(output::write_manifest(&plan.out, &manifest)?);
    Ok(files)
}

fn manifest(plan: &Plan, outcome: &Outcome, files: &[PathBuf]) -> Manifest {
    let info = plan.experiment.info();
    let varying = plan.sweep.varying();
    let (version, git_commit, git_dirty, rustc) = output::provenance();
    let json = |v: &Value| match v {
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Value::from(*f),
        Value::Text(t) => serde_json::Value::from(t.clone()),
    };
    Manifest {
        experiment: info.name.into(),
        measures: info.measures.into(),
        reproduces: info.reproduces.map(Into::into),
        quick: plan.quick.map(Into::into),
        parameters: plan
            .sweep
            .lists
            .iter()
            .map(|(n, vs)| (n.to_string(), vs.iter().map(json).collect()))
            .collect(),
        parameter_order: plan
            .sweep
            .lists
            .iter()
            .map(|(n, _)| n.to_string())
            .collect(),
        seeds: plan.seeds.clone(),
        runs_planned: plan.points.len() * plan.seeds.len(),
        runs_completed: outcome.completed.len(),
        failures: outcome
            .failed
            .iter()
            .map(|f| FailureRecord {
                point: plan.points[f.point].describe(&varying),
                seed: f.seed,
                message: f.message.clone(),
            })
            .collect(),
        interrupted: outcome.interrupted,
        command: plan.command.clone(),
        version,
        git_commit,
        git_dirty,
        rustc,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        jobs: plan.jobs,
        jobs_note: plan.jobs_note.clone(),
        started: humantime::format_rfc3339_seconds(outcome.started).to_string(),
        wall_seconds: outcome.wall,
        peak_rss_bytes: memory::peak_rss(),
        runs: outcome
            .completed
            .iter()
            .map(|c| RunCost {
                point: plan.points[c.point].describe(&varying),
                seed: c.seed,
                wall_seconds: c.wall,
                peak_heap_bytes: c.peak_heap,
                peak_rss_bytes: c.peak_rss,
                events: c.output.events,
                events_per_second: c
                    .output
                    .events
                    .filter(|_| c.wall > 0.0)
                    .map(|e| e as f64 / c.wall),
            })
            .collect(),
        files: files.iter().map(|f| f.display().to_string()).collect(),
    }
}
