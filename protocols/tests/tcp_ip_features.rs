//! Sans-IO tests of what TCP asks of and learns from IP: the Diffserv field (RFC 9293
//! MUST-48, SHLD-21..23), ECN (RFC 3168, SHLD-8) and path MTU discovery (RFC 1191,
//! SHLD-6); which SYNs may end TIME-WAIT (RFC 6191, SHLD-4); and delivery of in-order
//! bytes past the receive buffer.

use std::net::{Ipv4Addr, SocketAddrV4};

use vipe_protocols::tcp::{DropReason, Outgoing, Segment, SeqNumber, State, TcpConfig, TcpSocket};
use vipe_protocols::wire::tcp::{ACK, CWR, ECE, FIN, PSH, SYN};
use vipe_rt::{Duration, Instant};

const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80);
const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
const ISS: u32 = 1000;
const IRS: u32 = 5000;
const ECT0: u8 = 0b10;
const CE: u8 = 0b11;

struct Fx {
    s: TcpSocket,
    now: Instant,
    /// The peer sends timestamps (TSval 7).
    ts: bool,
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
            options: vipe_protocols::tcp::TcpOptions {
                timestamps: self.ts.then_some((7, 0)),
                ..Default::default()
            },
            ..Segment::default()
        }
    }
    /// An ACK of everything we sent, at the next sequence number.
    fn ack(&self, flags: u8) -> Segment {
        self.seg(ACK | flags, self.s.rcv_nxt(), self.s.snd_nxt())
    }
    fn input(&mut self, seg: Segment, payload: &[u8], tos: u8) -> Result<(), DropReason> {
        self.s.on_segment_with_tos(self.now, &seg, payload, tos)
    }
    fn out(&mut self) -> Vec<Outgoing> {
        std::iter::from_fn(|| self.s.poll_transmit(self.now)).collect()
    }
}

fn config() -> TcpConfig {
    TcpConfig {
        timestamps: false,
        sack: false,
        window_scaling: false,
        delayed_ack: None,
        initial_window: Some(10),
        ..TcpConfig::default()
    }
}

/// A passive connection; the peer's SYN has `syn_flags` besides SYN (ECE|CWR asks for
/// ECN). Returns it with what our SYN-ACK was.
fn passive(config: TcpConfig, syn_flags: u8) -> (Fx, Outgoing) {
    let ts = config.timestamps;
    let mut s = TcpSocket::new(config);
    s.listen(LOCAL, SeqNumber(ISS)).unwrap();
    s.set_remote(REMOTE);
    let mut fx = Fx {
        s,
        now: Instant::from_millis(10),
        ts,
    };
    let mut syn = fx.seg(SYN | syn_flags, SeqNumber(IRS), SeqNumber(0));
    syn.options.mss = Some(1000);
    fx.input(syn, &[], 0).unwrap();
    let mut out = fx.out();
    assert_eq!(out.len(), 1);
    let ack = fx.ack(0);
    fx.input(ack, &[], 0).unwrap();
    assert_eq!(fx.s.state(), State::Established);
    (fx, out.remove(0))
}

/// An active connection; the peer's SYN-ACK has `synack_flags` besides SYN|ACK.
fn active(config: TcpConfig, synack_flags: u8) -> (Fx, Outgoing) {
    let mut s = TcpSocket::new(config);
    let now = Instant::from_millis(10);
    s.connect(now, LOCAL, REMOTE, SeqNumber(ISS)).unwrap();
    let mut fx = Fx { s, now, ts: false };
    let mut out = fx.out();
    assert_eq!(out.len(), 1);
    let mut synack = fx.seg(SYN | ACK | synack_flags, SeqNumber(IRS), SeqNumber(ISS + 1));
    synack.options.mss = Some(1000);
    fx.input(synack, &[], 0).unwrap();
    assert_eq!(fx.s.state(), State::Established);
    fx.out(); // our ACK
    (fx, out.remove(0))
}

