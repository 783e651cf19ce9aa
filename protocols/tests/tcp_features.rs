//! Sans-IO tests of the socket features RFC 9293 lists beyond the core state machine:
//! keep-alive (MUST-24..29, SHLD-12), ICMP errors (MUST-54..56, SHLD-25/26 with RFC 5927),
//! urgent data (MUST-30..33, MUST-62), and the receive window closing when the
//! application does not read (MUST-34..37 seen from the receiver).

use std::net::{Ipv4Addr, SocketAddrV4};

use vipe_protocols::tcp::{
    DropReason, IcmpError, KeepAlive, Outgoing, Segment, SeqNumber, State, TcpConfig, TcpError,
    TcpEvent, TcpSocket,
};
use vipe_protocols::wire::tcp::{ACK, FIN, PSH, SYN};
use vipe_rt::{Duration, Instant};

const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80);
const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
const ISS: u32 = 1000;
const IRS: u32 = 5000;
const URG: u8 = 0x20;

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
    fn next(&self, flags: u8) -> Segment {
        self.seg(flags, self.s.rcv_nxt(), self.s.snd_nxt())
    }
    fn input(&mut self, seg: Segment, payload: &[u8]) -> Result<(), DropReason> {
        self.s.on_segment(self.now, &seg, payload)
    }
    fn out(&mut self) -> Vec<Outgoing> {
        std::iter::from_fn(|| self.s.poll_transmit(self.now)).collect()
    }
    /// Advances to `at` through every deadline on the way, collecting what is sent.
    fn run_until(&mut self, at: Instant) -> Vec<(Instant, Outgoing)> {
        let mut sent = Vec::new();
        loop {
            let due = self.s.poll_at().map(|t| t.max(self.now));
            match due {
                Some(t) if t <= at => {
                    self.now = t;
                    sent.extend(self.out().into_iter().map(|o| (t, o)));
                    if self.s.poll_at().is_some_and(|n| n <= t) {
                        // Nothing left to do at t (poll_at never spins).
                        assert!(self.out().is_empty());
                        if self.s.poll_at().is_some_and(|n| n <= t) {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        self.now = at;
        sent.extend(self.out().into_iter().map(|o| (at, o)));
        sent
    }
    fn events(&mut self) -> Vec<TcpEvent> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }
}

fn config() -> TcpConfig {
    TcpConfig {
        timestamps: false,
        sack: false,
        window_scaling: false,
        delayed_ack: None,
        ..TcpConfig::default()
    }
}

fn established_with(config: TcpConfig) -> Fx {
    let mut s = TcpSocket::new(config);
    s.listen(LOCAL, SeqNumber(ISS)).unwrap();
    s.set_remote(REMOTE);
    let mut fx = Fx {
        s,
        now: Instant::from_millis(10),
    };
    let mut syn = fx.seg(SYN, SeqNumber(IRS), SeqNumber(0));
    syn.options.mss = Some(1000);
    fx.input(syn, &[]).unwrap();
    assert_eq!(fx.out().len(), 1);
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    assert_eq!(fx.s.state(), State::Established);
    fx.events();
    fx
}

fn syn_sent() -> Fx {
    let mut s = TcpSocket::new(config());
    let now = Instant::from_millis(10);
    s.connect(now, LOCAL, REMOTE, SeqNumber(ISS)).unwrap();
    let mut fx = Fx { s, now };
    let out = fx.out();
    assert_eq!(out[0].segment.flags, SYN);
    fx
}

const KA: KeepAlive = KeepAlive {
    idle: Duration::from_secs(10),
    interval: Duration::from_secs(1),
    probes: 3,
};

#[test]
fn keep_alive_is_off_by_default_and_its_default_idle_is_two_hours() {
    assert_eq!(TcpConfig::default().keep_alive, None);
    assert!(KeepAlive::default().idle >= Duration::from_secs(7200));
    let mut fx = established_with(config());
    let sent = fx.run_until(Instant::from_secs(3 * 3600));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(fx.s.state(), State::Established);
}

#[test]
fn keep_alive_probes_after_idle_without_data_and_an_answer_restarts_it() {
    let mut fx = established_with(TcpConfig {
        keep_alive: Some(KA),
        ..config()
    });
    let start = fx.now;
    let sent = fx.run_until(start + Duration::from_millis(10_500));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (at, probe) = &sent[0];
    assert_eq!(*at, start + KA.idle);
    assert_eq!(
        probe.segment.seq,
        fx.s.snd_nxt() - 1,
        "SEG.SEQ = SND.NXT - 1"
    );
    assert!(probe.payload.is_empty(), "no garbage octet (SHLD-12)");
    assert_eq!(probe.segment.flags, ACK);
    // The peer answers with an ACK: quiet again for a whole idle time.
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    let answered = fx.now;
    let sent = fx.run_until(answered + KA.idle - Duration::from_millis(1));
    assert!(sent.is_empty(), "{sent:?}");
    let sent = fx.run_until(answered + KA.idle);
    assert_eq!(sent.len(), 1);
    assert_eq!(fx.s.stats().keepalives, 2);
}

#[test]
fn unanswered_keep_alives_time_the_connection_out_after_the_configured_probes() {
    let mut fx = established_with(TcpConfig {
        keep_alive: Some(KA),
        ..config()
    });
    let start = fx.now;
    // One lost probe is not a dead peer (MUST-29): still open after two.
    let sent = fx.run_until(start + KA.idle + KA.interval);
    assert_eq!(sent.len(), 2);
    assert_eq!(fx.s.state(), State::Established);
    let sent = fx.run_until(start + KA.idle + KA.interval.saturating_mul(3));
    assert_eq!(
        sent.len(),
        1,
        "third probe, then the connection is given up"
    );
    assert_eq!(fx.s.state(), State::Closed);
    assert_eq!(fx.s.error(), Some(TcpError::TimedOut));
    assert!(fx.events().contains(&TcpEvent::Reset));
}

#[test]
fn no_keep_alive_while_data_is_outstanding_and_the_application_can_switch_it() {
    let mut fx = established_with(config());
    fx.s.set_keep_alive(fx.now, Some(KA));
    fx.s.send(b"hello").unwrap();
    let sent = fx.out();
    assert_eq!(sent[0].payload, b"hello");
    // The data are never acknowledged: only retransmissions go out, no probe.
    let sent = fx.run_until(fx.now + Duration::from_secs(25));
    assert!(sent.iter().all(|(_, o)| o.payload == b"hello"), "{sent:?}");
    assert_eq!(fx.s.stats().keepalives, 0);
    // Switched off, an idle connection stays silent.
    let mut fx = established_with(TcpConfig {
        keep_alive: Some(KA),
        ..config()
    });
    fx.s.set_keep_alive(fx.now, None);
    assert!(fx.run_until(fx.now + Duration::from_secs(60)).is_empty());
}

#[test]
fn icmp_errors_follow_rfc_5927() {
    // (state, kind, quoted sequence offset from SND.UNA, accepted, state after, error)
    type Row = (&'static str, IcmpError, u32, bool, State, Option<TcpError>);
    let rows: [Row; 6] = [
        (
            "SYN-SENT hard",
            IcmpError::Hard,
            0,
            true,
            State::Closed,
            Some(TcpError::Unreachable),
        ),
        (
            "SYN-SENT soft",
            IcmpError::Soft,
            0,
            true,
            State::SynSent,
            None,
        ),
        (
            "SYN-SENT hard, wrong seq",
            IcmpError::Hard,
            7,
            false,
            State::SynSent,
            None,
        ),
        (
            "ESTABLISHED hard",
            IcmpError::Hard,
            0,
            true,
            State::Established,
            None,
        ),
        (
            "ESTABLISHED soft",
            IcmpError::Soft,
            0,
            true,
            State::Established,
            None,
        ),
        (
            "ESTABLISHED soft, seq past SND.MAX",
            IcmpError::Soft,
            500,
            false,
            State::Established,
            None,
        ),
    ];
    for (name, kind, offset, accepted, after, error) in rows {
        let mut fx = if name.starts_with("SYN-SENT") {
            syn_sent()
        } else {
            let mut fx = established_with(config());
            fx.s.send(&[7; 100]).unwrap();
            fx.out();
            fx
        };
        fx.events();
        let seq = fx.s.snd_una() + offset as usize;
        let result = fx.s.on_icmp_error(kind, seq);
        assert_eq!(result.is_ok(), accepted, "{name}: {result:?}");
        if !accepted {
            assert_eq!(result, Err(DropReason::IcmpOutOfWindow), "{name}");
        }
        assert_eq!(fx.s.state(), after, "{name}");
        assert_eq!(fx.s.error(), error, "{name}");
        let events = fx.events();
        match (accepted, error) {
            (true, Some(_)) => assert!(events.contains(&TcpEvent::Reset), "{name}: {events:?}"),
            (true, None) => {
                assert!(events.contains(&TcpEvent::SoftError), "{name}: {events:?}");
                assert_eq!(fx.s.soft_error(), Some(kind), "{name}");
            }
            (false, _) => assert!(events.is_empty(), "{name}: {events:?}"),
        }
    }
}

#[test]
fn icmp_types_are_classified_as_rfc_1122_and_5927_say() {
    let hard = [(3, 2), (3, 3), (3, 9), (3, 10), (3, 13)];
    let soft = [
        (3, 0),
        (3, 1),
        (3, 4),
        (3, 5),
        (3, 6),
        (3, 7),
        (11, 0),
        (11, 1),
        (12, 0),
    ];
    for (t, c) in hard {
        assert_eq!(IcmpError::classify(t, c), Some(IcmpError::Hard), "{t}/{c}");
    }
    for (t, c) in soft {
        assert_eq!(IcmpError::classify(t, c), Some(IcmpError::Soft), "{t}/{c}");
    }
    // Source quench (MUST-55), echo, redirect: not for TCP.
    for (t, c) in [(4, 0), (0, 0), (8, 0), (5, 1)] {
        assert_eq!(IcmpError::classify(t, c), None, "{t}/{c}");
    }
}

#[test]
fn urgent_data_sent_carry_a_pointer_past_their_last_octet() {
    let mut fx = established_with(config());
    fx.s.send(&[1; 300]).unwrap();
    fx.s.send_urgent(&[2; 50]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 1);
    let seg = &out[0].segment;
    assert_ne!(seg.flags & URG, 0);
    // MUST-62: the pointer names the first octet after the urgent data.
    assert_eq!(usize::from(seg.urgent), 350);
    // Once acknowledged, no more URG.
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    fx.s.send(&[3; 10]).unwrap();
    let out = fx.out();
    assert_eq!(out[0].segment.flags & URG, 0);
}

#[test]
fn urgent_data_received_are_reported_with_how_much_remains() {
    let mut fx = established_with(config());
    let mut seg = fx.next(ACK | URG);
    seg.urgent = 80;
    fx.input(seg, &[9; 100]).unwrap();
    let events = fx.events();
    assert!(events.contains(&TcpEvent::Urgent), "{events:?}");
    assert_eq!(fx.s.urgent_pending(), 80);
    let mut buf = [0u8; 30];
    assert_eq!(fx.s.recv(&mut buf).unwrap(), 30);
    assert_eq!(
        fx.s.urgent_pending(),
        50,
        "MUST-33: how much urgent data remain"
    );
    let mut buf = [0u8; 100];
    fx.s.recv(&mut buf).unwrap();
    assert_eq!(fx.s.urgent_pending(), 0);
    // A pointer that is not further on is not news.
    let mut seg = fx.next(ACK | URG);
    seg.urgent = 0;
    fx.input(seg, &[1; 10]).unwrap();
    assert!(!fx.events().contains(&TcpEvent::Urgent));
}

#[test]
fn the_window_closes_when_the_application_does_not_read_and_reopens_when_it_does() {
    let mut fx = established_with(TcpConfig {
        recv_buffer: 4000,
        ..config()
    });
    let mut windows = Vec::new();
    for _ in 0..4 {
        let seg = fx.next(ACK);
        fx.input(seg, &[5; 1000]).unwrap();
        let out = fx.out();
        windows.push(out.last().unwrap().segment.window);
    }
    assert_eq!(windows, [3000, 2000, 1000, 0]);
    // More data into a zero window: its ACK is processed, its bytes are not taken
    // (RFC 9293 3.10.7.4), and the answer still offers window 0.
    let seg = fx.next(ACK);
    let before = fx.s.rcv_nxt();
    let _ = fx.input(seg, &[5; 100]);
    assert_eq!(fx.s.rcv_nxt(), before);
    assert_eq!(fx.s.recv_queue(), 4000);
    let out = fx.out();
    assert_eq!(out.last().unwrap().segment.window, 0);
    // The application reads half: a window update announces the room.
    let mut buf = [0u8; 2000];
    assert_eq!(fx.s.recv(&mut buf).unwrap(), 2000);
    let out = fx.out();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].segment.window, 2000);
}

#[test]
fn the_application_hears_of_trouble_at_r1_long_before_r2() {
    let mut fx = established_with(config());
    assert_eq!(
        TcpConfig::default().r1_timeouts,
        3,
        "SHLD-10: R1 of 3 retransmissions"
    );
    fx.s.send(b"lost").unwrap();
    fx.out();
    let mut stalled_at = None;
    let start = fx.now;
    while fx.now < start + Duration::from_secs(20) {
        let at = fx.s.poll_at().unwrap();
        fx.now = at;
        fx.out();
        if fx.events().contains(&TcpEvent::Stalled) {
            assert!(stalled_at.is_none(), "told once");
            stalled_at = Some(fx.s.stats().timeouts);
        }
    }
    assert_eq!(stalled_at, Some(3));
    assert_eq!(
        fx.s.state(),
        State::Established,
        "R1 does not end the connection"
    );
}

/// Tail loss probe: the ACK of a whole flight is lost; instead of waiting for the
/// retransmission timeout, the last segment goes again after max(2·SRTT, 10 ms), once.
#[test]
fn a_lost_final_ack_is_recovered_by_a_tail_probe_not_a_timeout() {
    let mut fx = established_with(TcpConfig {
        tail_loss_probe: true,
        ..config()
    });
    // One round trip of 1 ms gives an RTT sample.
    fx.s.send(&[1; 1000]).unwrap();
    fx.out();
    fx.now += Duration::from_millis(1);
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    fx.out();
    // A flight of three segments whose ACK never comes.
    fx.s.send(&[2; 3000]).unwrap();
    let sent_at = fx.now;
    let flight = fx.out();
    assert_eq!(flight.len(), 3);
    let last = flight.last().unwrap().segment.seq;
    let rto = fx.s.rto();
    let sent = fx.run_until(sent_at + rto - Duration::from_millis(1));
    assert_eq!(sent.len(), 1, "one probe before the RTO: {sent:?}");
    let (at, probe) = &sent[0];
    assert_eq!(
        *at,
        sent_at + Duration::from_millis(10),
        "max(2·SRTT, 10 ms)"
    );
    assert_eq!(probe.segment.seq, last, "the last segment again");
    assert_eq!(fx.s.stats().tail_probes, 1);
    assert_eq!(fx.s.stats().timeouts, 0);
    // Its ACK covers the flight: no timeout, no reduction of cwnd.
    let cwnd = fx.s.cwnd();
    let ack = fx.next(ACK);
    fx.input(ack, &[]).unwrap();
    assert_eq!(fx.s.snd_una(), fx.s.snd_nxt());
    assert!(fx.s.cwnd() >= cwnd);
    assert!(fx.run_until(fx.now + Duration::from_secs(5)).is_empty());
}

/// TCP segmentation offload (`TcpConfig::tso_max`): new data leaves as one segment
/// standing for several MSS-sized ones (`gso_size` = the MSS), as much as cwnd and the
/// window allow; a short last segment obeys Nagle as if sent alone; PSH and FIN sit on
/// the burst that ends the data; sequence numbers and counters stay byte-exact.
#[test]
fn tso_bursts_carry_the_mss_and_keep_nagle_psh_and_fin() {
    let mut fx = established_with(TcpConfig {
        tso_max: 64 * 1024,
        initial_window: Some(10),
        ..config()
    });
    let data: Vec<u8> = (0..12_000u32).map(|i| (i % 251) as u8).collect();
    fx.s.send(&data[..9500]).unwrap();
    let out = fx.out();
    // 9500 bytes fit cwnd (10 × 1000): nine full segments in one burst; the 500-byte
    // tail waits for the ACK (Nagle), as it would after nine ordinary segments.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].gso_size, 1000);
    assert_eq!(out[0].payload, &data[..9000]);
    assert_eq!(out[0].segment.seq, SeqNumber(ISS + 1));
    assert!(!out[0].segment.has(PSH) && !out[0].segment.has(FIN));
    assert_eq!(fx.s.snd_nxt(), SeqNumber(ISS + 1 + 9000));
    assert_eq!(fx.s.stats().tso_segments_sent, 1);
    let sent_before = fx.s.stats().segments_sent;
    // The ACK for all of it releases the tail: an ordinary segment with PSH.
    let ack = fx.seg(ACK, SeqNumber(IRS + 1), SeqNumber(ISS + 1 + 9000));
    fx.input(ack, &[]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].gso_size, 0);
    assert_eq!(out[0].payload, &data[9000..9500]);
    assert!(out[0].segment.has(PSH));
    assert_eq!(fx.s.stats().segments_sent, sent_before + 1);
    // The rest and a close: one burst of 2500 (full, full, short) with PSH and FIN, the
    // short last segment no longer held (the FIN ends the stream).
    let ack = fx.seg(ACK, SeqNumber(IRS + 1), SeqNumber(ISS + 1 + 9500));
    fx.input(ack, &[]).unwrap();
    fx.s.send(&data[9500..]).unwrap();
    fx.s.close();
    let out = fx.out();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].gso_size, 1000);
    assert_eq!(out[0].payload, &data[9500..]);
    assert!(out[0].segment.has(PSH) && out[0].segment.has(FIN));
    assert_eq!(fx.s.snd_nxt(), SeqNumber(ISS + 1 + 12_000 + 1));
    // Without the option the same data leaves MSS by MSS.
    let mut plain = established_with(TcpConfig {
        initial_window: Some(10),
        ..config()
    });
    plain.s.send(&data[..9500]).unwrap();
    let out = plain.out();
    assert_eq!(out.len(), 9);
    assert!(
        out.iter()
            .all(|o| o.gso_size == 0 && o.payload.len() == 1000)
    );
}

