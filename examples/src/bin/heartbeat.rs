//! The heartbeat experiment: `cargo run --release -p vipe-examples --bin heartbeat -- --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vipe_examples::heartbeat::{self, HeartbeatConfig};
use vipe_platforms::sim::LinkConfig;
use vipe_rt::Duration;

/// A prober and a responder over a lossy simulated link: RTTs, losses, retransmissions.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Seed of every random draw; the same seed gives the same run, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Probes to send.
    #[arg(long, default_value_t = 200)]
    count: u32,
    /// Milliseconds between new probes.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Retransmission timeout in milliseconds.
    #[arg(long, default_value_t = 60)]
    rto_ms: u64,
    /// Retransmissions before a probe is given up.
    #[arg(long, default_value_t = 5)]
    retries: u8,
    /// One-way link latency in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    latency_ms: f64,
    /// Link bandwidth in Mbit/s (0: unlimited).
    #[arg(long, default_value_t = 10.0)]
    bandwidth_mbps: f64,
    /// Link loss probability, 0 to 1.
    #[arg(long, default_value_t = 0.1)]
    loss: f64,
    /// Packets the link queues behind the one on the wire.
    #[arg(long, default_value_t = 32)]
    queue: usize,
    /// Directory for the pcaps and the per-probe CSV.
    #[arg(long, default_value = "results/heartbeat")]
    out: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !(args.latency_ms >= 0.0 && args.bandwidth_mbps >= 0.0) {
        eprintln!("error: --latency-ms and --bandwidth-mbps must be zero or positive");
        return ExitCode::from(2);
    }
    let config = HeartbeatConfig {
        seed: args.seed,
        count: args.count,
        interval: Duration::from_millis(args.interval_ms),
        rto: Duration::from_millis(args.rto_ms),
        max_retries: args.retries,
        link: LinkConfig::default()
            .latency(Duration::from_secs_f64(args.latency_ms / 1e3))
            .bandwidth_bps((args.bandwidth_mbps * 1e6) as u64)
            .queue_limit(args.queue)
            .loss(args.loss),
        out_dir: Some(args.out),
        trace: false,
    };
    match heartbeat::run(&config) {
        Ok(report) => {
            print!("{}", report.summary());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