/// MUST-48 / SHLD-21..23: the configured Diffserv codepoint is on every segment from the
/// SYN-ACK on, and the application can change it mid-connection; ECN bits stay clear
/// without ECN. Every segment asks for DF (path MTU discovery is on by default).
#[test]
fn the_application_sets_the_diffserv_field() {
    let (mut fx, synack) = passive(
        TcpConfig {
            dscp: 10, // AF11
            ..config()
        },
        0,
    );
    assert_eq!(synack.tos, 10 << 2);
    assert!(synack.dont_fragment);
    fx.s.send(&[1; 500]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tos, 10 << 2, "DSCP 10, no ECT without ECN");
    let ack = fx.ack(0);
    fx.input(ack, &[], 0).unwrap();
    fx.s.set_dscp(46); // EF
    fx.s.send(&[2; 500]).unwrap();
    let out = fx.out();
    assert_eq!(out[0].tos, 46 << 2);
    assert!(out[0].dont_fragment);
    let mut off = TcpSocket::new(TcpConfig {
        path_mtu_discovery: false,
        ..config()
    });
    off.connect(fx.now, LOCAL, REMOTE, SeqNumber(ISS)).unwrap();
    let syn = off.poll_transmit(fx.now).unwrap();
    assert!(!syn.dont_fragment && syn.tos == 0);
}

/// SHLD-8 (RFC 3168), as the data sender: we ask for ECN on connect, the peer agrees;
/// new data carry ECT(0), retransmissions and pure ACKs do not; an ECN-Echo halves the
/// window once per window of data, without a retransmission, and the next new data
/// carry CWR.
#[test]
fn ecn_sender_marks_ect_and_halves_once_per_window_on_echo() {
    let cfg = TcpConfig {
        ecn: true,
        tail_loss_probe: false,
        ..config()
    };
    let (mut fx, syn) = active(cfg.clone(), ECE);
    assert_eq!(syn.segment.flags, SYN | ECE | CWR, "an ECN-setup SYN");
    assert_eq!(syn.tos & 0b11, 0, "no ECT on a SYN");
    assert!(fx.s.ecn_enabled());
    fx.s.send(&[7; 4000]).unwrap();
    let out = fx.out();
    assert_eq!(out.len(), 4);
    assert!(
        out.iter().all(|o| o.tos & 0b11 == ECT0),
        "new data are ECT(0)"
    );
    let cwnd = fx.s.cwnd();
    // The first segment is acknowledged with ECE: cwnd halves (from a flight of 4000),
    // nothing is retransmitted.
    let ack = fx.seg(ACK | ECE, fx.s.rcv_nxt(), SeqNumber(ISS + 1 + 1000));
    fx.input(ack, &[], 0).unwrap();
    assert_eq!(fx.s.cwnd(), 2000, "from cwnd {cwnd}: flight 4000 / 2");
    assert_eq!(fx.s.stats().ecn_reductions, 1);
    assert_eq!(fx.s.stats().retransmits, 0);
    // A second ECE from the same window does not reduce again.
    let ack = fx.seg(ACK | ECE, fx.s.rcv_nxt(), SeqNumber(ISS + 1 + 2000));
    fx.input(ack, &[], 0).unwrap();
    assert_eq!(fx.s.stats().ecn_reductions, 1);
    // The next new data carry CWR, once.
    fx.s.send(&[8; 2000]).unwrap();
    let out = fx.out();
    assert!(!out.is_empty());
    assert_eq!(out[0].segment.flags & CWR, CWR);
    assert!(out[1..].iter().all(|o| o.segment.flags & CWR == 0));
    // A retransmission (after a timeout) is not ECT.
    fx.now += Duration::from_secs(2);
    let rtx = fx.out();
    assert!(!rtx.is_empty() && rtx[0].segment.seq == fx.s.snd_una());
    assert_eq!(rtx[0].tos & 0b11, 0, "no ECT on a retransmission");
    // A peer that does not agree (SYN-ACK without ECE): no ECN.
    let (mut fx, _) = active(cfg, 0);
    assert!(!fx.s.ecn_enabled());
    fx.s.send(&[7; 100]).unwrap();
    assert_eq!(fx.out()[0].tos & 0b11, 0);
}

