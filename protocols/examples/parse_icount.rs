//! Instruction-count probe for the parse benchmark: parses the frame N times with one
//! parser, so `valgrind --tool=callgrind` totals for two N give instructions per parse.
//! Usage: `parse_icount <vipe|vipe-checksum|etherparse-layers|etherparse-sliced|smoltcp> <N>`;
//! driven by `bench/parse-icount.sh`.
#![allow(missing_docs)]

use std::hint::black_box;

#[path = "../benches/support/parsers.rs"]
mod parsers;
use parsers::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let parser: fn(&[u8]) -> Option<Summary> = match mode.as_str() {
        "vipe" => vipe,
        "vipe-checksum" => vipe_checksum,
        "etherparse-layers" => etherparse_layers,
        "etherparse-sliced" => etherparse_sliced,
        "smoltcp" => smoltcp_checked,
        other => {
            eprintln!("unknown parser {other:?}");
            std::process::exit(2);
        }
    };
    let frame = tcp_frame();
    let mut ok = 0u64;
    for _ in 0..n {
        ok += u64::from(black_box(parser)(black_box(&frame)).is_some());
    }
    println!("{ok}");
}
