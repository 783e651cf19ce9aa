//! Progress: indicatif bars on a terminal (runs done / total with ETA, and one line per
//! running job with its simulated time against its target), plain log lines elsewhere,
//! nothing with `--quiet`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration as WallDuration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use vipe_rt::Instant;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bars (stdout and stderr are terminals).
    Bars,
    /// A log line per finished run and, for long runs, now and then per running job.
    Plain,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// Bars on a terminal, plain lines otherwise, or nothing if `quiet`.
    pub fn detect(quiet: bool) -> Mode {
        use std::io::IsTerminal;
        if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        }
    }
}

/// The progress display of a whole sweep.
pub struct Display {
    mode: Mode,
    multi: MultiProgress,
    overall: ProgressBar,
    total: usize,
    done: AtomicUsize,
}

impl Display {
    /// A display for `total` runs.
    pub fn new(mode: Mode, total: usize) -> Display {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr_with_hz(10),
            _ => ProgressDrawTarget::hidden(),
        });
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} runs  {elapsed_precise} elapsed, ETA {eta_precise}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        overall.set_prefix("vipe-lab");
        if mode == Mode::Bars {
            overall.enable_steady_tick(WallDuration::from_millis(200));
        }
        Display {
            mode,
            multi,
            overall,
            total,
            done: AtomicUsize::new(0),
        }
    }

    /// A progress line for a run that starts now.
    pub fn job(&self, label: String) -> JobProgress {
        let bar = (self.mode == Mode::Bars).then(|| {
            let bar = self.multi.add(ProgressBar::new(1));
            bar.set_style(
                ProgressStyle::with_template("  {prefix:30!} [{bar:30.green/white}] {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.clone());
            bar
        });
        JobProgress {
            label,
            bar,
            plain: self.mode == Mode::Plain,
            target_ns: AtomicU64::new(0),
            last_line: Mutex::new(std::time::Instant::now()),
        }
    }

    /// A run ended: `outcome` is "done", "FAILED", ... and `wall` its wall time.
    pub fn finished(&self, job: &JobProgress, outcome: &str, wall: WallDuration) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &job.bar {
            bar.finish_and_clear();
            self.multi.remove(bar);
        }
        self.overall.inc(1);
        if self.mode == Mode::Plain {
            eprintln!(
                "vipe-lab: [{done}/{}] {} {outcome} in {:.2} s",
                self.total,
                job.label,
                wall.as_secs_f64()
            );
        }
    }

    /// A message that must be seen (a failed run), printed above the bars.
    pub fn message(&self, text: &str) {
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(text);
            }
            _ => eprintln!("{text}"),
        }
    }

    /// Removes the bars.
    pub fn close(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// One running job's progress line.
pub struct JobProgress {
    label: String,
    bar: Option<ProgressBar>,
    plain: bool,
    target_ns: AtomicU64,
    last_line: Mutex<std::time::Instant>,
}

impl JobProgress {
    /// A job that shows nothing.
    pub fn hidden() -> JobProgress {
        JobProgress {
            label: String::new(),
            bar: None,
            plain: false,
            target_ns: AtomicU64::new(0),
            last_line: Mutex::new(std::time::Instant::now()),
        }
    }

    /// The simulated time at which the run is expected to end.
    pub fn set_target(&self, target: Instant) {
        self.target_ns.store(target.as_nanos(), Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(target.as_nanos().max(1));
        }
    }

    /// The run's simulated time now.
    pub fn update(&self, now: Instant) {
        let target = self.target_ns.load(Ordering::Relaxed);
        let text = format!(
            "{:.1} s of {:.1} s simulated",
            now.as_secs_f64(),
            target as f64 / 1e9
        );
        if let Some(bar) = &self.bar {
            bar.set_position(now.as_nanos().min(target));
            bar.set_message(text);
        } else if self.plain {
            // A long run logs where it is every ten seconds.
            let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= WallDuration::from_secs(10) {
                *last = std::time::Instant::now();
                eprintln!("vipe-lab: {}: {text}", self.label);
            }
        }
    }
}