/// SHLD-8 (RFC 3168), as the receiver: a peer's ECN-setup SYN is answered with ECE
/// (not CWR); a CE mark on arriving data makes every ACK carry ECE until the peer's
/// CWR; our pure ACKs are never ECT. Without ECN a CE mark changes nothing.
#[test]
fn ecn_receiver_echoes_ce_until_cwr() {
    let (mut fx, synack) = passive(config(), ECE | CWR);
    assert_eq!(synack.segment.flags, SYN | ACK | ECE);
    assert!(fx.s.ecn_enabled());
    let data = |fx: &Fx, flags: u8| fx.seg(ACK | PSH | flags, fx.s.rcv_nxt(), fx.s.snd_nxt());
    fx.input(data(&fx, 0), &[1; 100], ECT0).unwrap();
    let out = fx.out();
    assert_eq!(out[0].segment.flags & ECE, 0, "no congestion, no echo");
    fx.input(data(&fx, 0), &[1; 100], CE).unwrap();
    let out = fx.out();
    assert_eq!(out[0].segment.flags & ECE, ECE);
    assert_eq!(out[0].tos & 0b11, 0, "a pure ACK is not ECT");
    fx.input(data(&fx, 0), &[1; 100], ECT0).unwrap();
    assert_eq!(fx.out()[0].segment.flags & ECE, ECE, "echoed until CWR");
    fx.input(data(&fx, CWR), &[1; 100], ECT0).unwrap();
    assert_eq!(fx.out()[0].segment.flags & ECE, 0, "CWR ends the echo");
    // Without ECN negotiated, CE is not echoed.
    let (mut fx, synack) = passive(config(), 0);
    assert_eq!(synack.segment.flags, SYN | ACK);
    fx.input(data(&fx, 0), &[1; 100], CE).unwrap();
    assert_eq!(fx.out()[0].segment.flags & ECE, 0);
}

/// SHLD-6 (RFC 1191): a "fragmentation needed" quoting a segment in flight lowers the
/// send MSS to the next-hop MTU less 40 and sends the flight again in the new size,
/// without shrinking the window; one quoting a sequence number outside the flight, or
/// reporting no usable MTU, changes nothing.
#[test]
fn fragmentation_needed_lowers_the_mss_and_resends() {
    let (mut fx, _) = passive(config(), 0);
    assert_eq!(fx.s.send_mss(), 1000);
    fx.s.send(&[3; 3000]).unwrap();
    let out = fx.out();
    assert_eq!(
        out.iter().map(|o| o.payload.len()).collect::<Vec<_>>(),
        [1000, 1000, 1000]
    );
    let cwnd = fx.s.cwnd();
    let una = fx.s.snd_una();
    assert_eq!(
        fx.s.on_packet_too_big(fx.now, una + 5000, 576),
        Err(DropReason::IcmpOutOfWindow)
    );
    assert_eq!(fx.s.on_packet_too_big(fx.now, una, 40), Ok(()));
    assert_eq!(fx.s.send_mss(), 1000, "an MTU below 68 is not used");
    assert_eq!(fx.s.on_packet_too_big(fx.now, una + 1000, 576), Ok(()));
    assert_eq!(fx.s.send_mss(), 536);
    assert_eq!(fx.s.stats().pmtu_reductions, 1);
    assert_eq!(fx.s.cwnd(), cwnd, "not congestion");
    let again = fx.out();
    assert_eq!(again[0].segment.seq, una, "the flight again, from SND.UNA");
    assert!(again.iter().all(|o| o.payload.len() <= 536));
    assert_eq!(again.iter().map(|o| o.payload.len()).sum::<usize>(), 3000);
    // A larger MTU does not raise it.
    assert_eq!(fx.s.on_packet_too_big(fx.now, una, 1500), Ok(()));
    assert_eq!(fx.s.send_mss(), 536);
}

