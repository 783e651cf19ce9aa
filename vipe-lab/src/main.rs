//! `vipe-lab`: `list`, `help EXPERIMENT`, `run EXPERIMENT [--PARAM V[,V...]]...`, `plot DIR`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use vipe_lab::memory::TrackingAllocator;

/// Counts each run's heap (per thread) for the manifest.
#[global_allocator]
static ALLOCATOR: TrackingAllocator = TrackingAllocator;

fn main() -> ExitCode {
    TrackingAllocator::installed();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    // First Ctrl-C: stop the runs, keep and write what finished. Second: leave now.
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nvipe-lab: stopped without writing results");
            std::process::exit(130);
        }
        eprintln!(
            "\nvipe-lab: stopping; the finished runs are kept (Ctrl-C again to quit at once)"
        );
    });
    if let Err(e) = handler {
        eprintln!(
            "vipe-lab: warning: cannot catch Ctrl-C ({e}); an interrupted sweep writes nothing"
        );
    }
    vipe_lab::cli::main(std::env::args().collect(), cancel)
}
