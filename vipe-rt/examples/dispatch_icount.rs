//! Instruction-count probe for the dispatch benchmark: runs N events one way, so that
//! `valgrind --tool=callgrind` totals for two values of N give instructions per event.
//! Usage: `dispatch_icount <dispatch|direct|last-dispatch|last-direct|timer-dispatch|timer-direct> <N>`;
//! driven by `bench/dispatch-icount.sh`.
#![allow(missing_docs)]

use vipe_rt::testing::Harness;

#[path = "../benches/support/dispatch_subject.rs"]
mod subject;
use subject::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut h = Harness::new(Subject::default());
    match mode.as_str() {
        "dispatch" => via_dispatch(&mut h, n),
        "direct" => via_direct_call(&mut h, n),
        "last-dispatch" => last_port_via_dispatch(&mut h, n),
        "last-direct" => last_port_via_direct_call(&mut h, n),
        "timer-dispatch" => timers_via_dispatch(&mut h, n),
        "timer-direct" => timers_via_direct_call(&mut h, n),
        other => {
            eprintln!(
                "unknown mode {other:?}: use dispatch, direct, last-dispatch, last-direct, timer-dispatch or timer-direct"
            );
            std::process::exit(2);
        }
    }
    println!("{}", h.protocol().bytes);
}
