//! Table tests of the sans-IO TCP socket, in the style of smoltcp's socket tests: one
//! socket, explicit time, segments in, segments out. Each table row is one case; a
//! failure names its row.
//!
//! - `hostile_segments_in_every_state`: RST exact / in-window / out-of-window, SYN,
//!   out-of-window data, ACK of unsent data and a missing ACK bit, in every state from
//!   SYN-RECEIVED to TIME-WAIT (RFC 9293 3.10.7.4, RFC 5961);
//! - `option_negotiation`: every combination of the peer's SYN options against ours;
//! - `window_edges`: segments straddling and beyond the receive window's edges;
//! - `sequence_wrap`: transfers across the 2^32 wrap in both directions;
//! - `wire_input_is_refused_with_reasons`: bad checksums, impossible flags, options
//!   past the header, truncation.

use std::net::{Ipv4Addr, SocketAddrV4};

use vipe_protocols::tcp::{
    DropReason, Outgoing, Segment, SegmentError, SeqNumber, State, TcpConfig, TcpError, TcpOptions,
    TcpSocket,
};
use vipe_protocols::wire::tcp::{ACK, FIN, PSH, RST, SYN};
use vipe_rt::{Duration, Instant};

const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80);
const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
const ISS: u32 = 1000;
const IRS: u32 = 5000;

struct Fx {
    s: TcpSocket,
    now: Instant,
}

impl Fx {
    fn seg(&self, flags: u8, seq: SeqNumber, ack: SeqNumber) -> Segment {
        Segment {
            src_port: REMOTE.port(),
            dst_port: LOCAL.port(),
            seq,
            ack,
            flags,
            window: 65535,
            ..Segment::default()
        }
    }
    /// A segment from the peer at its next sequence number, acknowledging everything.
    fn next(&self, flags: u8) -> Segment {
        self.seg(flags, self.s.rcv_nxt(), self.s.snd_nxt())
    }
    fn input(&mut self, seg: Segment, payload: &[u8]) -> Result<(), DropReason> {
        self.s.on_segment(self.now, &seg, payload)
    }
    fn out(&mut self) -> Vec<Outgoing> {
        std::iter::from_fn(|| self.s.poll_transmit(self.now)).collect()
    }
    fn tick(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
    }
}

fn config() -> TcpConfig {
    TcpConfig {
        timestamps: false,
        sack: false,
        window_scaling: false,
        delayed_ack: None,
        msl: Duration::from_secs(1),
        ..TcpConfig::default()
    }
}

fn syn_received() -> Fx {
    let mut s = TcpSocket::new(config());
    s.listen(LOCAL, SeqNumber(ISS)).unwrap();
    s.set_remote(REMOTE);
    let mut fx = Fx {
        s,
        now: Instant::from_millis(10),
    };
    let mut syn = fx.seg(SYN, SeqNumber(IRS), SeqNumber(0));
    syn.options.mss = Some(1000);
    fx.input(syn, &[]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].segment.flags, SYN | ACK);
    fx
}

fn established() -> Fx {
    let mut fx = syn_received();
    fx.tick(10);
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    assert_eq!(fx.s.state(), State::Established);
    assert!(fx.out().is_empty());
    fx
}

fn fin_wait_1() -> Fx {
    let mut fx = established();
    fx.s.close();
    let out = fx.out();
    assert_eq!(out[0].segment.flags, FIN | ACK);
    fx
}

fn fin_wait_2() -> Fx {
    let mut fx = fin_wait_1();
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    assert_eq!(fx.s.state(), State::FinWait2);
    fx
}

fn close_wait() -> Fx {
    let mut fx = established();
    let fin = fx.next(FIN | ACK);
    fx.input(fin, &[]).unwrap();
    fx.out();
    assert_eq!(fx.s.state(), State::CloseWait);
    fx
}

fn closing() -> Fx {
    let mut fx = fin_wait_1();
    let una = fx.s.snd_una();
    let fin = fx.seg(FIN | ACK, fx.s.rcv_nxt(), una);
    fx.input(fin, &[]).unwrap();
    fx.out();
    assert_eq!(fx.s.state(), State::Closing);
    fx
}

fn last_ack() -> Fx {
    let mut fx = close_wait();
    fx.s.close();
    fx.out();
    assert_eq!(fx.s.state(), State::LastAck);
    fx
}

