//! VIPE TCP against ns-3's TcpNewReno in one ns-3 simulation, each over its own
//! point-to-point link with the same drop-tail bottleneck: prints both goodputs and
//! their ratio, and writes the congestion windows over time (CSV and a figure).
//!
//! ```text
//! cargo run --release -p vipe-examples --no-default-features --features ns3 --bin tcp_ns3 -- \
//!     --rate-mbps 10 --delay-ms 20 --queue 20 --seconds 30 --out docs/results/tcp-ns3
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vipe_examples::tcp_ns3::{Setup, compare, write_results};
use vipe_rt::Duration;

/// Compare VIPE TCP with ns-3's TcpNewReno over the same bottleneck inside ns-3.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Bottleneck rate in Mbit/s.
    #[arg(long, default_value_t = 10.0)]
    rate_mbps: f64,
    /// One-way delay in ms.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// Drop-tail queue in packets.
    #[arg(long, default_value_t = 20)]
    queue: u32,
    /// Send and receive buffers in KiB.
    #[arg(long, default_value_t = 1024)]
    buffer_kib: usize,
    /// Simulated seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Acknowledge every segment on both sides (no delayed ACKs).
    #[arg(long)]
    ack_every_segment: bool,
    /// Directory for cwnd.csv, summary.csv, cwnd.svg and cwnd.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let setup = Setup {
        rate_bps: (args.rate_mbps * 1e6) as u64,
        delay: Duration::from_millis(args.delay_ms),
        queue_packets: args.queue,
        buffer: args.buffer_kib * 1024,
        duration: Duration::from_secs(args.seconds),
        seed: args.seed,
        ack_every_segment: args.ack_every_segment,
        ..Setup::default()
    };
    let c = match compare(&setup) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tcp_ns3: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "tcp_ns3: {} Mbit/s, {} ms one way, queue {} packets, {} s",
        args.rate_mbps, args.delay_ms, args.queue, args.seconds
    );
    for (name, flow) in [("vipe", &c.vipe), ("ns3 ", &c.ns3)] {
        println!(
            "{name}: received {} bytes, goodput {:.3} Mbit/s, {} cwnd changes",
            flow.received,
            flow.goodput_bps / 1e6,
            flow.cwnd.len()
        );
    }
    println!("vipe sender: {:?}", c.vipe_sender);
    println!("ratio vipe/ns3: {:.4}", c.ratio());
    if let Some(dir) = args.out {
        match write_results(&setup, &c, &dir) {
            Ok(paths) => {
                for p in paths {
                    println!("wrote {}", p.display());
                }
            }
            Err(e) => {
                eprintln!("tcp_ns3: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
