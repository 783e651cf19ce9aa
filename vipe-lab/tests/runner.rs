//! The runner with experiments made for the test: a run that panics or fails is reported
//! with its point, seed and message while the others finish and are kept; Ctrl-C keeps
//! the finished runs; memory-hungry runs lower the parallelism or are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use vipe_lab::experiment::{
    DynExperiment, Experiment, FigureKind, FigureSpec, Info, MetricSpec, Quick, RunContext,
    RunOutput, Y,
};
use vipe_lab::param::ParamSpec;
use vipe_lab::progress::Mode;
use vipe_lab::runner::{self, Request, Seeds};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[derive(Debug, Deserialize)]
struct Params {
    size: u64,
}

/// Seed 2 panics, seed 3 returns an error, the others give `value = size · seed`.
/// With `cancel_at` set, that seed raises Ctrl-C's flag and then runs until stopped.
struct Flaky {
    cancel_at: Option<(u64, Arc<AtomicBool>)>,
    memory: Option<u64>,
}

impl Experiment for Flaky {
    type Params = Params;
    fn info(&self) -> Info {
        Info {
            name: "flaky",
            measures: "nothing: a test of the runner",
            reproduces: None,
        }
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![ParamSpec::int("size", "", 1, 1, 100)]
    }
    fn quick(&self) -> Quick {
        Quick {
            overrides: vec![],
            seeds: 1,
            what: "nothing",
        }
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec {
            name: "value",
            unit: "",
            help: "size times seed",
        }]
    }
    fn figures(&self) -> Vec<FigureSpec> {
        vec![FigureSpec {
            file: "value",
            title: "Value",
            kind: FigureKind::Line {
                x: "size",
                ys: vec![Y::Metric("value")],
            },
            y_label: "value",
            y_log: false,
            references: vec![],
        }]
    }
    fn memory_per_run(&self, _: &Params) -> Option<u64> {
        self.memory
    }
    fn run(&self, params: &Params, cx: &RunContext) -> Result<RunOutput, String> {
        if let Some((seed, flag)) = &self.cancel_at {
            if cx.seed == *seed {
                flag.store(true, Ordering::SeqCst);
                // A simulation that would run for a simulated day: the progress hook
                // stops it at its next report.
                let config = vipe_examples::heartbeat::HeartbeatConfig {
                    count: 10_000_000,
                    ..Default::default()
                };
                let target = vipe_rt::Instant::ZERO + config.time_cap();
                vipe_examples::heartbeat::run_with(&config, |sim| cx.watch(sim, target))?;
                return Err("the run was not stopped".into());
            }
        } else if cx.seed == 2 {
            let empty: Vec<u64> = Vec::new();
            let _ = empty[params.size as usize]; // index out of bounds
        } else if cx.seed == 3 {
            return Err(format!("size {} refused on purpose", params.size));
        }
        let mut out = RunOutput::new();
        out.metric("value", (params.size * cx.seed) as f64);
        Ok(out)
    }
}

fn request(exp: &'static dyn DynExperiment, out: &Path, jobs: usize) -> Request {
    Request {
        experiment: exp,
        params: vec![("size".into(), "1,10".into())],
        seeds: Seeds::Count(4),
        jobs: Some(jobs),
        out: Some(out.to_path_buf()),
        quick: false,
        command: vec!["test".into()],
    }
}

#[test]
fn panicking_and_failing_runs_are_reported_and_the_rest_kept() {
    let exp: &'static Flaky = Box::leak(Box::new(Flaky {
        cancel_at: None,
        memory: None,
    }));
    let dir = scratch("flaky");
    let plan = runner::plan(request(exp, &dir, 2)).unwrap();
    let outcome = runner::execute(&plan, Mode::Quiet, Arc::new(AtomicBool::new(false)));
    assert_eq!(outcome.exit_code(), 1);
    assert_eq!(outcome.completed.len(), 4, "seeds 1 and 4 at both sizes");
    assert_eq!(outcome.failed.len(), 4);
    let panic = &outcome.failed[0];
    assert_eq!((panic.point, panic.seed), (0, 2));
    assert!(panic.message.contains("panicked at"), "{}", panic.message);
    assert!(
        panic.message.contains("index out of bounds"),
        "{}",
        panic.message
    );
    assert!(panic.message.contains("runner.rs"), "{}", panic.message);
    let error = &outcome.failed[1];
    assert_eq!((error.point, error.seed), (0, 3));
    assert_eq!(error.message, "size 1 refused on purpose");

    let files = runner::write_results(&plan, &outcome).unwrap();
    assert!(files.iter().any(|f| f.ends_with("value.png")));
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert_eq!(runs, "size,seed,value\n1,1,1\n1,4,4\n10,1,10\n10,4,40\n");
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert!(summary.contains("\n1,2,2.5,"), "{summary}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let failures = manifest["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 4);
    assert_eq!(failures[0]["point"], "size=1");
    assert_eq!(failures[0]["seed"], 2);
}