fn time_wait() -> Fx {
    let mut fx = fin_wait_2();
    let fin = fx.next(FIN | ACK);
    fx.input(fin, &[]).unwrap();
    fx.out();
    assert_eq!(fx.s.state(), State::TimeWait);
    fx
}

type Setup = fn() -> Fx;

const STATES: [(&str, Setup); 8] = [
    ("SYN-RECEIVED", syn_received),
    ("ESTABLISHED", established),
    ("FIN-WAIT-1", fin_wait_1),
    ("FIN-WAIT-2", fin_wait_2),
    ("CLOSE-WAIT", close_wait),
    ("CLOSING", closing),
    ("LAST-ACK", last_ack),
    ("TIME-WAIT", time_wait),
];

/// What a hostile segment must do.
#[derive(Debug)]
enum Expect {
    /// Dropped for `reason`, answered with a bare ACK of RCV.NXT, state unchanged.
    DropAck(DropReason),
    /// Dropped for `reason`, nothing sent, state unchanged.
    DropSilent(DropReason),
    /// Dropped for `reason`, answered with a RST, state unchanged.
    DropRst(DropReason),
    /// Accepted: the connection ends, with this error.
    Reset(Option<TcpError>),
}

#[test]
fn hostile_segments_in_every_state() {
    let far = 1usize << 30;
    type Make = fn(&Fx, usize) -> (Segment, Vec<u8>);
    let attacks: [(&str, Make); 7] = [
        ("RST at RCV.NXT", |fx, _| (fx.next(RST), vec![])),
        ("RST in window", |fx, _| {
            (fx.seg(RST, fx.s.rcv_nxt() + 1, SeqNumber(0)), vec![])
        }),
        ("RST out of window", |fx, far| {
            (fx.seg(RST, fx.s.rcv_nxt() + far, SeqNumber(0)), vec![])
        }),
        ("SYN", |fx, _| {
            (fx.seg(SYN, fx.s.rcv_nxt() + 5, SeqNumber(0)), vec![])
        }),
        ("data out of window", |fx, far| {
            (
                fx.seg(ACK | PSH, fx.s.rcv_nxt() + far, fx.s.snd_nxt()),
                vec![7; 10],
            )
        }),
        ("ACK of unsent data", |fx, _| {
            (fx.seg(ACK, fx.s.rcv_nxt(), fx.s.snd_nxt() + 1000), vec![])
        }),
        ("no ACK bit", |fx, _| {
            (fx.seg(PSH, fx.s.rcv_nxt(), SeqNumber(0)), vec![1; 5])
        }),
    ];
    let mut rows = 0;
    for (state_name, setup) in STATES {
        for (attack, make) in attacks {
            rows += 1;
            let mut fx = setup();
            let before = fx.s.state();
            let rcv_nxt = fx.s.rcv_nxt();
            let (seg, payload) = make(&fx, far);
            let result = fx.input(seg, &payload);
            let out = fx.out();
            let row = format!("{state_name} / {attack}: {result:?}, sent {out:?}");
            let synchronized_reset =
                !matches!(before, State::Closing | State::LastAck | State::TimeWait);
            let expect = match attack {
                "RST at RCV.NXT" => Expect::Reset(synchronized_reset.then_some(TcpError::Reset)),
                "RST in window" => Expect::DropAck(DropReason::RstChallenged),
                "RST out of window" => Expect::DropSilent(DropReason::RstOutOfWindow),
                "SYN" => Expect::DropAck(DropReason::SynChallenged),
                "data out of window" => Expect::DropAck(DropReason::OutOfWindow),
                "ACK of unsent data" if before == State::SynReceived => {
                    Expect::DropRst(DropReason::BadAckInSynReceived)
                }
                "ACK of unsent data" => Expect::DropAck(DropReason::AckOfUnsent),
                _ => Expect::DropSilent(DropReason::NoAck),
            };
            match expect {
                Expect::Reset(err) => {
                    assert_eq!(result, Ok(()), "{row}");
                    assert_eq!(fx.s.state(), State::Closed, "{row}");
                    assert_eq!(fx.s.error(), err, "{row}");
                    assert!(out.is_empty(), "{row}");
                }
                Expect::DropAck(reason) => {
                    assert_eq!(result, Err(reason), "{row}");
                    assert_eq!(fx.s.state(), before, "{row}");
                    assert_eq!(fx.s.rcv_nxt(), rcv_nxt, "{row}");
                    assert_eq!(out.len(), 1, "{row}");
                    let ack = &out[0].segment;
                    assert!(ack.has(ACK) && !ack.has(RST), "{row}");
                    assert_eq!(ack.ack, rcv_nxt, "{row}");
                    assert!(out[0].payload.is_empty(), "{row}");
                }
                Expect::DropSilent(reason) => {
                    assert_eq!(result, Err(reason), "{row}");
                    assert_eq!(fx.s.state(), before, "{row}");
                    assert!(out.is_empty(), "{row}");
                }
                Expect::DropRst(reason) => {
                    assert_eq!(result, Err(reason), "{row}");
                    assert_eq!(fx.s.state(), before, "{row}");
                    assert_eq!(out.len(), 1, "{row}");
                    assert!(out[0].segment.has(RST), "{row}");
                }
            }
        }
    }
    assert_eq!(rows, 56);
}

