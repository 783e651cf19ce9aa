//! Timer queues: the inline form (up to 8 timers, linear scans) that a simulated node's
//! instance nearly always uses, and the heap form beyond.
//!
//! `cargo bench -p vipe-rt --bench timers`
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use vipe_rt::timer::TimerQueue;
use vipe_rt::{Duration, Instant};

/// `armed` periodic timers with different periods; each iteration fires the next one.
fn periodic(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer queue: fire the next periodic timer");
    for armed in [1u32, 2, 8, 100] {
        let mut q = TimerQueue::new();
        let mut seq = 0;
        for k in 0..armed {
            seq += 1;
            q.arm(
                k,
                Instant::ZERO,
                Some(Duration::from_micros(10 + u64::from(k))),
                seq,
            );
        }
        group.bench_with_input(BenchmarkId::from_parameter(armed), &armed, |b, _| {
            b.iter(|| {
                let (now, _) = q.peek().unwrap();
                seq += 1;
                q.pop_due(now, seq).unwrap().key
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("timer queue: arm, then fire, one-shot");
    for armed in [0u32, 1, 7, 99] {
        let mut q = TimerQueue::new();
        let mut seq = 0;
        for k in 0..armed {
            seq += 1;
            q.arm(k + 1, Instant::from_secs(3600), None, seq);
        }
        let mut now = Instant::ZERO;
        group.bench_with_input(BenchmarkId::new("others armed", armed), &armed, |b, _| {
            b.iter(|| {
                seq += 1;
                now += Duration::from_micros(1);
                q.arm(0, now, None, seq);
                seq += 1;
                q.pop_due(now, seq).unwrap().key
            })
        });
    }
    group.finish();
}

criterion_group!(benches, periodic);
criterion_main!(benches);
