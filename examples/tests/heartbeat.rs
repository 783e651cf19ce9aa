//! The heartbeat experiment end to end: exact results on a clean link, determinism
//! (same seed, byte-identical trace and pcaps), and Wireshark's verdict on the pcaps.

use std::path::{Path, PathBuf};
use std::process::Command;

use vipe_examples::heartbeat::{self, HeartbeatConfig, ProbeOutcome};
use vipe_platforms::sim::LinkConfig;
use vipe_rt::Duration;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn clean_link_rtt_is_exactly_propagation_plus_serialisation() {
    let config = HeartbeatConfig {
        count: 50,
        link: LinkConfig::default()
            .latency(Duration::from_millis(10))
            .bandwidth_bps(10_000_000)
            .loss(0.0),
        ..HeartbeatConfig::default()
    };
    let report = heartbeat::run(&config).unwrap();
    assert_eq!(report.outcomes.len(), 50);
    assert_eq!(report.retransmissions, 0);
    assert_eq!(report.lost(), 0);
    // 2 × 10 ms propagation + 2 × 60 bytes at 10 Mbit/s (48 µs each).
    let expected = Duration::from_micros(20_096);
    for (_, outcome) in &report.outcomes {
        assert_eq!(
            *outcome,
            ProbeOutcome::Answered {
                rtt: expected,
                attempts: 1
            }
        );
    }
    assert_eq!(report.sim.transmitted, 100);
    assert_eq!(report.sim.delivered, 100);
}

#[test]
fn lossy_link_retransmits_and_gives_up() {
    let config = HeartbeatConfig {
        count: 100,
        max_retries: 1,
        link: HeartbeatConfig::default().link.loss(0.5),
        ..HeartbeatConfig::default()
    };
    let report = heartbeat::run(&config).unwrap();
    let lost = report.lost();
    assert!(report.retransmissions > 30, "{}", report.summary());
    assert!(lost > 10, "{}", report.summary());
    assert_eq!(report.rtts().len() + lost, 100);
    assert_eq!(
        report.nodes[0].counters.values().sum::<u64>(),
        100,
        "replies + given up"
    );
    // Every loss the link reports is a frame that never arrived.
    assert_eq!(
        report.sim.transmitted - report.sim.delivered,
        report.sim.drops.values().sum::<u64>()
    );
}

#[test]
fn misconfigured_experiments_fail_before_running_and_say_what_to_change() {
    let bad_loss = HeartbeatConfig {
        link: LinkConfig::default().loss(2.0),
        ..HeartbeatConfig::default()
    };
    assert!(heartbeat::run(&bad_loss).unwrap_err().contains("[0, 1]"));
    let bad_rto = HeartbeatConfig {
        rto: Duration::from_millis(5),
        ..HeartbeatConfig::default()
    };
    assert!(heartbeat::run(&bad_rto).unwrap_err().contains("--rto-ms"));
}

fn run_into(dir: &Path, seed: u64) -> heartbeat::HeartbeatReport {
    let config = HeartbeatConfig {
        seed,
        count: 100,
        out_dir: Some(dir.to_owned()),
        trace: true,
        ..HeartbeatConfig::default()
    };
    heartbeat::run(&config).unwrap()
}

#[test]
fn same_seed_gives_identical_trace_and_pcaps() {
    let (d1, d2, d3) = (scratch("det-1"), scratch("det-2"), scratch("det-3"));
    let r1 = run_into(&d1, 7);
    let r2 = run_into(&d2, 7);
    let r3 = run_into(&d3, 8);
    assert!(!r1.trace.is_empty());
    assert_eq!(r1.trace, r2.trace, "same seed, same trace");
    assert_ne!(r1.trace, r3.trace, "another seed draws other losses");
    for name in [
        "heartbeat-prober.pcap",
        "heartbeat-responder.pcap",
        "heartbeat-probes.csv",
    ] {
        let a = std::fs::read(d1.join(name)).unwrap();
        let b = std::fs::read(d2.join(name)).unwrap();
        assert!(a.len() > 24, "{name} has content");
        assert!(a == b, "{name} differs between two runs with the same seed");
    }
    assert_eq!(r1.csv(), r2.csv());
}

/// Runs tshark over a pcap and returns (frames, malformed-or-warning frames).
fn tshark_verdict(pcap: &Path) -> (usize, String) {
    let tshark = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
            "-e",
            "eth.type",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is needed to check our pcaps ({e}); install it: apt-get install tshark")
        });
    assert!(
        tshark.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&tshark.stderr)
    );
    let out = String::from_utf8(tshark.stdout).unwrap();
    let frames = out.lines().count();
    let bad: Vec<&str> = out
        .lines()
        .filter(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            !cols.get(1).unwrap_or(&"").is_empty()
                || !cols.get(2).unwrap_or(&"").is_empty()
                || cols.get(3) != Some(&"0x88b5")
        })
        .collect();
    (frames, bad.join("\n"))
}

#[test]
fn wireshark_reads_every_frame_of_our_pcaps() {
    let dir = scratch("tshark");
    let report = run_into(&dir, 3);
    for (name, end) in [
        ("heartbeat-prober.pcap", 0),
        ("heartbeat-responder.pcap", 1),
    ] {
        let (frames, bad) = tshark_verdict(&dir.join(name));
        assert!(bad.is_empty(), "{name}: frames tshark flags:\n{bad}");
        // The prober's capture sees everything it sent (lost or not) and every reply
        // that arrived; likewise for the responder.
        let sent_and_received = report.trace.iter().filter(|e| {
            e.node.0 == end
                && matches!(
                    e.kind,
                    vipe_platforms::sim::TraceKind::Transmit
                        | vipe_platforms::sim::TraceKind::Receive
                )
        });
        assert_eq!(frames, sent_and_received.count(), "{name}");
    }
}