#[test]
fn challenge_acks_are_rate_limited() {
    let mut fx = established();
    let mut acks = 0;
    for i in 0..50 {
        let rst = fx.seg(RST, fx.s.rcv_nxt() + 1 + i, SeqNumber(0));
        assert_eq!(fx.input(rst, &[]), Err(DropReason::RstChallenged));
        acks += fx.out().len();
    }
    assert_eq!(acks, 10, "the default limit is 10 per second");
    fx.tick(1001);
    let rst = fx.seg(RST, fx.s.rcv_nxt() + 1, SeqNumber(0));
    let _ = fx.input(rst, &[]);
    assert_eq!(fx.out().len(), 1, "a new second allows more");
}

#[test]
fn option_negotiation() {
    let mut rows = 0;
    for ours in 0..2u8 {
        for bits in 0..16u8 {
            rows += 1;
            let (mss, ws, sack, ts) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
            let cfg = TcpConfig {
                window_scaling: ours == 1,
                sack: ours == 1,
                timestamps: ours == 1,
                recv_buffer: 1 << 20,
                ..TcpConfig::default()
            };
            let mut s = TcpSocket::new(cfg);
            s.listen(LOCAL, SeqNumber(ISS)).unwrap();
            s.set_remote(REMOTE);
            let syn = Segment {
                src_port: REMOTE.port(),
                dst_port: LOCAL.port(),
                seq: SeqNumber(IRS),
                flags: SYN,
                window: 65535,
                options: TcpOptions {
                    mss: mss.then_some(1200),
                    window_scale: ws.then_some(9),
                    sack_permitted: sack,
                    timestamps: ts.then_some((77, 0)),
                    ..TcpOptions::default()
                },
                ..Segment::default()
            };
            let now = Instant::from_millis(5);
            s.on_segment(now, &syn, &[]).unwrap();
            let synack = s.poll_transmit(now).unwrap().segment;
            let row =
                format!("ours {ours}, peer mss {mss} ws {ws} sack {sack} ts {ts}: {synack:?}");
            let on = ours == 1;
            // The SYN-ACK carries an option only if both sides want it (RFC 7323 1.3,
            // RFC 2018 2), and always our MSS.
            assert_eq!(synack.options.mss, Some(1460), "{row}");
            assert_eq!(synack.options.window_scale.is_some(), on && ws, "{row}");
            assert_eq!(synack.options.sack_permitted, on && sack, "{row}");
            assert_eq!(
                synack.options.timestamps.map(|t| t.1),
                (on && ts).then_some(77),
                "{row}"
            );
            assert_eq!(s.window_scaling().is_some(), on && ws, "{row}");
            if on && ws {
                assert_eq!(s.window_scaling(), Some((5, 9)), "{row}");
            }
            assert_eq!(s.sack_enabled(), on && sack, "{row}");
            assert_eq!(s.timestamps_enabled(), on && ts, "{row}");
            // MSS: 536 when absent (RFC 9293 MUST-15), less 12 for timestamps.
            let mss_used = if mss { 1200 } else { 536 } - if on && ts { 12 } else { 0 };
            assert_eq!(s.send_mss(), mss_used, "{row}");
        }
    }
    assert_eq!(rows, 32);
}

