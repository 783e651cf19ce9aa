//! The command line: `list`, `help EXPERIMENT`, `run EXPERIMENT [--PARAM V[,V...]]...`,
//! `plot DIR`. Each experiment's parameters become options of its `run`, so an unknown or
//! misspelt one is refused by clap with a suggestion, before anything runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Arg, ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::experiment::{Distribution, DynExperiment};
use crate::experiments;
use crate::output;
use crate::progress::Mode;
use crate::runner::{self, Request, Seeds};

/// Runs experiments in VIPE's simulator: sweeps over parameters and seeds on every core,
/// CSVs that diff, a manifest that reproduces the run, figures with confidence intervals.
#[derive(Parser, Debug)]
#[command(name = "vipe-lab", version, disable_help_subcommand = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every experiment: its name, what it measures, which published figure it reproduces.
    List,
    /// An experiment's parameters with units, defaults and valid ranges, its outputs and
    /// what --quick shrinks.
    Help {
        /// The experiment.
        experiment: String,
    },
    /// Runs an experiment: `vipe-lab run EXPERIMENT [--PARAM V[,V...]]... [OPTIONS]`; a
    /// parameter given a list is swept, several lists sweep their Cartesian product.
    /// `vipe-lab run EXPERIMENT --help` lists its parameters.
    #[command(disable_help_flag = true)]
    Run {
        /// The experiment, then its parameters and the run options.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            num_args = 0..,
            value_name = "EXPERIMENT [ARGS]"
        )]
        args: Vec<String>,
    },
    /// Redraws the figures of a results directory from its CSVs.
    Plot {
        /// A directory written by `vipe-lab run`.
        dir: PathBuf,
    },
}