/// Retransmissions (the tail loss probe, then the timeout's) are MSS-sized, even with TSO.
#[test]
fn tso_retransmissions_stay_mss_sized() {
    let mut fx = established_with(TcpConfig {
        tso_max: 64 * 1024,
        initial_window: Some(10),
        ..config()
    });
    fx.s.send(&[5; 5000]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload.len(), 5000);
    let sent = fx.run_until(fx.now + Duration::from_secs(2));
    assert!(!sent.is_empty(), "nothing retransmitted");
    for (_, o) in &sent {
        assert!(o.payload.len() <= 1000 && o.gso_size == 0, "{o:?}");
    }
    // The tail loss probe resends the last segment; the timeout the first.
    assert_eq!(sent[0].1.segment.seq, SeqNumber(ISS + 1 + 4000));
    assert!(
        sent.iter()
            .any(|(_, o)| o.segment.seq == SeqNumber(ISS + 1) && o.payload.len() == 1000),
        "{sent:?}"
    );
}

/// While urgent data is pending, new data leaves MSS by MSS even with TSO (one urgent
/// pointer copied to every segment of a burst would be wrong for all but the first).
#[test]
fn tso_is_off_while_urgent_data_is_pending() {
    let mut fx = established_with(TcpConfig {
        tso_max: 64 * 1024,
        initial_window: Some(10),
        ..config()
    });
    fx.s.send_urgent(&[9; 3000]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(
        out.iter()
            .all(|o| o.gso_size == 0 && o.payload.len() == 1000)
    );
}