#[test]
fn window_edges() {
    // (name, offset from RCV.NXT, length, accepted bytes in order, drop?)
    let wnd = 65535usize;
    let rows: [(&str, i64, usize, usize, Option<DropReason>); 8] = [
        ("at RCV.NXT", 0, 100, 100, None),
        ("straddles the left edge", -50, 100, 50, None),
        ("entirely old", -200, 100, 0, Some(DropReason::OutOfWindow)),
        (
            "ends at the left edge",
            -100,
            100,
            0,
            Some(DropReason::OutOfWindow),
        ),
        (
            "beyond the right edge",
            wnd as i64,
            10,
            0,
            Some(DropReason::OutOfWindow),
        ),
        ("straddles the right edge", wnd as i64 - 5, 10, 0, None),
        ("last byte of the window", wnd as i64 - 1, 1, 0, None),
        ("far ahead", 1 << 31, 10, 0, Some(DropReason::OutOfWindow)),
    ];
    for (name, offset, len, in_order, drop) in rows {
        let mut fx = established();
        let seq = SeqNumber(fx.s.rcv_nxt().0.wrapping_add(offset as u32));
        let seg = fx.seg(ACK, seq, fx.s.snd_nxt());
        let result = fx.input(seg, &vec![9; len]);
        let row = format!("{name}: {result:?}");
        assert_eq!(result.err(), drop, "{row}");
        assert_eq!(fx.s.recv_queue(), in_order, "{row}");
        assert_eq!(fx.s.state(), State::Established, "{row}");
    }
}

#[test]
fn zero_window_still_takes_acks_and_rsts() {
    let cfg = TcpConfig {
        recv_buffer: 1000,
        ..config()
    };
    let mut s = TcpSocket::new(cfg);
    s.listen(LOCAL, SeqNumber(ISS)).unwrap();
    s.set_remote(REMOTE);
    let mut fx = Fx {
        s,
        now: Instant::ZERO,
    };
    let syn = fx.seg(SYN, SeqNumber(IRS), SeqNumber(0));
    fx.input(syn, &[]).unwrap();
    fx.out();
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    let data = fx.next(ACK | PSH);
    fx.input(data, &[1; 1000]).unwrap();
    let out = fx.out();
    assert_eq!(out.last().unwrap().segment.window, 0);
    assert_eq!(fx.s.rcv_wnd(), 0);
    // More data is refused but its ACK is processed.
    fx.s.send(b"hello").unwrap();
    let sent = fx.out();
    assert_eq!(sent[0].payload, b"hello");
    let more = fx.next(ACK | PSH);
    assert_eq!(fx.input(more, &[2; 10]), Ok(()));
    assert_eq!(fx.s.send_queue(), 0, "the ACK on refused data was taken");
    assert_eq!(fx.s.recv_queue(), 1000);
    // A RST at RCV.NXT still resets.
    let rst = fx.next(RST);
    assert_eq!(fx.input(rst, &[]), Ok(()));
    assert_eq!(fx.s.error(), Some(TcpError::Reset));
}