/// Options of every `run`, besides the experiment's parameters.
#[derive(Args, Debug)]
struct RunOptions {
    /// Run seeds 1 to N at every point.
    #[arg(long, value_name = "N", conflicts_with = "seed_list")]
    seeds: Option<u32>,
    /// Run exactly these seeds at every point.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    seed_list: Option<Vec<u64>>,
    /// Runs in parallel (default: one per core; lowered if the runs would not fit in memory).
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
    /// Results directory (default: results/EXPERIMENT).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The experiment's documented smaller version (see `vipe-lab help EXPERIMENT`).
    #[arg(long)]
    quick: bool,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

/// Options every `run` has; an experiment may not name a parameter after one.
pub const RESERVED: [&str; 7] = [
    "seeds",
    "seed-list",
    "jobs",
    "out",
    "quick",
    "quiet",
    "help",
];

/// Runs the command line `args` (program name first). `cancel` is what the Ctrl-C
/// handler sets.
pub fn main(args: Vec<String>, cancel: Arc<AtomicBool>) -> ExitCode {
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let result = match cli.command {
        Command::List => {
            list();
            Ok(0)
        }
        Command::Help { experiment } => find(&experiment).map(|e| {
            help(e);
            0
        }),
        Command::Run { args: rest } => run(&args, rest, cancel),
        Command::Plot { dir } => plot(&dir),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn find(name: &str) -> Result<&'static dyn DynExperiment, String> {
    experiments::find(name).ok_or_else(|| {
        let names: Vec<&str> = experiments::all().iter().map(|e| e.info().name).collect();
        format!(
            "no experiment named '{name}'; the experiments are: {} (`vipe-lab list`)",
            names.join(", ")
        )
    })
}

fn list() {
    let all = experiments::all();
    let width = all.iter().map(|e| e.info().name.len()).max().unwrap_or(0);
    for e in all {
        let info = e.info();
        let reproduces = info
            .reproduces
            .map_or(String::new(), |r| format!(" [reproduces {r}]"));
        println!("{:width$}  {}{reproduces}", info.name, info.measures);
    }
}

fn help(e: &dyn DynExperiment) {
    let info = e.info();
    println!("{} — {}", info.name, info.measures);
    if let Some(r) = info.reproduces {
        println!("reproduces: {r}");
    }
    println!();
    println!(
        "parameters (a list sweeps: --{0} A,B,C; a range too: A..B:+STEP or A..B:xFACTOR):",
        e.params().first().map_or("x", |p| p.name)
    );
    let rows: Vec<[String; 5]> = e
        .params()
        .iter()
        .map(|p| {
            [
                format!("--{}", p.name),
                p.unit.to_string(),
                format!("default {}", p.default_text()),
                format!("valid {}", p.range()),
                p.help.to_string(),
            ]
        })
        .collect();
    print_table(&rows, "  ");
    let quick = e.quick();
    println!();
    println!(
        "seeds: {} by default (--seeds N, --seed-list A,B,...)",
        e.default_seeds()
    );
    println!("--quick: {}", quick.what);
    println!();
    println!("metrics per run (summary.csv: mean_, std_, ci95_lo_, ci95_hi_ over seeds):");
    let rows: Vec<[String; 3]> = e
        .metrics()
        .iter()
        .map(|m| [m.name.into(), m.unit.into(), m.help.into()])
        .collect();
    print_table(&rows, "  ");
    let samples = e.samples();
    if !samples.is_empty() {
        println!(
            "samples pooled over seeds (summary.csv: n_, mean_, ci95_lo_/hi_ of per-seed means, pP_):"
        );
        let rows: Vec<[String; 4]> = samples
            .iter()
            .map(|s| {
                let ps: Vec<String> = s.percentiles.iter().map(|p| format!("p{p}")).collect();
                let dist = match s.distribution {
                    Distribution::None => String::new(),
                    Distribution::Cdf => format!(", {}_cdf.csv", s.name),
                    Distribution::Pdf => format!(", {}_pdf.csv", s.name),
                };
                [
                    s.name.into(),
                    s.unit.into(),
                    format!("{}{dist}", ps.join(" ")),
                    s.help.into(),
                ]
            })
            .collect();
        print_table(&rows, "  ");
    }
    for t in e.tables() {
        println!("table {}.csv: {}", t.name, t.columns.join(","));
    }
    println!("figures (SVG and PNG):");
    for f in e.figures() {
        println!("  {}: {}", f.file, f.title);
    }
}

fn print_table<const N: usize>(rows: &[[String; N]], indent: &str) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    for row in rows {
        let mut line = String::from(indent);
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn run(all_args: &[String], rest: Vec<String>, cancel: Arc<AtomicBool>) -> Result<u8, String> {
    let Some((name, rest)) = rest.split_first().filter(|(n, _)| !n.starts_with('-')) else {
        let names: Vec<&str> = experiments::all().iter().map(|e| e.info().name).collect();
        return Err(format!(
            "name the experiment to run: vipe-lab run EXPERIMENT (one of: {})",
            names.join(", ")
        ));
    };
    let exp = find(name)?;
    let mut command = RunOptions::augment_args(
        clap::Command::new(format!("vipe-lab run {name}"))
            .about(exp.info().measures)
            .after_help(
                "A parameter given a list (A,B,C) or a range (A..B:+STEP, A..B:xFACTOR) is swept.",
            ),
    );
    for p in exp.params() {
        debug_assert!(
            !RESERVED.contains(&p.name),
            "parameter name {} is reserved",
            p.name
        );
        let unit = if p.unit.is_empty() {
            String::new()
        } else {
            format!(" [{}]", p.unit)
        };
        command = command.arg(
            Arg::new(p.name)
                .long(p.name)
                .value_name("V[,V...]")
                .action(ArgAction::Set)
                .allow_negative_numbers(true)
                .help(format!(
                    "{}{unit} (default {}, valid {})",
                    p.help,
                    p.default_text(),
                    p.range()
                )),
        );
    }
    let matches = match command.try_get_matches_from(
        std::iter::once(format!("vipe-lab run {name}")).chain(rest.iter().cloned()),
    ) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return Ok(e.exit_code() as u8);
        }
    };
    let options = RunOptions::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    let params = exp
        .params()
        .iter()
        .filter_map(|p| {
            matches
                .get_one::<String>(p.name)
                .map(|v| (p.name.to_string(), v.clone()))
        })
        .collect();
    let seeds = match (options.seeds, options.seed_list) {
        (Some(n), _) => Seeds::Count(n),
        (None, Some(list)) => Seeds::List(list),
        (None, None) => Seeds::Default,
    };
    let plan = runner::plan(Request {
        experiment: exp,
        params,
        seeds,
        jobs: options.jobs,
        out: options.out,
        quick: options.quick,
        command: all_args.to_vec(),
    })?;
    let mode = Mode::detect(options.quiet);
    let runs = plan.points.len() * plan.seeds.len();
    if mode != Mode::Quiet {
        eprintln!(
            "vipe-lab: {name}: {} point(s) × {} seed(s) = {runs} run(s) on {} job(s){}",
            plan.points.len(),
            plan.seeds.len(),
            plan.jobs,
            plan.quick
                .map_or(String::new(), |q| format!(" (--quick: {q})"))
        );
    }
    if let Some(note) = &plan.jobs_note {
        eprintln!("vipe-lab: {note}");
    }
    let outcome = runner::execute(&plan, mode, cancel);
    let files = runner::write_results(&plan, &outcome)?;
    print_summary(&plan);
    print_costs(&plan, &outcome);
    println!();
    println!(
        "{} of {runs} runs finished in {:.2} s wall ({} job(s)).",
        outcome.completed.len(),
        outcome.wall,
        plan.jobs
    );
    for f in &outcome.failed {
        println!(
            "FAILED: {} seed={}: {}",
            plan.points[f.point].describe(&plan.sweep.varying()),
            f.seed,
            f.message
        );
    }
    if outcome.interrupted {
        println!("interrupted by Ctrl-C: the finished runs were kept.");
    }
    println!("wrote:");
    for f in files {
        println!("  {}", f.display());
    }
    Ok(outcome.exit_code())
}

/// The summary as a table on stdout: the swept parameters, then each metric's mean ± CI
/// half-width and each sample's mean and percentiles.
fn print_summary(plan: &runner::Plan) {
    let Ok(mut reader) = csv::Reader::from_path(plan.out.join("summary.csv")) else {
        return;
    };
    let Ok(header) = reader.headers().cloned() else {
        return;
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let exp = plan.experiment;
    let varying = plan.sweep.varying();
    // Two header lines: names, then units.
    let mut head = varying.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let specs = exp.params();
    let mut units: Vec<String> = varying
        .iter()
        .map(|v| {
            let unit = specs.iter().find(|s| s.name == *v).map_or("", |s| s.unit);
            if unit.is_empty() {
                String::new()
            } else {
                format!("({unit})")
            }
        })
        .collect();
    head.push("seeds".into());
    units.push(String::new());
    for m in exp.metrics() {
        head.push(m.name.into());
        units.push(format!("({})", m.unit));
    }
    for s in exp.samples() {
        head.push(format!("mean {}", s.name));
        units.push(format!("({})", s.unit));
        for p in s.percentiles {
            head.push(format!("p{p} {}", s.name));
            units.push(format!("({})", s.unit));
        }
    }
    let mut rows = vec![head, units];
    for record in reader.records().flatten() {
        let get = |name: &str| column(name).and_then(|i| record.get(i)).unwrap_or("");
        let mut row: Vec<String> = varying.iter().map(|v| get(v).to_string()).collect();
        row.push(get("seeds").into());
        let pm = |mean: &str, lo: &str, hi: &str| match (
            mean.parse::<f64>(),
            lo.parse::<f64>(),
            hi.parse::<f64>(),
        ) {
            (Ok(m), Ok(l), Ok(h)) => format!("{} ± {}", sig(m), sig_n((h - l) / 2.0, 2)),
            (Ok(m), _, _) => sig(m),
            _ => "–".into(),
        };
        for m in exp.metrics() {
            row.push(pm(
                get(&format!("mean_{}", m.name)),
                get(&format!("ci95_lo_{}", m.name)),
                get(&format!("ci95_hi_{}", m.name)),
            ));
        }
        for s in exp.samples() {
            row.push(pm(
                get(&format!("mean_{}", s.name)),
                get(&format!("ci95_lo_{}", s.name)),
                get(&format!("ci95_hi_{}", s.name)),
            ));
            for p in s.percentiles {
                let v = get(&format!("p{}_{}", output::percentile_label(*p), s.name));
                row.push(v.parse::<f64>().map_or("–".into(), sig));
            }
        }
        rows.push(row);
    }
    println!();
    println!(
        "{} — mean ± 95% CI half-width over seeds ({})",
        exp.info().name,
        plan.out.join("summary.csv").display()
    );
    let n = rows[0].len();
    let mut widths = vec![0; n];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        println!("{}", line.join("  "));
    }
}

/// What the runs cost on this machine, per point: the manifest's figures (never in a
/// CSV, since they differ from machine to machine).
fn print_costs(plan: &runner::Plan, outcome: &runner::Outcome) {
    if outcome.completed.is_empty() {
        return;
    }
    let varying = plan.sweep.varying();
    let mut rows = vec![vec![
        "point".to_string(),
        "runs".into(),
        "wall s/run".into(),
        "events/s".into(),
        "peak heap/run".into(),
        "peak RSS/run".into(),
    ]];
    for (index, point) in plan.points.iter().enumerate() {
        let runs: Vec<&runner::Completed> = outcome
            .completed
            .iter()
            .filter(|c| c.point == index)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let n = runs.len() as f64;
        let wall = runs.iter().map(|r| r.wall).sum::<f64>() / n;
        let events: Option<u64> = runs.iter().map(|r| r.output.events).sum();
        let rate = events.filter(|_| wall > 0.0).map_or("–".into(), |e| {
            let rate = e as f64 / (wall * n);
            if rate >= 1e6 {
                format!("{} M", sig_n(rate / 1e6, 3))
            } else {
                sig_n(rate, 3)
            }
        });
        let heap = runs.iter().filter_map(|r| r.peak_heap).max();
        let rss = runs.iter().filter_map(|r| r.peak_rss).max();
        rows.push(vec![
            point.describe(&varying),
            runs.len().to_string(),
            sig_n(wall, 3),
            rate,
            heap.map_or("–".into(), crate::memory::human),
            rss.map_or("– (--jobs 1 only)".into(), crate::memory::human),
        ]);
    }
    println!();
    println!("cost on this machine (manifest.json; not in the CSVs):");
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("{}", line.join("  "));
    }
}

/// Four significant digits.
fn sig(v: f64) -> String {
    sig_n(v, 4)
}

/// `n` significant digits (none after the point for large numbers).
fn sig_n(v: f64, n: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (n - 1 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

fn plot(dir: &Path) -> Result<u8, String> {
    let name = output::manifest_experiment(dir)?.ok_or_else(|| {
        format!(
            "{} has no {}: give a directory written by `vipe-lab run`",
            dir.display(),
            output::MANIFEST
        )
    })?;
    let exp = find(&name)?;
    for f in crate::plot::draw_all(exp, dir)? {
        println!("wrote {}", f.display());
    }
    Ok(0)
}

/// The clap command, for `--help` rendering checks.
pub fn command() -> clap::Command {
    Cli::command()
}
