//! Generated dispatch vs a hand-written direct call on the same protocol struct, plus the
//! full path of a frame through a node for reference.
//! `cargo bench -p vipe-rt --bench dispatch`; instruction counts: `bench/dispatch-icount.sh`.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use vipe_rt::prelude::*;
use vipe_rt::testing::Harness;

#[path = "support/dispatch_subject.rs"]
mod subject;
use subject::*;

fn dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("packet event");
    let mut h = Harness::new(Subject::default());
    group.bench_function("generated dispatch", |b| b.iter(|| via_dispatch(&mut h, 1)));
    group.bench_function("direct call", |b| b.iter(|| via_direct_call(&mut h, 1)));
    group.bench_function("generated dispatch, last port", |b| {
        b.iter(|| last_port_via_dispatch(&mut h, 1))
    });
    group.bench_function("direct call, last port", |b| {
        b.iter(|| last_port_via_direct_call(&mut h, 1))
    });

    let mut node = Node::new(NodeId(0));
    let s = node.add(Subject::default());
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, s.port(SubjectPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    group.bench_function("through a node (wiring, FIFO, fault guard)", |b| {
        b.iter(|| {
            let pkt = node.pool().alloc();
            node.handle_input(Instant::ZERO, dev, pkt);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("timer event");
    group.bench_function("generated dispatch", |b| {
        b.iter(|| timers_via_dispatch(&mut h, 1))
    });
    group.bench_function("direct call", |b| {
        b.iter(|| timers_via_direct_call(&mut h, 1))
    });
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
