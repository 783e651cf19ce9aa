//! The sim-scale workload: deterministic from its seed at 10^4 nodes, and it keeps the
//! number of datagrams in flight it was asked to.

use vipe_examples::sim_scale::{SimScaleConfig, run};

#[test]
fn the_same_seed_gives_the_same_digest_at_ten_thousand_nodes_and_another_seed_another() {
    let config = SimScaleConfig {
        nodes: 10_000,
        in_flight: 2,
        sim_seconds: 0.3,
        ..SimScaleConfig::default()
    };
    let a = run(&config, |_| {}).unwrap();
    let b = run(&config, |_| {}).unwrap();
    assert_eq!((a.events, a.delivered), (b.events, b.delivered));
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_ne!(a.trace_digest, 0);
    let c = run(&SimScaleConfig { seed: 2, ..config }, |_| {}).unwrap();
    assert_ne!(c.trace_digest, a.trace_digest);
}

#[test]
fn datagrams_in_flight_stay_as_many_as_asked() {
    // 100 nodes × 4 in flight, 10 ms each way: ~400 / 10 ms = 40 000 deliveries per second.
    let config = SimScaleConfig {
        nodes: 100,
        in_flight: 4,
        latency: "const:10ms".parse().unwrap(),
        sim_seconds: 1.0,
        digest: false,
        ..SimScaleConfig::default()
    };
    let r = run(&config, |_| {}).unwrap();
    assert_eq!(r.delivered, 400 * 100);
    assert_eq!(r.trace_digest, 0);
    let idle = run(
        &SimScaleConfig {
            in_flight: 0,
            ..config.clone()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!((idle.delivered, idle.events), (0, 100));
    assert!(run(&SimScaleConfig { nodes: 0, ..config }, |_| {}).is_err());
}
