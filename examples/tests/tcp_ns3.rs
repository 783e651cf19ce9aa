//! VIPE TCP against ns-3's own TCP NewReno inside ns-3 (`--features ns3`): the same
//! point-to-point link and drop-tail bottleneck, goodput within 10%, and the congestion
//! windows of both traced over time (CSV and figure written).

use std::path::Path;

use vipe_examples::tcp_ns3::{Comparison, SEGMENT, Setup, compare, write_results};
use vipe_rt::Duration;

fn check(setup: &Setup, name: &str) -> Comparison {
    let c = compare(setup).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("tcp_ns3")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let files = write_results(setup, &c, &dir).unwrap();
    for f in &files {
        assert!(
            std::fs::metadata(f).unwrap().len() > 0,
            "{} empty",
            f.display()
        );
    }
    let ratio = c.ratio();
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{name}: VIPE {:.3} Mbit/s against ns-3 {:.3} Mbit/s (ratio {ratio:.3})",
        c.vipe.goodput_bps / 1e6,
        c.ns3.goodput_bps / 1e6
    );
    // Both links are busy: at least 70% of the rate reaches the application.
    let span = (setup.duration - setup.start).as_secs_f64();
    for flow in [&c.vipe, &c.ns3] {
        assert!(
            flow.goodput_bps > 0.7 * setup.rate_bps as f64,
            "{name}: {:.3} Mbit/s over {span} s",
            flow.goodput_bps / 1e6
        );
    }
    // The windows saw losses (they came down several times) and stayed near what the
    // path holds: BDP plus queue, in packets, at most doubled by slow start.
    let bdp = setup.rate_bps as f64 * 2.0 * setup.delay.as_secs_f64() / 8.0 / 1502.0;
    let limit = 2.2 * (bdp + f64::from(setup.queue_packets)) * f64::from(SEGMENT);
    for (who, flow) in [("VIPE", &c.vipe), ("ns-3", &c.ns3)] {
        let drops = flow
            .cwnd
            .windows(2)
            .filter(|w| w[1].1 * 3 < w[0].1 * 2)
            .count();
        assert!(
            drops >= 3,
            "{name}: {who} cwnd came down only {drops} times"
        );
        let peak = flow.cwnd.iter().map(|p| p.1).max().unwrap() as f64;
        assert!(peak < limit, "{name}: {who} cwnd peaked at {peak} B");
    }
    assert!(c.vipe_sender.fast_retransmits > 0, "{:?}", c.vipe_sender);
    c
}

#[test]
fn vipe_tcp_matches_ns3_newreno_with_delayed_acks() {
    let setup = Setup {
        duration: Duration::from_secs(20),
        ..Setup::default()
    };
    check(&setup, "delayed-acks");
}

#[test]
fn vipe_tcp_matches_ns3_newreno_acking_every_segment_on_a_short_queue() {
    let setup = Setup {
        queue_packets: 5,
        duration: Duration::from_secs(20),
        ack_every_segment: true,
        ..Setup::default()
    };
    check(&setup, "every-ack-queue-5");
}
