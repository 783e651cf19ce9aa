//! Shared by the dispatch benchmark and the instruction-count probe: one protocol, driven
//! either through the generated dispatch or by calling its handlers directly.

use std::hint::black_box;

use vipe_rt::prelude::*;
use vipe_rt::testing::Harness;

/// A protocol with several ports and timers, so the generated `match` has real arms.
#[protocol]
#[derive(Default)]
pub struct Subject {
    /// Bytes handled.
    pub bytes: u64,
    /// Packets per port.
    pub per_port: [u64; 4],
}

#[protocol]
impl Subject {
    #[on_packet(port = "lower")]
    fn lower(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        self.bytes += pkt.len() as u64;
        self.per_port[0] += 1;
    }

    #[on_packet(port = "upper")]
    fn upper(&mut self, _cx: &mut Cx<Self>, pkt: Packet, key: u16) {
        self.bytes += pkt.len() as u64 + u64::from(key);
        self.per_port[1] += 1;
    }

    #[on_packet(port = "control")]
    fn control(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        self.bytes += pkt.len() as u64;
        self.per_port[2] += 1;
    }

    #[on_packet(port = "monitor")]
    fn monitor(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        self.bytes += pkt.len() as u64;
        self.per_port[3] += 1;
    }

    #[on_timer]
    fn retransmit(&mut self, _cx: &mut Cx<Self>, seq: u32) {
        self.bytes += u64::from(seq);
    }
}

/// `n` packets through the generated dispatch, port chosen at run time.
#[inline(never)]
pub fn via_dispatch(h: &mut Harness<Subject>, n: u64) {
    for _ in 0..n {
        let pkt = h.with_cx(|_, cx| cx.alloc());
        let port = black_box(SubjectPort::Lower);
        h.deliver(port, pkt);
    }
}

/// `n` packets handed to the handler by a direct method call.
#[inline(never)]
pub fn via_direct_call(h: &mut Harness<Subject>, n: u64) {
    for _ in 0..n {
        let pkt = h.with_cx(|_, cx| cx.alloc());
        let _port = black_box(SubjectPort::Lower);
        h.with_cx(|s, cx| s.lower(cx, pkt));
    }
}

/// `n` packets through the generated dispatch to the last declared port.
#[inline(never)]
pub fn last_port_via_dispatch(h: &mut Harness<Subject>, n: u64) {
    for _ in 0..n {
        let pkt = h.with_cx(|_, cx| cx.alloc());
        let port = black_box(SubjectPort::Monitor);
        h.deliver(port, pkt);
    }
}

/// `n` packets handed to the last declared port's handler by a direct method call.
#[inline(never)]
pub fn last_port_via_direct_call(h: &mut Harness<Subject>, n: u64) {
    for _ in 0..n {
        let pkt = h.with_cx(|_, cx| cx.alloc());
        let _port = black_box(SubjectPort::Monitor);
        h.with_cx(|s, cx| s.monitor(cx, pkt));
    }
}

/// `n` timer events through the generated dispatch.
#[inline(never)]
pub fn timers_via_dispatch(h: &mut Harness<Subject>, n: u64) {
    for i in 0..n {
        h.fire(black_box(SubjectTimer::Retransmit(i as u32)));
    }
}

/// `n` timer events by direct call.
#[inline(never)]
pub fn timers_via_direct_call(h: &mut Harness<Subject>, n: u64) {
    for i in 0..n {
        let seq = black_box(i as u32);
        h.with_cx(|s, cx| s.retransmit(cx, seq));
    }
}
