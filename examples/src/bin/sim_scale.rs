//! Runs the `sim-scale` workload once and prints what it did, for measuring under
//! `/usr/bin/time -v`: `sim_scale --nodes 1000000 --in-flight 8 --latency exp:50ms`.

use std::process::ExitCode;

use clap::Parser;
use vipe_examples::sim_scale::{SimScaleConfig, run};
use vipe_platforms::sim::DelayModel;

/// The sim-scale workload.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Number of nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: u32,
    /// Datagrams each node keeps outstanding to random peers (0: idle, one timer each).
    #[arg(long, default_value_t = 8)]
    in_flight: u16,
    /// Payload bytes.
    #[arg(long, default_value_t = 64)]
    payload: u16,
    /// Delay model: const:10ms, uniform:5ms..50ms, exp:50ms, euclid:100ms, matrix:FILE.
    #[arg(long, default_value = "exp:50ms")]
    latency: DelayModel,
    /// Simulated seconds.
    #[arg(long, default_value_t = 10.0)]
    sim_seconds: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skip the trace digest.
    #[arg(long)]
    no_digest: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = SimScaleConfig {
        nodes: args.nodes,
        in_flight: args.in_flight,
        payload: args.payload,
        latency: args.latency,
        sim_seconds: args.sim_seconds,
        seed: args.seed,
        digest: !args.no_digest,
    };
    match run(&config, |t| eprintln!("  sim time {t}")) {
        Ok(r) => {
            println!(
                "nodes={} in_flight={} events={} delivered={} digest={:016x} setup_s={:.2} run_s={:.2} events_per_s={:.0}",
                config.nodes,
                config.in_flight,
                r.events,
                r.delivered,
                r.trace_digest,
                r.setup_seconds,
                r.run_seconds,
                r.events_per_second()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