/// Direct delivery: in-order bytes with nothing waiting skip the receive buffer (the
/// caller passes that part of the payload on); out-of-order bytes, and anything behind
/// them, go through the buffer, and the stream stays in order.
#[test]
fn in_order_bytes_skip_the_receive_buffer_only_when_nothing_waits() {
    let (mut fx, _) = passive(config(), 0);
    fx.s.set_direct_delivery(true);
    let at = |fx: &Fx, off: usize| fx.seg(ACK, SeqNumber(IRS + 1 + off as u32), fx.s.snd_nxt());
    fx.input(at(&fx, 0), &[1; 100], 0).unwrap();
    assert_eq!(fx.s.take_direct(), Some(0..100));
    assert_eq!(fx.s.recv_queue(), 0);
    // A partly old segment: only its new part is delivered.
    fx.input(at(&fx, 50), &[1; 100], 0).unwrap();
    assert_eq!(fx.s.take_direct(), Some(50..100));
    // Out of order: buffered; the gap filler goes to the buffer too, behind nothing
    // delivered out of turn.
    fx.input(at(&fx, 300), &[3; 100], 0).unwrap();
    assert_eq!(fx.s.take_direct(), None);
    fx.input(at(&fx, 150), &[2; 150], 0).unwrap();
    assert_eq!(fx.s.take_direct(), None);
    assert_eq!(fx.s.recv_queue(), 250);
    let mut buf = [0u8; 250];
    assert_eq!(fx.s.recv(&mut buf), Ok(250));
    assert!(buf[..150].iter().all(|&b| b == 2) && buf[150..].iter().all(|&b| b == 3));
    // Empty again: direct once more; and off means buffered.
    fx.input(at(&fx, 400), &[4; 10], 0).unwrap();
    assert_eq!(fx.s.take_direct(), Some(0..10));
    fx.s.set_direct_delivery(false);
    fx.input(at(&fx, 410), &[5; 10], 0).unwrap();
    assert_eq!(fx.s.take_direct(), None);
    assert_eq!(fx.s.recv_queue(), 10);
}

/// A connection brought to TIME-WAIT by our close; the peer's last timestamp is 7.
fn time_wait(timestamps: bool) -> Fx {
    let (mut fx, _) = passive(
        TcpConfig {
            timestamps,
            ..config()
        },
        0,
    );
    fx.s.close();
    let fin = fx.out().remove(0);
    let mut last = fx.seg(FIN | ACK, fx.s.rcv_nxt(), fin.segment.seq + 1);
    last.options.timestamps = Some((7, 0));
    fx.input(last, &[], 0).unwrap();
    assert_eq!(fx.s.state(), State::TimeWait);
    fx
}

/// SHLD-4 (RFC 6191) rules, row by row: which SYNs may end TIME-WAIT.
#[test]
fn time_wait_syn_rules() {
    // (timestamps on the old connection, SYN's timestamp, SYN's sequence offset from
    // RCV.NXT, flags, accepted)
    let rows: [(bool, Option<u32>, i64, u8, bool); 9] = [
        (false, None, 0, SYN, true),
        (false, None, 1000, SYN, true),
        (false, None, -1, SYN, false),
        (true, Some(8), -1000, SYN, true),
        (true, Some(7), 10, SYN, true),
        (true, Some(7), -1, SYN, false),
        (true, Some(6), 1000, SYN, false),
        (true, None, -1000, SYN, true),
        (true, Some(8), 0, SYN | ACK, false),
    ];
    for (i, (ts, syn_ts, off, flags, accepted)) in rows.into_iter().enumerate() {
        let fx = time_wait(ts);
        let seq = SeqNumber((i64::from(fx.s.rcv_nxt().0) + off) as u32);
        let mut syn = fx.seg(flags, seq, SeqNumber(0));
        syn.options.timestamps = syn_ts.map(|v| (v, 0));
        assert_eq!(fx.s.time_wait_accepts_syn(&syn), accepted, "row {i}");
    }
}