#[test]
fn ctrl_c_stops_the_running_runs_and_keeps_the_finished_ones() {
    let flag = Arc::new(AtomicBool::new(false));
    let exp: &'static Flaky = Box::leak(Box::new(Flaky {
        cancel_at: Some((2, Arc::clone(&flag))),
        memory: None,
    }));
    let dir = scratch("cancelled");
    let mut req = request(exp, &dir, 1);
    req.params = vec![("size".into(), "5".into())];
    let plan = runner::plan(req).unwrap();
    let started = std::time::Instant::now();
    let outcome = runner::execute(&plan, Mode::Quiet, flag);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(outcome.interrupted);
    assert_eq!(outcome.exit_code(), 130);
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(
        outcome.completed.len(),
        1,
        "seed 1 finished; 2 stopped; 3, 4 never ran"
    );
    runner::write_results(&plan, &outcome).unwrap();
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert_eq!(runs, "size,seed,value\n5,1,5\n");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"interrupted\": true"));
}

#[test]
fn runs_that_need_much_memory_lower_the_jobs_or_are_refused() {
    let available = vipe_lab::memory::available().unwrap();
    let big: &'static Flaky = Box::leak(Box::new(Flaky {
        cancel_at: None,
        memory: Some(available / 3 * 2),
    }));
    let plan = runner::plan(request(big, &scratch("big"), 2)).unwrap();
    assert_eq!(plan.jobs, 1);
    let note = plan.jobs_note.unwrap();
    assert!(
        note.starts_with("lowering --jobs from 2 to 1: a run at size=1 needs about"),
        "{note}"
    );

    let huge: &'static Flaky = Box::leak(Box::new(Flaky {
        cancel_at: None,
        memory: Some(available * 2),
    }));
    let dir = scratch("huge");
    let err = runner::plan(request(huge, &dir, 2)).err().unwrap();
    assert!(err.contains("only") && err.contains("available"), "{err}");
    assert!(!dir.exists(), "nothing written before refusing");
}

#[test]
fn every_registered_experiment_is_well_formed() {
    for exp in vipe_lab::experiments::all() {
        let name = exp.info().name;
        let params = exp.params();
        for p in &params {
            assert!(
                !vipe_lab::cli::RESERVED.contains(&p.name),
                "{name}: --{} is a run option",
                p.name
            );
            p.parse(&p.default.to_string())
                .unwrap_or_else(|e| panic!("{name}: default of --{} invalid: {e}", p.name));
        }
        let point = vipe_lab::param::Point {
            values: params.iter().map(|p| (p.name, p.default.clone())).collect(),
        };
        exp.check_point(&point)
            .unwrap_or_else(|e| panic!("{name}: defaults do not type-check: {e}"));
        for (p, v) in exp.quick().overrides {
            let spec = params
                .iter()
                .find(|s| s.name == p)
                .expect("quick names a parameter");
            spec.parse_list(v).expect("quick's value is valid");
        }
        let metric_names: Vec<_> = exp.metrics().iter().map(|m| m.name).collect();
        let sample_names: Vec<_> = exp.samples().iter().map(|s| s.name).collect();
        for f in exp.figures() {
            if let FigureKind::Line { x, ys } = &f.kind {
                assert!(params.iter().any(|p| p.name == *x), "{name}: figure x {x}");
                for y in ys {
                    let ok = match y {
                        Y::Metric(m) => metric_names.contains(m),
                        Y::SampleMean(s) | Y::Percentile(s, _) => sample_names.contains(s),
                    };
                    assert!(ok, "{name}: figure {} plots an undeclared {y:?}", f.file);
                }
            }
        }
    }
}
