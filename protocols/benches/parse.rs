//! Parsing Ethernet + IPv4 + TCP, hot cache, side by side with etherparse and smoltcp's
//! wire module; and TTL decrement with an incremental vs a full checksum.
//! `cargo bench -p vipe-protocols --bench parse`. Figures in docs/BENCHMARKS.md.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vipe_protocols::wire::ipv4::Ipv4HeaderView;

#[path = "support/parsers.rs"]
mod parsers;
use parsers::*;

fn parse(c: &mut Criterion) {
    let frame = tcp_frame();
    let expected = vipe(&frame);
    assert!(expected.is_some());
    for other in [
        vipe_checksum,
        etherparse_layers,
        etherparse_sliced,
        smoltcp_checked,
    ] {
        assert_eq!(
            other(&frame),
            expected,
            "every parser reads the same values"
        );
    }
    let mut g = c.benchmark_group("parse eth+ipv4+tcp");
    g.bench_function("vipe per layer", |b| b.iter(|| vipe(black_box(&frame))));
    g.bench_function("etherparse per layer (*HeaderSlice::from_slice)", |b| {
        b.iter(|| etherparse_layers(black_box(&frame)))
    });
    g.bench_function("etherparse SlicedPacket::from_ethernet", |b| {
        b.iter(|| etherparse_sliced(black_box(&frame)))
    });
    g.bench_function("vipe per layer + IPv4 checksum", |b| {
        b.iter(|| vipe_checksum(black_box(&frame)))
    });
    g.bench_function("smoltcp new_checked + IPv4 verify_checksum", |b| {
        b.iter(|| smoltcp_checked(black_box(&frame)))
    });
    g.finish();

    let mut g = c.benchmark_group("ttl decrement");
    let mut buf = tcp_frame();
    g.bench_function("incremental checksum (RFC 1624)", |b| {
        b.iter(|| {
            let mut ip = Ipv4HeaderView::parse(black_box(&mut buf[14..])).unwrap();
            let ttl = ip.ttl().wrapping_sub(1).max(1);
            ip.set_ttl_update_checksum(ttl);
            black_box(ip.checksum())
        })
    });
    let mut buf = tcp_frame();
    g.bench_function("full checksum recomputation", |b| {
        b.iter(|| {
            let mut ip = Ipv4HeaderView::parse(black_box(&mut buf[14..])).unwrap();
            let ttl = ip.ttl().wrapping_sub(1).max(1);
            ip.set_ttl(ttl);
            ip.fill_checksum();
            black_box(ip.checksum())
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