fn transfer_across_wrap(iss: u32, irs: u32) {
    let mut a = TcpSocket::new(TcpConfig::default());
    let mut b = TcpSocket::new(TcpConfig::default());
    b.listen(LOCAL, SeqNumber(irs)).unwrap();
    b.set_remote(REMOTE);
    let mut now = Instant::ZERO;
    a.connect(now, REMOTE, LOCAL, SeqNumber(iss)).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut back = Vec::new();
    for _ in 0..100_000 {
        if a.state() == State::Established && sent < data.len() {
            sent += a.send(&data[sent..]).unwrap();
            if sent == data.len() {
                a.close();
            }
        }
        if b.state() == State::Established {
            b.send(b"pong").unwrap();
        }
        let mut moved = false;
        while let Some(o) = a.poll_transmit(now) {
            moved = true;
            let _ = b.on_segment(now, &o.segment, &o.payload);
        }
        while let Some(o) = b.poll_transmit(now) {
            moved = true;
            let _ = a.on_segment(now, &o.segment, &o.payload);
        }
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = b.recv(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        while let Ok(n @ 1..) = a.recv(&mut buf) {
            back.extend_from_slice(&buf[..n]);
        }
        if b.is_finished() && got.len() == data.len() {
            break;
        }
        if !moved {
            now = [a.poll_at(), b.poll_at()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now + Duration::from_millis(1))
                .max(now + Duration::from_millis(1));
        }
    }
    assert_eq!(got.len(), data.len(), "iss {iss} irs {irs}");
    assert!(got == data, "iss {iss} irs {irs}: bytes differ");
    assert!(!back.is_empty());
    assert_eq!(a.state(), State::FinWait2, "iss {iss} irs {irs}");
}

#[test]
fn sequence_wrap() {
    for (iss, irs) in [
        (u32::MAX - 1000, 5),
        (7, u32::MAX - 10),
        (u32::MAX - 150_000, u32::MAX - 3),
        (u32::MAX, u32::MAX),
    ] {
        transfer_across_wrap(iss, irs);
    }
}

#[test]
fn wire_input_is_refused_with_reasons() {
    let a = *REMOTE.ip();
    let b = *LOCAL.ip();
    let good = Segment {
        src_port: 1,
        dst_port: 2,
        seq: SeqNumber(1),
        flags: ACK,
        window: 100,
        ..Segment::default()
    };
    let ok = good.to_bytes(a, b, b"data");
    assert!(Segment::parse(a, b, &ok).is_ok());
    let mut bad_sum = ok.clone();
    bad_sum[20] ^= 0xff;
    let flags = |f: u8| Segment { flags: f, ..good }.to_bytes(a, b, &[]);
    // Options area with an MSS option running past the header.
    let mut past = good.to_bytes(a, b, &[]);
    past[12] = 6 << 4; // 24-byte header
    past.extend_from_slice(&[2, 8, 0, 0]);
    let fix = |mut v: Vec<u8>| {
        v[16] = 0;
        v[17] = 0;
        let sum = vipe_rt::checksum::pseudo_header_v4(a.octets(), b.octets(), 6, v.len() as u16);
        let c = !vipe_rt::checksum::fold(vipe_rt::checksum::add(sum, &v));
        v[16..18].copy_from_slice(&c.to_be_bytes());
        v
    };
    let past = fix(past);
    let zero_port = Segment {
        src_port: 0,
        ..good
    }
    .to_bytes(a, b, &[]);
    let rows: [(&str, Vec<u8>, &str); 8] = [
        ("bad checksum", bad_sum, "bad TCP checksum"),
        ("SYN+FIN", flags(SYN | FIN), "impossible TCP flags"),
        ("SYN+RST", flags(SYN | RST), "impossible TCP flags"),
        ("no flags", flags(0), "impossible TCP flags"),
        ("FIN alone", flags(FIN), "impossible TCP flags"),
        ("option past the header", past, "TCP option past the header"),
        ("port zero", zero_port, "TCP port zero"),
        ("truncated", ok[..12].to_vec(), "truncated header"),
    ];
    for (name, bytes, reason) in rows {
        let e = Segment::parse(a, b, &bytes).unwrap_err();
        assert_eq!(e.reason(), reason, "{name}: {e:?}");
        assert!(
            matches!(e, SegmentError::Header(_)) == (name == "truncated"),
            "{name}"
        );
    }
}

mod random_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any segment into any state: no panic, and a refused segment leaves the
        /// connection's state and sequence variables as they were.
        #[test]
        fn refused_segments_change_nothing(
            state in 0usize..8,
            flags in any::<u8>(),
            seq_off in prop_oneof![Just(0i64), -3000i64..3000, any::<i32>().prop_map(i64::from)],
            ack_off in prop_oneof![Just(0i64), -3000i64..3000, any::<i32>().prop_map(i64::from)],
            len in 0usize..1500,
            window in any::<u16>(),
            ts in proptest::option::of((any::<u32>(), any::<u32>())),
            sack in proptest::option::of((any::<u32>(), any::<u32>())),
        ) {
            let mut fx = STATES[state].1();
            let seq = SeqNumber(fx.s.rcv_nxt().0.wrapping_add(seq_off as u32));
            let ack = SeqNumber(fx.s.snd_nxt().0.wrapping_add(ack_off as u32));
            let mut seg = fx.seg(flags, seq, ack);
            seg.window = window;
            seg.options.timestamps = ts;
            if let Some((l, r)) = sack {
                seg.options.push_sack(vipe_protocols::tcp::SackBlock {
                    left: SeqNumber(l),
                    right: SeqNumber(r),
                });
            }
            let before = (fx.s.state(), fx.s.rcv_nxt(), fx.s.snd_una(), fx.s.snd_nxt(), fx.s.recv_queue());
            let result = fx.input(seg, &vec![3; len]);
            if result.is_err() {
                let after = (fx.s.state(), fx.s.rcv_nxt(), fx.s.snd_una(), fx.s.snd_nxt(), fx.s.recv_queue());
                prop_assert_eq!(before, after, "{:?}", result);
            }
            // Whatever happened, the socket keeps working: drain it and run its timers.
            for _ in 0..50 {
                fx.out();
                fx.tick(500);
            }
        }
    }
}
