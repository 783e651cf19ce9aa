//! The event queue alone, in the classic "hold" workload: `n` events pending; each step
//! pops the earliest and schedules one more at now + an exponential delay (mean 50 ms,
//! like the sim-scale workload's `exp:50ms`). Compares one global binary heap with the
//! simulator's timing wheel at 10^3 and 10^6 pending events.
//!
//! `cargo bench -p vipe-platforms --bench scheduler`
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vipe_platforms::sim::scheduler::{EventQueue, HeapQueue, WheelQueue};
use vipe_rt::{Duration, Instant, NodeRng};

const HOLDS: u64 = 1_000_000;

fn exp(rng: &mut NodeRng) -> Duration {
    Duration::from_nanos((-(1.0 - rng.f64()).ln() * 50e6) as u64)
}

fn filled<Q: EventQueue<u64>>(mut q: Q, n: usize) -> Q {
    let mut rng = NodeRng::seed_from_u64(1);
    for i in 0..n {
        q.push(Instant::ZERO + exp(&mut rng), i as u64);
    }
    q
}

fn hold<Q: EventQueue<u64>>(q: &mut Q, rng: &mut NodeRng, steps: u64) -> u64 {
    let mut sum = 0;
    for _ in 0..steps {
        let (now, item) = q.pop().expect("never empty");
        sum += item;
        q.push(now + exp(rng), item);
    }
    sum
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(HOLDS));
    group.sample_size(10);
    for n in [1_000usize, 1_000_000] {
        let mut heap = filled(HeapQueue::default(), n);
        let mut rng = NodeRng::seed_from_u64(2);
        // Warm up past the initial distribution into steady state.
        hold(&mut heap, &mut rng, 2 * n as u64);
        group.bench_with_input(BenchmarkId::new("binary-heap", n), &n, |b, _| {
            b.iter(|| hold(&mut heap, &mut rng, HOLDS))
        });
        let mut wheel = filled(WheelQueue::default(), n);
        hold(&mut wheel, &mut rng, 2 * n as u64);
        group.bench_with_input(BenchmarkId::new("timing-wheel", n), &n, |b, _| {
            b.iter(|| hold(&mut wheel, &mut rng, HOLDS))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
