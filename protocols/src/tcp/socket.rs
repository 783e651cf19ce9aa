//! The TCP connection state machine of RFC 9293, sans-IO: a plain value driven with
//! explicit time. Feed it segments with [`TcpSocket::on_segment`], take what it sends
//! with [`TcpSocket::poll_transmit`], and call it again at [`TcpSocket::poll_at`]. The
//! application side is [`TcpSocket::send`], [`TcpSocket::recv`], [`TcpSocket::close`]
//! and [`TcpSocket::abort`]; what happened is told by [`TcpSocket::poll_event`].
//!
//! It carries RFC 5961 (challenge ACKs for in-window RST and SYN, ACK range check),
//! RFC 6298 RTO with Karn's rule, RFC 5681 + RFC 6582 congestion control, RFC 7323
//! window scaling, timestamps and PAWS, RFC 2018 SACK blocks and an RFC 6675 SACK
//! sender, delayed ACKs, Nagle, zero-window probes and bounded reassembly.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::ops::Range;

use vipe_rt::{Duration, Instant};

use super::config::{KeepAlive, TcpConfig};
use super::congestion::NewReno;
use super::options::{SackBlock, TcpOptions};
use super::recv_buffer::RecvBuffer;
use super::rto::RtoEstimator;
use super::sack::{DUP_THRESH, Scoreboard};
use super::segment::Segment;
use super::send_buffer::SendBuffer;
use super::seq::SeqNumber;
use crate::wire::tcp::{ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};

/// MSS assumed when the peer sends none (RFC 9293 MUST-15).
pub const DEFAULT_MSS: usize = 536;

/// PAWS: timestamps older than this are not compared (RFC 7323 5.5: 24 days).
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// The states of RFC 9293 section 3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for the peer's SYN.
    SynSent,
    /// SYN received and answered, waiting for its acknowledgement.
    SynReceived,
    /// Open in both directions.
    Established,
    /// We closed; our FIN is not acknowledged yet.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both closed; lingering 2·MSL for stray segments.
    TimeWait,
}

impl State {
    /// Whether the handshake completed (RFC 9293's "synchronized" states).
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }

    /// The state's name as RFC 9293 writes it.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the application is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpEvent {
    /// The handshake completed.
    Connected,
    /// Bytes (or the end of the stream) can be read.
    Readable,
    /// Room opened in the send buffer.
    Writable,
    /// The connection is closed (normally, or by timeout: see [`TcpSocket::error`]).
    Closed,
    /// The peer reset the connection (or refused it).
    Reset,
    /// An ICMP error about the connection that does not end it (a soft error, RFC 5927;
    /// see [`TcpSocket::soft_error`]).
    SoftError,
    /// The peer marked data urgent (RFC 9293 3.8.5): the urgent data end at
    /// [`TcpSocket::urgent_pending`] bytes ahead of the next byte to read.
    Urgent,
    /// Retransmissions reached R1 ([`TcpConfig::r1_timeouts`] timeouts in a row): the
    /// connection goes on, but the peer has not answered for a while (RFC 9293 SHLD-9).
    Stalled,
}

/// An ICMP error about a connection's segments, as TCP sorts them (RFC 1122 4.2.3.9,
/// RFC 5927 section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpError {
    /// Destination unreachable: network, host, source route failed, unknown network or
    /// host, host isolated, TOS unreachable (codes 0, 1, 5–8, 11, 12); time exceeded;
    /// parameter problem; fragmentation needed (code 4: no path MTU discovery here).
    /// The connection goes on; the application is told.
    Soft,
    /// Destination unreachable: protocol or port unreachable, or communication
    /// administratively prohibited (codes 2, 3, 9, 10, 13). Ends a connection still in
    /// SYN-SENT; soft in every other state (RFC 5927 4.1).
    Hard,
}

impl IcmpError {
    /// How TCP treats an ICMP error of `icmp_type` and `code`; `None` for messages it
    /// ignores (source quench, RFC 9293 MUST-55 / RFC 6633; anything not an error).
    pub fn classify(icmp_type: u8, code: u8) -> Option<IcmpError> {
        match (icmp_type, code) {
            (3, 2 | 3 | 9 | 10 | 13) => Some(IcmpError::Hard),
            (3, _) | (11, _) | (12, _) => Some(IcmpError::Soft),
            _ => None,
        }
    }
}

/// Why an application call failed, or why a connection ended abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// The call needs a connection and there is none (or it needs CLOSED and there is
    /// one): connect or listen first, or use a fresh socket.
    InvalidState(State),
    /// The send side is closed: `close` or `shutdown` was called, nothing more can be sent.
    SendClosed,
    /// The peer closed its side and every byte has been read.
    Finished,
    /// The peer reset the connection.
    Reset,
    /// The peer refused the connection (RST in answer to our SYN).
    Refused,
    /// Retransmissions went unanswered longer than the configured timeout (or
    /// keep-alive probes went unanswered).
    TimedOut,
    /// An ICMP hard error (protocol or port unreachable, administratively prohibited)
    /// answered our SYN.
    Unreachable,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpError::InvalidState(s) => write!(
                f,
                "not possible in state {s}: connect or listen first, or use a fresh socket"
            ),
            TcpError::SendClosed => {
                f.write_str("the send side is closed (close/shutdown was called)")
            }
            TcpError::Finished => {
                f.write_str("the peer closed the connection and all data was read")
            }
            TcpError::Reset => f.write_str("the connection was reset by the peer"),
            TcpError::Refused => f.write_str("the connection was refused by the peer"),
            TcpError::TimedOut => f.write_str(
                "retransmissions went unanswered; raise TcpConfig::user_timeout to wait longer",
            ),
            TcpError::Unreachable => f.write_str(
                "an ICMP error said the peer's host or port is unreachable or prohibited",
            ),
        }
    }
}

/// Why an incoming segment was dropped (not necessarily silently: some drops answer
/// with an ACK or RST, as RFC 9293 and RFC 5961 say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The socket is CLOSED (answered with RST).
    Closed,
    /// The ports do not match this connection.
    WrongPorts,
    /// A RST in LISTEN.
    RstInListen,
    /// An ACK in LISTEN (answered with RST).
    AckInListen,
    /// Neither SYN nor RST nor ACK where one was needed.
    NotSyn,
    /// In SYN-SENT, an ACK that does not acknowledge our SYN (answered with RST).
    BadAckInSynSent,
    /// In SYN-SENT, a RST without an acceptable ACK.
    BadRstInSynSent,
    /// PAWS: the timestamp is older than the last one (answered with ACK).
    Paws,
    /// Outside the receive window (answered with ACK).
    OutOfWindow,
    /// A RST outside the window.
    RstOutOfWindow,
    /// A RST inside the window but not at RCV.NXT (answered with a challenge ACK).
    RstChallenged,
    /// A SYN on a synchronized connection (answered with a challenge ACK).
    SynChallenged,
    /// No ACK bit on a segment that needs one.
    NoAck,
    /// Acknowledges data never sent (answered with ACK).
    AckOfUnsent,
    /// Acknowledges data older than the window allows (RFC 5961 5.2; answered with ACK).
    AckTooOld,
    /// In SYN-RECEIVED, an ACK that does not acknowledge our SYN (answered with RST).
    BadAckInSynReceived,
    /// Out-of-order data that would need more reassembly ranges than allowed (the
    /// ACK the segment carried was still processed).
    ReassemblyFull,
    /// An ICMP error quoting a sequence number outside SND.UNA..SND.MAX (RFC 5927 4.1).
    IcmpOutOfWindow,
}

impl DropReason {
    /// A short static name, used as the counted drop reason.
    pub fn reason(self) -> &'static str {
        match self {
            DropReason::Closed => "TCP segment for a closed socket",
            DropReason::WrongPorts => "TCP segment for other ports",
            DropReason::RstInListen => "TCP RST in LISTEN",
            DropReason::AckInListen => "TCP ACK in LISTEN",
            DropReason::NotSyn => "TCP segment without SYN where one is needed",
            DropReason::BadAckInSynSent => "TCP bad ACK in SYN-SENT",
            DropReason::BadRstInSynSent => "TCP RST without acceptable ACK in SYN-SENT",
            DropReason::Paws => "TCP PAWS: old timestamp",
            DropReason::OutOfWindow => "TCP segment outside the receive window",
            DropReason::RstOutOfWindow => "TCP RST outside the receive window",
            DropReason::RstChallenged => "TCP RST in window, not exact: challenge ACK",
            DropReason::SynChallenged => "TCP SYN on a synchronized connection: challenge ACK",
            DropReason::NoAck => "TCP segment without ACK",
            DropReason::AckOfUnsent => "TCP ACK of unsent data",
            DropReason::AckTooOld => "TCP ACK too old",
            DropReason::BadAckInSynReceived => "TCP bad ACK in SYN-RECEIVED",
            DropReason::ReassemblyFull => "TCP reassembly ranges full",
            DropReason::IcmpOutOfWindow => "ICMP error quoting a sequence number not in flight",
        }
    }
}

/// A segment to transmit: the header and its payload bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The header.
    pub segment: Segment,
    /// The payload.
    pub payload: Vec<u8>,
    /// The IP TOS octet to send it with: our Diffserv codepoint, and ECT(0) on new
    /// data of an ECN-capable connection (RFC 3168).
    pub tos: u8,
    /// Send with Don't Fragment (path MTU discovery).
    pub dont_fragment: bool,
    /// Segmentation offload: when non-zero, the payload stands for several segments of
    /// this many bytes each (the last may be shorter), to be cut as a NIC's TSO would
    /// (FIN and PSH only on the last, CWR only on the first); see
    /// [`TcpConfig::tso_max`](super::TcpConfig::tso_max). 0: an ordinary segment.
    pub gso_size: u16,
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} len {}", self.segment, self.payload.len())
    }
}

/// Counters of one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Segments sent (an offloaded segment counts as the segments it stands for).
    pub segments_sent: u64,
    /// Offloaded segments sent ([`TcpConfig::tso_max`](super::TcpConfig::tso_max)).
    pub tso_segments_sent: u64,
    /// Segments received and accepted (at least partly).
    pub segments_received: u64,
    /// Segments carrying already-sent data (any cause).
    pub retransmits: u64,
    /// Fast retransmits (duplicate ACKs or SACK loss detection).
    pub fast_retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Duplicate ACKs received.
    pub dup_acks: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Recovery episodes entered.
    pub recoveries: u64,
    /// Bytes delivered in order to the receive buffer.
    pub bytes_received: u64,
    /// Keep-alive probes sent.
    pub keepalives: u64,
    /// Tail loss probes sent.
    pub tail_probes: u64,
    /// ICMP errors accepted for this connection.
    pub icmp_errors: u64,
    /// Congestion window reductions for an ECN-Echo (RFC 3168).
    pub ecn_reductions: u64,
    /// Send MSS reductions for a "fragmentation needed" (path MTU discovery).
    pub pmtu_reductions: u64,
}

/// Loss recovery in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recovery {
    None,
    /// RFC 6582 fast recovery until `recover` is acknowledged.
    NewReno,
    /// RFC 6675 SACK recovery until `recover` is acknowledged.
    Sack,
}

const EV_CONNECTED: u8 = 1;
const EV_READABLE: u8 = 2;
const EV_WRITABLE: u8 = 4;
const EV_CLOSED: u8 = 8;
const EV_RESET: u8 = 16;
const EV_SOFT_ERROR: u8 = 32;
const EV_URGENT: u8 = 64;
const EV_STALLED: u8 = 128;

/// One TCP connection (or a listening socket waiting for its first SYN).
#[derive(Clone)]
pub struct TcpSocket {
    config: TcpConfig,
    state: State,
    local: SocketAddrV4,
    remote: SocketAddrV4,

    // Send sequence space.
    iss: SeqNumber,
    snd_una: SeqNumber,
    snd_nxt: SeqNumber,
    snd_max: SeqNumber,
    snd_wnd: usize,
    max_snd_wnd: usize,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    snd_shift: u8,
    send_buf: SendBuffer,
    fin_queued: bool,
    fin_acked: bool,
    syn_acked: bool,
    syn_pending: bool,

    // Receive sequence space.
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    rcv_adv: SeqNumber,
    rcv_shift: u8,
    recv_buf: RecvBuffer,
    fin_received: bool,
    /// In-order bytes bypass the receive buffer when it is empty (see
    /// [`TcpSocket::set_direct_delivery`]).
    direct: bool,
    /// The part of the last segment's payload delivered directly.
    direct_taken: Option<Range<usize>>,
    ooo_fin: Option<SeqNumber>,

    // Negotiated.
    send_mss: usize,
    ws_ok: bool,
    ts_ok: bool,
    sack_ok: bool,
    ts_offset: u32,
    ts_recent: u32,
    ts_recent_at: Instant,
    last_ack_sent: SeqNumber,
    ts_karn_floor: Option<u32>,

    // Timers.
    rtx_at: Option<Instant>,
    rtx_since: Option<Instant>,
    delack_at: Option<Instant>,
    timewait_at: Option<Instant>,
    probe_pending: bool,
    rto: RtoEstimator,
    rtt_timed: Option<(SeqNumber, Instant)>,
    last_send: Instant,

    // Congestion and loss recovery.
    cc: NewReno,
    dup_acks: u32,
    recovery: Recovery,
    recover: SeqNumber,
    high_rxt: SeqNumber,
    fast_rtx: bool,
    scoreboard: Scoreboard,

    // ACK generation.
    ack_now: bool,
    unacked_segments: u32,
    sack_recent: Vec<SackBlock>,
    control: VecDeque<Segment>,
    challenge_window: (Instant, u32),

    events: u8,
    error: Option<TcpError>,
    stats: TcpStats,
    /// (time, cwnd) at every change, while `config.cwnd_trace` allows.
    cwnd_log: Vec<(Instant, usize)>,

    // Keep-alive.
    keepalive_at: Option<Instant>,
    keepalive_sent: u32,
    keepalive_pending: bool,

    // ICMP and urgent data.
    soft_error: Option<IcmpError>,
    /// Send urgent pointer: the first octet after the urgent data we send.
    snd_up: Option<SeqNumber>,
    /// Receive urgent pointer: the first octet after the urgent data the peer sent.
    rcv_up: Option<SeqNumber>,

    // Tail loss probe.
    tlp_at: Option<Instant>,
    tlp_pending: bool,
    /// SND.MAX when the last probe went out: no second probe for the same tail.
    tlp_high: Option<SeqNumber>,

    // Diffserv and ECN (RFC 3168).
    dscp: u8,
    ecn_ok: bool,
    /// We saw CE: ECE on our ACKs until the peer's CWR.
    ece_pending: bool,
    /// We reduced for an ECE: CWR on the next new data.
    cwr_pending: bool,
    /// No second reduction for ECEs until this is acknowledged (once per window).
    ecn_high: SeqNumber,
    /// The segment being processed arrived with CE.
    rx_ce: bool,
    /// The segment being built carries new data (ECT).
    ect_next: bool,
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("state", &self.state)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("snd_una", &self.snd_una)
            .field("snd_nxt", &self.snd_nxt)
            .field("rcv_nxt", &self.rcv_nxt)
            .field("cwnd", &self.cc.cwnd())
            .finish_non_exhaustive()
    }
}

/// ECT(0) in the ECN field of the IP TOS octet (RFC 3168).
const ECT0: u8 = 0b10;
/// CE in the ECN field.
const ECN_CE: u8 = 0b11;

const UNSPECIFIED: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);

impl TcpSocket {
    /// A socket in CLOSED with `config`.
    pub fn new(config: TcpConfig) -> Self {
        let dscp = config.dscp & 0x3f;
        let rto = RtoEstimator::new(config.initial_rto, config.min_rto, config.max_rto);
        let send_mss = DEFAULT_MSS;
        TcpSocket {
            send_buf: SendBuffer::new(config.send_buffer),
            recv_buf: RecvBuffer::new(config.recv_buffer, config.max_ooo_ranges),
            cc: NewReno::new(send_mss, config.initial_window),
            scoreboard: Scoreboard::new(config.max_ooo_ranges),
            rto,
            config,
            state: State::Closed,
            local: UNSPECIFIED,
            remote: UNSPECIFIED,
            iss: SeqNumber(0),
            snd_una: SeqNumber(0),
            snd_nxt: SeqNumber(0),
            snd_max: SeqNumber(0),
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: SeqNumber(0),
            snd_shift: 0,
            fin_queued: false,
            fin_acked: false,
            syn_acked: false,
            syn_pending: false,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_shift: 0,
            fin_received: false,
            direct: false,
            direct_taken: None,
            ooo_fin: None,
            send_mss,
            ws_ok: false,
            ts_ok: false,
            sack_ok: false,
            ts_offset: 0,
            ts_recent: 0,
            ts_recent_at: Instant::ZERO,
            ts_karn_floor: None,
            last_ack_sent: SeqNumber(0),
            rtx_at: None,
            rtx_since: None,
            delack_at: None,
            timewait_at: None,
            probe_pending: false,
            rtt_timed: None,
            last_send: Instant::ZERO,
            dup_acks: 0,
            recovery: Recovery::None,
            recover: SeqNumber(0),
            high_rxt: SeqNumber(0),
            fast_rtx: false,
            ack_now: false,
            unacked_segments: 0,
            sack_recent: Vec::new(),
            control: VecDeque::new(),
            challenge_window: (Instant::ZERO, 0),
            events: 0,
            error: None,
            stats: TcpStats::default(),
            cwnd_log: Vec::new(),
            keepalive_at: None,
            keepalive_sent: 0,
            keepalive_pending: false,
            soft_error: None,
            snd_up: None,
            rcv_up: None,
            tlp_at: None,
            tlp_pending: false,
            tlp_high: None,
            dscp,
            ecn_ok: false,
            ece_pending: false,
            cwr_pending: false,
            ecn_high: SeqNumber(0),
            rx_ce: false,
            ect_next: false,
        }
    }

    // ----- inspection -------------------------------------------------------------

    /// The connection state.
    pub fn state(&self) -> State {
        self.state
    }
    /// The configuration.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }
    /// Local address and port.
    pub fn local(&self) -> SocketAddrV4 {
        self.local
    }
    /// Remote address and port (unspecified while listening).
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }
    /// Why the connection ended abnormally, if it did.
    pub fn error(&self) -> Option<TcpError> {
        self.error
    }
    /// Counters.
    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }
    /// Our initial sequence number.
    pub fn iss(&self) -> SeqNumber {
        self.iss
    }
    /// The peer's initial sequence number.
    pub fn irs(&self) -> SeqNumber {
        self.irs
    }
    /// SND.UNA: the oldest unacknowledged sequence number.
    pub fn snd_una(&self) -> SeqNumber {
        self.snd_una
    }
    /// SND.NXT: the next sequence number to send.
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd_nxt
    }
    /// The peer's window, scaled, in bytes.
    pub fn snd_wnd(&self) -> usize {
        self.snd_wnd
    }
    /// RCV.NXT: the next sequence number expected.
    pub fn rcv_nxt(&self) -> SeqNumber {
        self.rcv_nxt
    }
    /// The receive window currently offered, in bytes.
    pub fn rcv_wnd(&self) -> usize {
        self.rcv_adv.since(self.rcv_nxt)
    }
    /// The congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.cc.cwnd()
    }
    /// The slow-start threshold in bytes.
    pub fn ssthresh(&self) -> usize {
        self.cc.ssthresh()
    }
    /// The current retransmission timeout (with backoff).
    pub fn rto(&self) -> Duration {
        self.rto.rto()
    }
    /// The smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.rto.srtt()
    }
    /// The largest payload we put in one segment (peer MSS less our option bytes).
    pub fn send_mss(&self) -> usize {
        self.smss()
    }
    /// Whether window scaling was negotiated, and the shifts (ours, theirs).
    pub fn window_scaling(&self) -> Option<(u8, u8)> {
        self.ws_ok.then_some((self.rcv_shift, self.snd_shift))
    }
    /// Whether timestamps were negotiated.
    pub fn timestamps_enabled(&self) -> bool {
        self.ts_ok
    }
    /// Whether SACK was negotiated.
    pub fn sack_enabled(&self) -> bool {
        self.sack_ok
    }
    /// Whether loss recovery (fast recovery or SACK recovery) is in progress.
    pub fn in_recovery(&self) -> bool {
        self.recovery != Recovery::None
    }
    /// The SACK scoreboard: ranges above SND.UNA the peer reported.
    pub fn sacked_ranges(&self) -> &[(SeqNumber, SeqNumber)] {
        self.scoreboard.ranges()
    }
    /// Out-of-order ranges held for reassembly, as offsets from RCV.NXT.
    pub fn out_of_order(&self) -> &[(usize, usize)] {
        self.recv_buf.out_of_order()
    }
    /// Bytes waiting to be read.
    pub fn recv_queue(&self) -> usize {
        self.recv_buf.len()
    }
    /// Bytes written but not acknowledged yet.
    pub fn send_queue(&self) -> usize {
        self.send_buf.len()
    }
    /// Room in the send buffer.
    pub fn send_capacity(&self) -> usize {
        self.send_buf.free()
    }
    /// Whether the peer closed its side and every byte has been read.
    pub fn is_finished(&self) -> bool {
        self.fin_received && self.recv_buf.is_empty()
    }
    /// Whether `send` would accept bytes now.
    pub fn can_send(&self) -> bool {
        self.may_send() && self.send_buf.free() > 0
    }
    /// Whether `recv` would return bytes (or the end of the stream) now.
    pub fn can_recv(&self) -> bool {
        !self.recv_buf.is_empty() || self.fin_received
    }

    // ----- application calls --------------------------------------------------------

    /// Waits for a connection on `local` (passive OPEN). The ISN for the connection is
    /// `iss` (from an [`super::isn::IsnGenerator`]).
    pub fn listen(&mut self, local: SocketAddrV4, iss: SeqNumber) -> Result<(), TcpError> {
        if self.state != State::Closed {
            return Err(TcpError::InvalidState(self.state));
        }
        self.local = local;
        self.iss = iss;
        self.state = State::Listen;
        Ok(())
    }

    /// Opens a connection from `local` to `remote` (active OPEN) with initial sequence
    /// number `iss`; the SYN leaves at the next [`Self::poll_transmit`].
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
    ) -> Result<(), TcpError> {
        if self.state != State::Closed {
            return Err(TcpError::InvalidState(self.state));
        }
        self.local = local;
        self.remote = remote;
        self.set_iss(iss);
        self.state = State::SynSent;
        self.syn_pending = true;
        self.last_send = now;
        Ok(())
    }

    fn set_iss(&mut self, iss: SeqNumber) {
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_max = iss;
        self.recover = iss;
        self.high_rxt = iss;
        self.ts_offset = iss.0.rotate_left(13) ^ 0x5bd1_e995;
    }

    fn may_send(&self) -> bool {
        !self.fin_queued
            && matches!(
                self.state,
                State::SynSent | State::SynReceived | State::Established | State::CloseWait
            )
    }

    /// Queues bytes to send; returns how many fit in the send buffer.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, TcpError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.fin_queued {
            return Err(TcpError::SendClosed);
        }
        if !self.may_send() {
            return Err(TcpError::InvalidState(self.state));
        }
        Ok(self.send_buf.write(data))
    }

    /// Reads received bytes into `out`; returns how many. `Err(Finished)` once the peer
    /// closed and everything was read.
    pub fn recv(&mut self, out: &mut [u8]) -> Result<usize, TcpError> {
        if self.recv_buf.is_empty() {
            if let Some(e) = self.error {
                return Err(e);
            }
            if self.fin_received {
                return Err(TcpError::Finished);
            }
            if matches!(self.state, State::Closed | State::Listen) {
                return Err(TcpError::InvalidState(self.state));
            }
            return Ok(0);
        }
        let n = self.recv_buf.read(out);
        // Window update when the window opens enough (receiver SWS avoidance, 3.8.6.2.2).
        let current = self.rcv_wnd();
        let threshold = (self.recv_buf.capacity() / 2).min(2 * self.config.mss as usize);
        if self.state.is_synchronized()
            && !self.fin_received
            && self.free_window() >= current + threshold
        {
            self.ack_now = true;
        }
        Ok(n)
    }

    /// Closes the send side (RFC 9293 CLOSE): queued data is sent, then a FIN. The
    /// receive side stays open until the peer's FIN. Closing a listening or
    /// connecting socket ends it at once.
    ///
    /// Closing with received bytes the application has not read resets the connection
    /// instead (RFC 9293 SHLD-3, as Linux does): the peer learns that data were lost
    /// rather than seeing an orderly close.
    pub fn close(&mut self) {
        if !self.recv_buf.is_empty()
            && matches!(
                self.state,
                State::SynReceived | State::Established | State::CloseWait
            )
        {
            return self.abort();
        }
        match self.state {
            State::Closed | State::Listen | State::SynSent => self.set_closed(),
            State::SynReceived => self.fin_queued = true,
            State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            _ => {}
        }
    }

    /// Aborts the connection (RFC 9293 ABORT): a RST to the peer if synchronized, then
    /// CLOSED with every buffer dropped.
    pub fn abort(&mut self) {
        if self.state.is_synchronized() || self.state == State::SynReceived {
            let rst = Segment {
                src_port: self.local.port(),
                dst_port: self.remote.port(),
                seq: self.snd_nxt,
                flags: RST,
                ..Segment::default()
            };
            self.control.push_back(rst);
        }
        self.send_buf = SendBuffer::new(self.config.send_buffer);
        self.set_closed();
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<TcpEvent> {
        for (bit, ev) in [
            (EV_CONNECTED, TcpEvent::Connected),
            (EV_READABLE, TcpEvent::Readable),
            (EV_WRITABLE, TcpEvent::Writable),
            (EV_RESET, TcpEvent::Reset),
            (EV_CLOSED, TcpEvent::Closed),
            (EV_SOFT_ERROR, TcpEvent::SoftError),
            (EV_URGENT, TcpEvent::Urgent),
            (EV_STALLED, TcpEvent::Stalled),
        ] {
            if self.events & bit != 0 {
                self.events &= !bit;
                return Some(ev);
            }
        }
        None
    }

    fn set_closed(&mut self) {
        if self.state != State::Closed {
            self.events |= EV_CLOSED;
        }
        self.state = State::Closed;
        self.rtx_at = None;
        self.delack_at = None;
        self.timewait_at = None;
        self.probe_pending = false;
        self.syn_pending = false;
        self.ack_now = false;
    }

    fn reset_by_peer(&mut self, err: TcpError) {
        self.error = Some(err);
        self.events |= EV_RESET;
        self.send_buf = SendBuffer::new(self.config.send_buffer);
        self.set_closed();
    }

    // ----- helpers ----------------------------------------------------------------

    fn ts_now(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Payload bytes per segment: the peer's MSS less the timestamp option.
    fn smss(&self) -> usize {
        let opts = if self.ts_ok { 12 } else { 0 };
        self.send_mss.saturating_sub(opts).max(1)
    }

    fn flight(&self) -> usize {
        self.snd_max.since(self.snd_una)
    }

    /// The sequence number of our FIN, if one is queued (after all data).
    fn fin_seq(&self) -> Option<SeqNumber> {
        (self.fin_queued && !self.fin_acked).then(|| self.data_start() + self.send_buf.len())
    }

    /// Sequence number of the first byte in the send buffer.
    fn data_start(&self) -> SeqNumber {
        // Before our SYN is acknowledged, data starts after it.
        if !self.syn_acked {
            self.iss + 1
        } else {
            self.snd_una
        }
    }

    fn fin_acked(&self) -> bool {
        self.fin_acked
    }

    /// Free receive buffer, capped at what the window field can say.
    fn free_window(&self) -> usize {
        self.recv_buf.window().min(0xffff << self.rcv_shift)
    }

    /// The window to offer: the free buffer, but the right edge only moves right by at
    /// least min(buffer / 2, MSS) at a time (receiver SWS avoidance, RFC 9293
    /// 3.8.6.2.2) and never moves left.
    fn advertisable_window(&self) -> usize {
        let free = self.free_window();
        let current = self.rcv_wnd();
        let threshold = (self.recv_buf.capacity() / 2).min(self.config.mss as usize);
        if free >= current + threshold {
            free
        } else {
            current
        }
    }

    /// The window field for a segment, and the right edge it advertises.
    fn window_field(&mut self, syn: bool) -> u16 {
        if syn {
            let w = self.recv_buf.window().min(0xffff);
            self.rcv_adv = self.rcv_nxt + w;
            return w as u16;
        }
        let wnd = self.advertisable_window();
        let shift = u32::from(self.rcv_shift);
        let mut field = (wnd >> shift).min(0xffff);
        // Never move the right edge left (RFC 9293 MUST-?: no shrinking) through rounding.
        if self.rcv_nxt + (field << shift) < self.rcv_adv {
            field = (self.rcv_adv.since(self.rcv_nxt))
                .div_ceil(1 << shift)
                .min(0xffff);
        }
        let edge = self.rcv_nxt + (field << shift);
        self.rcv_adv = edge.max(self.rcv_adv);
        field as u16
    }

    fn base_segment(&self, flags: u8, seq: SeqNumber) -> Segment {
        Segment {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack: if flags & ACK != 0 {
                self.rcv_nxt
            } else {
                SeqNumber(0)
            },
            flags,
            ..Segment::default()
        }
    }

    fn syn_options(&self, now: Instant, answering: Option<&TcpOptions>) -> TcpOptions {
        let c = &self.config;
        let mut o = TcpOptions {
            mss: Some(c.mss),
            ..TcpOptions::default()
        };
        let offer = |ours: bool, theirs: bool| ours && answering.is_none_or(|_| theirs);
        if offer(
            c.window_scaling,
            answering.is_some_and(|a| a.window_scale.is_some()),
        ) {
            o.window_scale = Some(self.config.window_shift());
        }
        if offer(c.sack, answering.is_some_and(|a| a.sack_permitted)) {
            o.sack_permitted = true;
        }
        if offer(
            c.timestamps,
            answering.is_some_and(|a| a.timestamps.is_some()),
        ) {
            let ecr = answering.and_then(|a| a.timestamps).map_or(0, |t| t.0);
            o.timestamps = Some((self.ts_now(now), ecr));
        }
        o
    }

    /// Takes the peer's SYN options: MSS, and what both sides offered.
    fn negotiate(&mut self, theirs: &TcpOptions, ours_sent: bool) {
        self.send_mss = theirs.mss.map_or(DEFAULT_MSS, usize::from).max(64);
        let c = &self.config;
        self.ws_ok = c.window_scaling && theirs.window_scale.is_some() && ours_sent;
        if self.ws_ok {
            self.snd_shift = theirs.window_scale.unwrap_or(0);
            self.rcv_shift = c.window_shift();
        } else {
            self.snd_shift = 0;
            self.rcv_shift = 0;
        }
        self.sack_ok = c.sack && theirs.sack_permitted;
        self.ts_ok = c.timestamps && theirs.timestamps.is_some();
        if let Some((val, _)) = theirs.timestamps {
            self.ts_recent = val;
        }
        let smss = self.smss();
        self.cc.set_smss(smss, self.config.initial_window);
    }

    fn queue_control(&mut self, seg: Segment) {
        if self.control.len() < 8 {
            self.control.push_back(seg);
        }
    }

    /// A RST answering `seg` (RFC 9293 3.10.7.1 "reset generation").
    pub fn rst_for(seg: &Segment, payload_len: usize) -> Option<Segment> {
        if seg.has(RST) {
            return None;
        }
        Some(if seg.has(ACK) {
            Segment {
                src_port: seg.dst_port,
                dst_port: seg.src_port,
                seq: seg.ack,
                flags: RST,
                ..Segment::default()
            }
        } else {
            Segment {
                src_port: seg.dst_port,
                dst_port: seg.src_port,
                seq: SeqNumber(0),
                ack: seg.seq + seg.seq_len(payload_len),
                flags: RST | ACK,
                ..Segment::default()
            }
        })
    }

    fn challenge_ack(&mut self, now: Instant) {
        let (start, count) = self.challenge_window;
        if now - start >= Duration::from_secs(1) {
            self.challenge_window = (now, 0);
        } else if count >= self.config.challenge_ack_limit {
            return;
        }
        self.challenge_window.1 += 1;
        self.stats.challenge_acks += 1;
        self.ack_now = true;
    }

    // ----- input ------------------------------------------------------------------

    /// Processes one incoming segment (`payload` follows its header) at `now`
    /// (RFC 9293 3.10.7). `Err` says why it was dropped; an ACK or RST the drop calls
    /// for is queued for [`Self::poll_transmit`]. A dropped segment changes nothing else.
    pub fn on_segment(
        &mut self,
        now: Instant,
        seg: &Segment,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        let (heard, was_synchronized) =
            (self.stats.segments_received, self.state.is_synchronized());
        self.direct_taken = None;
        let result = self.on_segment_inner(now, seg, payload);
        if self.stats.segments_received != heard
            || (!was_synchronized && self.state.is_synchronized())
        {
            // Anything accepted from the peer restarts the keep-alive idle time.
            self.keepalive_sent = 0;
            self.arm_keepalive(now);
        }
        self.note_cwnd(now);
        result
    }

    /// Switches keep-alive probing on (`Some`) or off for this connection, from `now`
    /// (RFC 9293 MUST-24: the application may ask for it; off by default).
    pub fn set_keep_alive(&mut self, now: Instant, keep_alive: Option<KeepAlive>) {
        self.config.keep_alive = keep_alive;
        self.keepalive_sent = 0;
        self.arm_keepalive(now);
    }

    fn keepalive_state(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        )
    }

    fn arm_keepalive(&mut self, now: Instant) {
        self.keepalive_at = match self.config.keep_alive {
            Some(k) if self.keepalive_state() => Some(now + k.idle),
            _ => None,
        };
    }

    fn on_keepalive(&mut self, now: Instant) {
        let Some(k) = self.config.keep_alive.filter(|_| self.keepalive_state()) else {
            self.keepalive_at = None;
            return;
        };
        if self.snd_max != self.snd_una {
            // Data outstanding: the retransmission timer watches the peer (MUST-26
            // allows probes only with nothing outstanding).
            self.keepalive_sent = 0;
            self.keepalive_at = Some(now + k.idle);
            return;
        }
        if self.keepalive_sent >= k.probes {
            self.error = Some(TcpError::TimedOut);
            self.events |= EV_RESET;
            self.set_closed();
            return;
        }
        self.keepalive_sent += 1;
        self.keepalive_pending = true;
        self.keepalive_at = Some(now + k.interval);
    }

    fn send_keepalive(&mut self, now: Instant) -> Option<Outgoing> {
        if !self.keepalive_pending {
            return None;
        }
        self.keepalive_pending = false;
        self.stats.keepalives += 1;
        // RFC 9293 3.8.4: SEG.SEQ = SND.NXT − 1 and no data (SHLD-12), which the peer
        // must answer with an ACK.
        let seg = self.base_segment(ACK, self.snd_nxt - 1);
        Some(self.finish(now, seg, Vec::new()))
    }

    /// An ICMP error about this connection (RFC 9293 MUST-54, RFC 5927): `quoted_seq`
    /// is the sequence number of the segment the error quotes. A hard error ends a
    /// connection in SYN-SENT ([`TcpError::Unreachable`]); anything else is kept as a
    /// soft error and reported ([`TcpEvent::SoftError`]), never ending the connection
    /// (MUST-56). An error quoting a sequence number not in flight is refused.
    pub fn on_icmp_error(
        &mut self,
        kind: IcmpError,
        quoted_seq: SeqNumber,
    ) -> Result<(), DropReason> {
        if !matches!(self.state, State::Closed | State::Listen)
            && quoted_seq.within(self.snd_una, self.snd_max)
        {
            self.stats.icmp_errors += 1;
            if self.state == State::SynSent && kind == IcmpError::Hard {
                self.error = Some(TcpError::Unreachable);
                self.events |= EV_RESET;
                self.set_closed();
            } else {
                self.soft_error = Some(kind);
                self.events |= EV_SOFT_ERROR;
            }
            return Ok(());
        }
        Err(DropReason::IcmpOutOfWindow)
    }

    /// The last soft ICMP error reported for this connection.
    pub fn soft_error(&self) -> Option<IcmpError> {
        self.soft_error
    }

    /// Queues bytes to send as urgent data (RFC 9293 3.8.5): the urgent pointer of the
    /// segments that carry them points to the octet after the last of them (MUST-62),
    /// until they are acknowledged. Returns how many fit; only those are urgent.
    pub fn send_urgent(&mut self, data: &[u8]) -> Result<usize, TcpError> {
        let n = self.send(data)?;
        if n > 0 {
            self.snd_up = Some(self.data_start() + self.send_buf.len());
        }
        Ok(n)
    }

    /// [`Self::on_segment`] for a segment that arrived in a datagram with IP TOS octet
    /// `tos`: a CE mark (RFC 3168) on an ECN-capable connection makes our ACKs carry
    /// ECE until the peer answers with CWR.
    pub fn on_segment_with_tos(
        &mut self,
        now: Instant,
        seg: &Segment,
        payload: &[u8],
        tos: u8,
    ) -> Result<(), DropReason> {
        self.rx_ce = tos & 0b11 == ECN_CE;
        let result = self.on_segment(now, seg, payload);
        self.rx_ce = false;
        result
    }

    /// The ECN bits of an acceptable segment (RFC 3168 6.1.2 – 6.1.4).
    fn on_ecn_bits(&mut self, seg: &Segment) {
        if seg.has(CWR) {
            self.ece_pending = false;
        }
        if self.rx_ce {
            self.ece_pending = true;
        }
        if seg.has(ECE) && seg.has(ACK) && self.recovery == Recovery::None {
            // Respond as to a loss, without retransmitting, once per window.
            if seg.ack > self.ecn_high || self.stats.ecn_reductions == 0 {
                self.cc.on_ecn_echo(self.flight());
                self.ecn_high = self.snd_max;
                self.cwr_pending = true;
                self.stats.ecn_reductions += 1;
            }
        }
    }

    /// Whether ECN (RFC 3168) was negotiated.
    pub fn ecn_enabled(&self) -> bool {
        self.ecn_ok
    }

    /// Changes the Diffserv codepoint (6 bits) of the segments sent from now on
    /// (RFC 9293 MUST-48).
    pub fn set_dscp(&mut self, dscp: u8) {
        self.dscp = dscp & 0x3f;
    }

    /// An ICMP "fragmentation needed" (type 3 code 4) quoting our segment `quoted_seq`
    /// reports a next-hop MTU of `mtu` (RFC 1191): with path MTU discovery on, the send
    /// MSS drops to fit (never below 48 bytes of payload) and what is in flight is sent
    /// again in smaller segments (the big one was dropped). The congestion window is
    /// not reduced: this is not congestion.
    pub fn on_packet_too_big(
        &mut self,
        now: Instant,
        quoted_seq: SeqNumber,
        mtu: u16,
    ) -> Result<(), DropReason> {
        if !self.config.path_mtu_discovery
            || !self.state.is_synchronized()
            || !quoted_seq.within(self.snd_una, self.snd_max)
        {
            return Err(DropReason::IcmpOutOfWindow);
        }
        self.stats.icmp_errors += 1;
        if mtu < 68 {
            // No usable next-hop MTU (RFC 1191 5: an old router); IPv4's minimum is 68.
            return Ok(());
        }
        let mss = usize::from(mtu).saturating_sub(40).max(48);
        if mss >= self.send_mss {
            return Ok(());
        }
        self.send_mss = mss;
        self.cc.shrink_smss(self.smss());
        self.stats.pmtu_reductions += 1;
        // Send the flight again from SND.UNA, in the new size.
        self.snd_nxt = self.snd_una;
        self.high_rxt = self.snd_una;
        self.scoreboard.clear();
        self.rtt_timed = None;
        self.ts_karn_floor = Some(self.ts_now(now));
        Ok(())
    }

    /// Whether a new SYN (no ACK, no RST) for this connection's 4-tuple may end its
    /// TIME-WAIT and open a new incarnation (RFC 6191, the timestamp-based reduction of
    /// TIME-WAIT that RFC 9293 SHLD-4 recommends; RFC 1122 4.2.2.13 without
    /// timestamps): if timestamps were in use, the SYN's must be newer than the last
    /// one seen (or equal, with a higher sequence number), or the SYN carries none
    /// (or we would not use them); without timestamps on either, its sequence number
    /// must be beyond the last seen. Otherwise the SYN is an old duplicate and the
    /// connection stays in TIME-WAIT.
    pub fn time_wait_accepts_syn(&self, seg: &Segment) -> bool {
        if self.state != State::TimeWait || seg.flags & (SYN | ACK | RST) != SYN {
            return false;
        }
        let new_seq = seg.seq >= self.rcv_nxt;
        let new_ts = self.config.timestamps && seg.options.timestamps.is_some();
        match (self.ts_ok, seg.options.timestamps) {
            (true, Some((val, _))) if new_ts => {
                let ahead = val.wrapping_sub(self.ts_recent) as i32;
                ahead > 0 || (ahead == 0 && new_seq)
            }
            (true, _) => true,
            (false, _) => new_seq,
        }
    }

    /// Direct delivery on or off (off at first). While on, a segment whose data are next
    /// in order when nothing waits in the receive buffer (no unread bytes, no
    /// out-of-order ranges, no urgent data ahead) is not copied into the buffer: its
    /// bytes count as read at once, and [`Self::take_direct`] says which part of the
    /// segment's payload they are, for the caller to hand to the application in place.
    /// For callers that push every received byte to the application at once.
    pub fn set_direct_delivery(&mut self, on: bool) {
        self.direct = on;
    }

    /// The range of the last [`Self::on_segment`]'s payload that was delivered directly
    /// (see [`Self::set_direct_delivery`]); the caller must pass these bytes on.
    pub fn take_direct(&mut self) -> Option<Range<usize>> {
        self.direct_taken.take()
    }

    /// Urgent bytes the peer sent that the application has not read yet: the urgent
    /// data end this many bytes after the next byte [`Self::recv`] returns (0: none).
    pub fn urgent_pending(&self) -> usize {
        match self.rcv_up {
            Some(up) => up.since(self.rcv_nxt - self.recv_buf.len()),
            None => 0,
        }
    }

    /// The congestion window at each change since the connection began, as (time,
    /// bytes), if [`TcpConfig::cwnd_trace`] asked for it (at most that many entries).
    pub fn cwnd_trace(&self) -> &[(Instant, usize)] {
        &self.cwnd_log
    }

    fn note_cwnd(&mut self, now: Instant) {
        if self.cwnd_log.len() >= self.config.cwnd_trace || !self.state.is_synchronized() {
            return;
        }
        let cwnd = self.cc.cwnd();
        if self.cwnd_log.last().is_none_or(|&(_, c)| c != cwnd) {
            self.cwnd_log.push((now, cwnd));
        }
    }

    fn on_segment_inner(
        &mut self,
        now: Instant,
        seg: &Segment,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        match self.state {
            State::Closed => {
                if let Some(rst) = Self::rst_for(seg, payload.len()) {
                    self.queue_control(rst);
                }
                Err(DropReason::Closed)
            }
            State::Listen => self.on_listen(now, seg),
            State::SynSent => self.on_syn_sent(now, seg, payload),
            _ => {
                if seg.dst_port != self.local.port() || seg.src_port != self.remote.port() {
                    return Err(DropReason::WrongPorts);
                }
                self.on_synchronized(now, seg, payload)
            }
        }
    }

    /// Sets where a passive connection comes from (the protocol layer knows the IP
    /// address; segments carry only the port).
    pub fn set_remote(&mut self, remote: SocketAddrV4) {
        self.remote = remote;
    }

    fn on_listen(&mut self, now: Instant, seg: &Segment) -> Result<(), DropReason> {
        if seg.has(RST) {
            return Err(DropReason::RstInListen);
        }
        if seg.has(ACK) {
            if let Some(rst) = Self::rst_for(seg, 0) {
                self.queue_control(rst);
            }
            return Err(DropReason::AckInListen);
        }
        if !seg.has(SYN) {
            return Err(DropReason::NotSyn);
        }
        if seg.dst_port != self.local.port() {
            return Err(DropReason::WrongPorts);
        }
        self.remote = SocketAddrV4::new(*self.remote.ip(), seg.src_port);
        let iss = self.iss;
        self.set_iss(iss);
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
        self.negotiate(&seg.options, true);
        self.ecn_ok = seg.flags & (ECE | CWR) == ECE | CWR;
        // The SYN's window is never scaled (RFC 7323 2.2).
        self.update_window(seg.seq, seg.ack, usize::from(seg.window));
        self.state = State::SynReceived;
        self.syn_pending = true;
        self.last_send = now;
        self.stats.segments_received += 1;
        Ok(())
    }

    fn on_syn_sent(
        &mut self,
        now: Instant,
        seg: &Segment,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        if seg.dst_port != self.local.port() || seg.src_port != self.remote.port() {
            return Err(DropReason::WrongPorts);
        }
        let ack_ok = seg.has(ACK) && seg.ack > self.iss && seg.ack <= self.snd_max;
        if seg.has(ACK) && !ack_ok {
            if !seg.has(RST) {
                if let Some(rst) = Self::rst_for(seg, payload.len()) {
                    self.queue_control(rst);
                }
                return Err(DropReason::BadAckInSynSent);
            }
            return Err(DropReason::BadRstInSynSent);
        }
        if seg.has(RST) {
            if !ack_ok {
                return Err(DropReason::BadRstInSynSent);
            }
            self.reset_by_peer(TcpError::Refused);
            return Ok(());
        }
        if !seg.has(SYN) {
            return Err(DropReason::NotSyn);
        }
        self.stats.segments_received += 1;
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
        let sent = TcpOptions {
            window_scale: self.config.window_scaling.then_some(0),
            ..TcpOptions::default()
        };
        self.negotiate(&seg.options, sent.window_scale.is_some());
        if seg.has(ACK) {
            if let Some((_, ecr)) = seg.options.timestamps.filter(|_| self.ts_ok) {
                self.take_rtt_ts(now, ecr);
            } else if let Some((_, at)) = self.rtt_timed.take() {
                self.rto.sample(now - at);
            }
            self.ecn_ok = self.config.ecn && seg.flags & (ECE | CWR) == ECE;
            self.snd_una = seg.ack;
            self.syn_acked = true;
            self.snd_nxt = self.snd_nxt.max(seg.ack);
            self.update_window(seg.seq, seg.ack, usize::from(seg.window));
            self.rtx_at = None;
            self.rtx_since = None;
            self.restart_rto_after_syn_loss();
            self.state = State::Established;
            self.events |= EV_CONNECTED | EV_WRITABLE;
            self.ack_now = true;
            self.syn_pending = false;
        } else {
            // Simultaneous open (RFC 9293 figure 7): answer with SYN-ACK.
            self.snd_wnd = usize::from(seg.window);
            self.state = State::SynReceived;
            self.syn_pending = true;
        }
        Ok(())
    }

    /// RFC 6298 5.7: if the SYN (or SYN-ACK) timed out and no RTT sample exists, data
    /// starts with an RTO of 3 s.
    fn restart_rto_after_syn_loss(&mut self) {
        if self.rto.srtt().is_none() && self.rto.backoff() > 0 {
            let c = &self.config;
            self.rto = RtoEstimator::new(
                Duration::from_secs(3).max(c.initial_rto),
                c.min_rto,
                c.max_rto,
            );
        }
    }

    fn take_rtt_ts(&mut self, now: Instant, ecr: u32) {
        if ecr == 0 {
            return;
        }
        // Karn's rule with timestamps: an echo from before the last timeout-driven
        // retransmission may come from an ACK of a duplicate, and would measure the stall.
        if self
            .ts_karn_floor
            .is_some_and(|floor| (ecr.wrapping_sub(floor) as i32) < 0)
        {
            return;
        }
        let rtt = self.ts_now(now).wrapping_sub(ecr);
        if rtt < 60_000 * 10 {
            self.rto.sample(Duration::from_millis(u64::from(rtt)));
        }
    }

    /// Whether `seg` is acceptable (RFC 9293 3.10.7.4, first check) against RCV.WND.
    fn acceptable(&self, seg: &Segment, len: usize) -> bool {
        let wnd = self.rcv_wnd();
        let (start, end) = (self.rcv_nxt, self.rcv_nxt + wnd);
        match (len, wnd) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, _) => seg.seq.within(start, end),
            (_, 0) => false,
            _ => seg.seq.within(start, end) || (seg.seq + (len - 1)).within(start, end),
        }
    }

    fn on_synchronized(
        &mut self,
        now: Instant,
        seg: &Segment,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        // Simultaneous open (RFC 9293 figure 8): the peer's SYN-ACK repeats its SYN,
        // which we already have; its ACK is what matters.
        let trimmed;
        let seg = if self.state == State::SynReceived
            && seg.has(SYN | ACK)
            && seg.seq == self.irs
            && payload.is_empty()
        {
            trimmed = Segment {
                flags: seg.flags & !SYN,
                seq: seg.seq + 1,
                ..*seg
            };
            &trimmed
        } else {
            seg
        };
        let seg_len = seg.seq_len(payload.len());

        // PAWS (RFC 7323 5.3).
        if self.ts_ok
            && !seg.has(RST)
            && let Some((val, _)) = seg.options.timestamps
            && (val.wrapping_sub(self.ts_recent) as i32) < 0
            && now - self.ts_recent_at < PAWS_IDLE
        {
            self.ack_now = true;
            return Err(DropReason::Paws);
        }

        // Sequence check; a zero window still admits the ACK, RST and URG of a
        // segment at RCV.NXT (RFC 9293 3.10.7.4).
        let mut accepted = self.acceptable(seg, seg_len);
        let mut zero_window_ack = false;
        if !accepted && self.rcv_wnd() == 0 && seg.seq == self.rcv_nxt {
            accepted = true;
            zero_window_ack = true;
        }
        if !accepted {
            if seg.has(RST) {
                return Err(DropReason::RstOutOfWindow);
            }
            self.ack_now = true;
            // A retransmitted FIN in TIME-WAIT restarts the 2·MSL wait.
            if self.state == State::TimeWait && seg.has(FIN) {
                self.timewait_at = Some(now + self.config.msl.saturating_mul(2));
            }
            return Err(DropReason::OutOfWindow);
        }

        // RST (RFC 5961 3.2): exact → reset, otherwise a challenge ACK.
        if seg.has(RST) {
            if seg.seq != self.rcv_nxt {
                self.challenge_ack(now);
                return Err(DropReason::RstChallenged);
            }
            match self.state {
                State::Closing | State::LastAck | State::TimeWait => self.set_closed(),
                _ => self.reset_by_peer(TcpError::Reset),
            }
            return Ok(());
        }

        // SYN (RFC 5961 4.2): always a challenge ACK.
        if seg.has(SYN) {
            if self.state == State::SynReceived && seg.seq == self.irs {
                // Our SYN-ACK was lost: send it again.
                self.syn_pending = true;
                return Err(DropReason::OutOfWindow);
            }
            self.challenge_ack(now);
            return Err(DropReason::SynChallenged);
        }

        if !seg.has(ACK) {
            return Err(DropReason::NoAck);
        }

        // ACK.
        if self.state == State::SynReceived {
            if !(seg.ack > self.snd_una && seg.ack <= self.snd_max) {
                if let Some(rst) = Self::rst_for(seg, payload.len()) {
                    self.queue_control(rst);
                }
                return Err(DropReason::BadAckInSynReceived);
            }
            self.snd_una = self.iss + 1;
            self.syn_acked = true;
            self.rtx_at = None;
            self.rtx_since = None;
            self.syn_pending = false;
            if let Some((_, at)) = self.rtt_timed.take() {
                self.rto.sample(now - at);
            }
            self.restart_rto_after_syn_loss();
            self.snd_wl1 = seg.seq - 1; // force the window update below
            self.state = if self.fin_queued {
                State::FinWait1
            } else {
                State::Established
            };
            self.events |= EV_CONNECTED | EV_WRITABLE;
        }
        if seg.ack > self.snd_max {
            self.ack_now = true;
            return Err(DropReason::AckOfUnsent);
        }
        let oldest = self.snd_una - self.max_snd_wnd.max(1);
        if seg.ack < oldest {
            self.ack_now = true;
            return Err(DropReason::AckTooOld);
        }

        // From here on the segment is accepted.
        self.stats.segments_received += 1;
        if self.ts_ok
            && let Some((val, _)) = seg.options.timestamps
            && seg.seq <= self.last_ack_sent
            && (val.wrapping_sub(self.ts_recent) as i32) >= 0
        {
            self.ts_recent = val;
            self.ts_recent_at = now;
        }
        if self.ecn_ok {
            self.on_ecn_bits(seg);
        }
        self.process_ack(now, seg, payload.len());
        if self.state == State::Closed {
            return Ok(());
        }

        // Urgent pointer (RFC 9293 3.10.7.4, sixth check): remember the furthest one
        // and tell the application while urgent data lie ahead of what it has read.
        if seg.has(URG)
            && matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            let up = seg.seq + usize::from(seg.urgent);
            if self.rcv_up.is_none_or(|r| up > r) && up > self.rcv_nxt - self.recv_buf.len() {
                self.rcv_up = Some(up);
                self.events |= EV_URGENT;
            }
        }

        // Text.
        let payload = if zero_window_ack {
            // Data into a zero window (a window probe) are not taken, but answered with
            // an ACK that repeats the window (RFC 9293 3.10.7.4: not acceptable).
            if !payload.is_empty() || seg.has(FIN) {
                self.ack_now = true;
            }
            &payload[..0]
        } else {
            payload
        };
        let mut fin = seg.has(FIN) && !zero_window_ack;
        if matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            if !payload.is_empty() {
                let in_order = self.take_data(now, seg, payload)?;
                if fin && !in_order {
                    self.ooo_fin = Some(seg.seq + payload.len());
                    fin = false;
                }
            } else if fin && seg.seq != self.rcv_nxt {
                // FIN beyond a gap: remember it.
                if seg.seq > self.rcv_nxt {
                    self.ooo_fin = Some(seg.seq);
                    self.ack_now = true;
                }
                fin = false;
            }
        } else if !payload.is_empty() {
            self.ack_now = true;
        }
        if self.ooo_fin == Some(self.rcv_nxt) && !self.fin_received {
            fin = true;
        }
        if fin && !self.fin_received && self.state != State::TimeWait {
            self.take_fin(now);
        } else if fin && self.state == State::TimeWait {
            self.ack_now = true;
            self.timewait_at = Some(now + self.config.msl.saturating_mul(2));
        }
        Ok(())
    }

    fn update_window(&mut self, seq: SeqNumber, ack: SeqNumber, wnd: usize) {
        self.snd_wnd = wnd;
        self.max_snd_wnd = self.max_snd_wnd.max(wnd);
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
        if wnd > 0 {
            self.probe_pending = false;
        }
    }

    fn process_ack(&mut self, now: Instant, seg: &Segment, payload_len: usize) {
        let wnd = usize::from(seg.window) << self.snd_shift;
        let acked = seg.ack.since(self.snd_una);
        let window_changed = wnd != self.snd_wnd;

        // SACK blocks update the scoreboard.
        let mut new_sack = false;
        if self.sack_ok {
            for b in seg.options.sack_blocks() {
                new_sack |= self
                    .scoreboard
                    .add(b.left, b.right, self.snd_una, self.snd_max);
            }
        }

        if acked > 0 {
            self.on_new_ack(now, seg, acked);
        } else if payload_len == 0
            && !seg.has(FIN)
            && !window_changed
            && self.snd_max > self.snd_una
            && seg.ack == self.snd_una
            && wnd > 0
        {
            self.on_dup_ack(new_sack);
        } else if new_sack {
            match self.recovery {
                Recovery::Sack => self.fast_rtx = true,
                Recovery::None
                    if self.snd_una > self.recover
                        && self.scoreboard.is_lost(self.snd_una, self.smss()) =>
                {
                    self.enter_sack_recovery()
                }
                _ => {}
            }
        }

        // Window update (RFC 9293 3.10.7.4, "fifth").
        if self.snd_wl1 < seg.seq || (self.snd_wl1 == seg.seq && self.snd_wl2 <= seg.ack) {
            let was_zero = self.snd_wnd == 0;
            self.update_window(seg.seq, seg.ack, wnd);
            if was_zero && wnd > 0 {
                // The window opened: resume sending where the probes left off.
                self.rto_restart_if_needed(now);
            }
        }

        // Our FIN acknowledged?
        if self.fin_acked() {
            match self.state {
                State::FinWait1 => self.state = State::FinWait2,
                State::Closing => self.enter_time_wait(now),
                State::LastAck => self.set_closed(),
                _ => {}
            }
        }
    }

    fn rto_restart_if_needed(&mut self, now: Instant) {
        if self.snd_max > self.snd_una {
            self.rtx_at = Some(now + self.rto.rto());
        } else {
            self.rtx_at = None;
        }
    }

    fn on_new_ack(&mut self, now: Instant, seg: &Segment, acked: usize) {
        // RTT (RFC 6298, Karn's rule; RFC 7323 with timestamps).
        if let Some((_, ecr)) = seg.options.timestamps.filter(|_| self.ts_ok) {
            self.take_rtt_ts(now, ecr);
        } else if let Some((timed, at)) = self.rtt_timed
            && seg.ack > timed
        {
            self.rto.sample(now - at);
            self.rtt_timed = None;
        }
        if self.fin_seq().is_some_and(|f| seg.ack == f + 1) {
            self.fin_acked = true;
        }
        let data_acked = acked.min(self.send_buf.len());
        self.send_buf.ack(data_acked);
        self.snd_una = seg.ack;
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
        if self.high_rxt < self.snd_una {
            self.high_rxt = self.snd_una;
        }
        self.scoreboard.ack(self.snd_una);
        if data_acked > 0 && self.may_send() {
            self.events |= EV_WRITABLE;
        }
        self.rtx_since = None;
        self.probe_pending = false;

        match self.recovery {
            Recovery::None => {
                self.cc.on_ack(acked);
                self.dup_acks = 0;
            }
            Recovery::NewReno => {
                if self.snd_una >= self.recover {
                    self.cc.exit_recovery(self.flight());
                    self.recovery = Recovery::None;
                    self.dup_acks = 0;
                } else {
                    // Partial ACK: retransmit the next hole at once (RFC 6582 3.2 step 5).
                    self.cc.on_partial_ack(acked);
                    self.fast_rtx = true;
                }
            }
            Recovery::Sack => {
                if self.snd_una >= self.recover {
                    self.recovery = Recovery::None;
                    self.dup_acks = 0;
                } else {
                    self.fast_rtx = true;
                }
            }
        }
        if self.recovery == Recovery::None && self.sack_ok && self.snd_una > self.recover {
            // Enough SACKed above SND.UNA already means loss (RFC 6675 5, IsLost).
            if self.scoreboard.is_lost(self.snd_una, self.smss()) {
                self.enter_sack_recovery();
            }
        }
        // RFC 6298 5.2 / 5.3.
        self.rto_restart_if_needed(now);
    }

    fn on_dup_ack(&mut self, new_sack: bool) {
        self.stats.dup_acks += 1;
        self.dup_acks += 1;
        match self.recovery {
            Recovery::NewReno => self.cc.on_dup_ack_in_recovery(),
            Recovery::Sack => self.fast_rtx = true,
            Recovery::None => {
                // RFC 6582 3.2 step 1 / RFC 6675: only beyond `recover`.
                let past_recover = self.snd_una > self.recover || self.recover == self.iss;
                if !past_recover {
                    return;
                }
                let lost = self.sack_ok && self.scoreboard.is_lost(self.snd_una, self.smss());
                if self.dup_acks as usize >= DUP_THRESH || (new_sack && lost) {
                    if self.sack_ok {
                        self.enter_sack_recovery();
                    } else {
                        self.stats.recoveries += 1;
                        self.recover = self.snd_max;
                        self.cc.enter_fast_recovery(self.flight());
                        self.recovery = Recovery::NewReno;
                        self.fast_rtx = true;
                        self.rtt_timed = None;
                    }
                }
            }
        }
    }

    fn enter_sack_recovery(&mut self) {
        self.stats.recoveries += 1;
        self.recover = self.snd_max;
        self.cc.enter_sack_recovery(self.flight());
        self.recovery = Recovery::Sack;
        self.high_rxt = self.snd_una;
        self.fast_rtx = true;
        self.rtt_timed = None;
    }

    /// Accepts in-window data. Returns whether a FIN on the segment may be processed
    /// (all of the segment's data is in order).
    fn take_data(
        &mut self,
        now: Instant,
        seg: &Segment,
        payload: &[u8],
    ) -> Result<bool, DropReason> {
        // Trim what is before RCV.NXT (a SYN is never here in synchronized states).
        let mut seq = seg.seq;
        let mut data = payload;
        if seq < self.rcv_nxt {
            let skip = self.rcv_nxt.since(seq).min(data.len());
            data = &data[skip..];
            seq = self.rcv_nxt;
        }
        if data.is_empty() {
            // Entirely a duplicate: acknowledge at once (RFC 5681 4.2).
            self.ack_now = true;
            return Ok(true);
        }
        let offset = seq.since(self.rcv_nxt);
        let had_gaps = !self.recv_buf.out_of_order().is_empty();
        let in_order = if self.direct
            && offset == 0
            && !had_gaps
            && self.recv_buf.is_empty()
            && !seg.has(URG)
            && self.rcv_up.is_none_or(|up| up <= self.rcv_nxt)
        {
            // Nothing waits before these bytes: they go to the application as they are
            // (the caller delivers this part of the payload), not through the buffer.
            let n = data.len().min(self.recv_buf.window());
            let skip = payload.len() - data.len();
            self.direct_taken = Some(skip..skip + n);
            n
        } else {
            let Some(in_order) = self.recv_buf.write_at(offset, data) else {
                self.ack_now = true;
                return Err(DropReason::ReassemblyFull);
            };
            in_order
        };
        if offset > 0 {
            // Out of order: remember for SACK and answer with a duplicate ACK at once.
            self.note_sack(
                seq,
                seq + data.len().min(self.rcv_wnd().saturating_sub(offset)),
            );
            self.ack_now = true;
        }
        if in_order > 0 {
            self.rcv_nxt += in_order;
            self.stats.bytes_received += in_order as u64;
            self.events |= EV_READABLE;
            if had_gaps {
                self.ack_now = true; // a gap filled (RFC 5681 4.2)
            }
            self.unacked_segments += 1;
            match self.config.delayed_ack {
                Some(delay) if self.unacked_segments < 2 && !self.ack_now => {
                    if self.delack_at.is_none() {
                        self.delack_at = Some(now + delay);
                    }
                }
                _ => self.ack_now = true,
            }
        }
        let end = seg.seq + payload.len();
        Ok(self.rcv_nxt == end)
    }

    fn note_sack(&mut self, left: SeqNumber, right: SeqNumber) {
        if !self.sack_ok || left >= right {
            return;
        }
        // The block containing the new data, widened to its assembler range.
        let mut block = SackBlock { left, right };
        let base = self.rcv_nxt;
        for &(s, e) in self.recv_buf.out_of_order() {
            let (bs, be) = (base + s, base + e);
            if left >= bs && left < be {
                block = SackBlock {
                    left: bs,
                    right: be,
                };
            }
        }
        self.sack_recent
            .retain(|b| !(b.left < block.right && block.left < b.right) && b.left != block.left);
        self.sack_recent.insert(0, block);
        self.sack_recent.truncate(4);
    }

    fn current_sack_blocks(&mut self) -> TcpOptions {
        let mut o = TcpOptions::default();
        if !self.sack_ok {
            return o;
        }
        let base = self.rcv_nxt;
        let ranges: Vec<(SeqNumber, SeqNumber)> = self
            .recv_buf
            .out_of_order()
            .iter()
            .map(|&(s, e)| (base + s, base + e))
            .collect();
        // Refresh each remembered block to the range that now contains it.
        self.sack_recent.retain_mut(|b| {
            match ranges.iter().find(|r| b.left >= r.0 && b.left < r.1) {
                Some(r) => {
                    *b = SackBlock {
                        left: r.0,
                        right: r.1,
                    };
                    true
                }
                None => false,
            }
        });
        let mut seen: Vec<SeqNumber> = Vec::new();
        for b in &self.sack_recent {
            if !seen.contains(&b.left) {
                seen.push(b.left);
                o.push_sack(*b);
            }
        }
        // Ranges never reported yet (possible after truncation) follow.
        for r in ranges {
            if !seen.contains(&r.0)
                && !o.push_sack(SackBlock {
                    left: r.0,
                    right: r.1,
                })
            {
                break;
            }
            seen.push(r.0);
        }
        o
    }

    fn take_fin(&mut self, now: Instant) {
        self.fin_received = true;
        self.rcv_nxt += 1;
        self.ooo_fin = None;
        self.ack_now = true;
        self.events |= EV_READABLE;
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 => {
                if self.fin_acked() {
                    self.enter_time_wait(now);
                } else {
                    self.state = State::Closing;
                }
            }
            State::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.rtx_at = None;
        self.delack_at = None;
        self.timewait_at = Some(now + self.config.msl.saturating_mul(2));
    }

    // ----- timers -----------------------------------------------------------------

    /// When the socket needs to be polled next (a timer deadline), if ever.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.ack_now
            || self.fast_rtx
            || self.syn_pending
            || !self.control.is_empty()
            || self.probe_pending
            || self.keepalive_pending
            || self.tlp_pending
        {
            return Some(Instant::ZERO);
        }
        [
            self.rtx_at,
            self.delack_at,
            self.timewait_at,
            self.keepalive_at,
            self.tlp_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timers(&mut self, now: Instant) {
        if self.timewait_at.is_some_and(|t| now >= t) {
            self.timewait_at = None;
            self.set_closed();
            return;
        }
        if self.delack_at.is_some_and(|t| now >= t) {
            self.delack_at = None;
            self.ack_now = true;
        }
        if self.rtx_at.is_some_and(|t| now >= t) {
            self.rtx_at = None;
            self.on_rto(now);
        }
        if self.keepalive_at.is_some_and(|t| now >= t) {
            self.keepalive_at = None;
            self.on_keepalive(now);
        }
        if self.tlp_at.is_some_and(|t| now >= t) {
            self.tlp_at = None;
            if self.snd_max > self.snd_una && self.recovery == Recovery::None {
                self.tlp_pending = true;
                self.tlp_high = Some(self.snd_max);
            }
        }
    }

    /// Arms the tail loss probe once everything that can be sent is sent: data in
    /// flight, no recovery, an RTT known, and no probe yet for this tail.
    fn arm_tlp(&mut self, now: Instant) {
        let Some(srtt) = self.rto.srtt() else {
            return;
        };
        let tail = self.config.tail_loss_probe
            && matches!(self.state, State::Established | State::CloseWait)
            && self.snd_max > self.snd_una
            && self.recovery == Recovery::None
            && self.snd_wnd > 0
            && self.tlp_high.is_none_or(|h| self.snd_una > h);
        if !tail {
            self.tlp_at = None;
            return;
        }
        let mut pto = srtt.saturating_mul(2).max(Duration::from_millis(10));
        if self.flight() <= self.smss() {
            // One segment out: the peer may hold its ACK (RFC 8985 7.2, WCDelAckT).
            pto += Duration::from_millis(200);
        }
        let at = now + pto;
        if self.rtx_at.is_some_and(|r| at >= r) {
            self.tlp_at = None;
        } else {
            self.tlp_at = Some(at);
        }
    }

    fn send_tlp(&mut self, now: Instant) -> Option<Outgoing> {
        if !self.tlp_pending {
            return None;
        }
        self.tlp_pending = false;
        // The last segment again: its ACK (or SACK) tells what the lost ACK would have.
        let data_end = self.data_start() + self.send_buf.len();
        let end = self.snd_max.min(data_end);
        let len = self.smss().min(end.since(self.snd_una));
        if len == 0 {
            return None;
        }
        self.stats.tail_probes += 1;
        self.data_segment(now, end - len, len, true)
    }

    fn on_rto(&mut self, now: Instant) {
        let since = *self.rtx_since.get_or_insert(now);
        let limit = match self.state {
            State::SynSent | State::SynReceived => self.config.syn_timeout,
            _ => self.config.user_timeout,
        };
        let probing =
            self.state.is_synchronized() && self.snd_wnd == 0 && !self.send_buf.is_empty();
        if !probing && now - since >= limit {
            self.error = Some(TcpError::TimedOut);
            self.events |= EV_RESET;
            self.set_closed();
            return;
        }
        if probing {
            // Zero-window probe (RFC 9293 3.8.6.1): backs off, keeps cwnd, never gives up.
            self.rto.back_off();
            self.probe_pending = true;
            return;
        }
        self.stats.timeouts += 1;
        let first = self.rto.backoff() == 0;
        self.rto.back_off();
        if self.rto.backoff() == self.config.r1_timeouts && self.state.is_synchronized() {
            self.events |= EV_STALLED;
        }
        if self.rto.backoff() > 3 {
            self.rto.reset_samples();
        }
        self.rtt_timed = None;
        match self.state {
            State::SynSent | State::SynReceived => {
                self.syn_pending = true;
                return;
            }
            _ => {}
        }
        self.cc.on_timeout(self.flight(), first);
        self.ts_karn_floor = Some(self.ts_now(now));
        self.recover = self.snd_max;
        self.recovery = Recovery::None;
        self.fast_rtx = false;
        self.dup_acks = 0;
        self.scoreboard.clear();
        self.snd_nxt = self.snd_una;
        self.high_rxt = self.snd_una;
    }

    // ----- output -----------------------------------------------------------------

    /// The next segment to send at `now`, if any. Call until `None`, then again at
    /// [`Self::poll_at`] or after any input or application call.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        self.handle_timers(now);
        self.note_cwnd(now);
        if let Some(seg) = self.control.pop_front() {
            return Some(self.finish(now, seg, Vec::new()));
        }
        let out = match self.state {
            State::Closed | State::Listen | State::SynSent => self.send_syn(now),
            State::SynReceived => self.send_syn(now).or_else(|| self.send_ack_if_needed(now)),
            State::TimeWait | State::FinWait2 => self.send_ack_if_needed(now),
            _ => self
                .send_retransmission(now)
                .or_else(|| self.send_tlp(now))
                .or_else(|| self.send_probe(now))
                .or_else(|| self.send_new(now))
                .or_else(|| self.send_ack_if_needed(now))
                .or_else(|| self.send_keepalive(now)),
        };
        if out.is_none() {
            // Nothing more to send now: no immediate work remains (poll_at never spins).
            self.ack_now = false;
            self.fast_rtx = false;
            self.probe_pending = false;
            self.syn_pending = false;
            self.keepalive_pending = false;
            self.tlp_pending = false;
            self.arm_tlp(now);
        }
        out
    }

    fn send_syn(&mut self, now: Instant) -> Option<Outgoing> {
        if !self.syn_pending || !matches!(self.state, State::SynSent | State::SynReceived) {
            return None;
        }
        self.syn_pending = false;
        self.ack_now = false;
        let (flags, options) = if self.state == State::SynSent {
            (SYN, self.syn_options(now, None))
        } else {
            let peer = TcpOptions {
                window_scale: self.ws_ok.then_some(self.snd_shift),
                sack_permitted: self.sack_ok,
                timestamps: self.ts_ok.then_some((self.ts_recent, 0)),
                ..TcpOptions::default()
            };
            (SYN | ACK, self.syn_options(now, Some(&peer)))
        };
        let ecn = match self.state {
            // RFC 3168 6.1.1: an ECN-setup SYN carries ECE and CWR, the SYN-ACK ECE.
            State::SynSent if self.config.ecn => ECE | CWR,
            State::SynReceived if self.ecn_ok => ECE,
            _ => 0,
        };
        let mut seg = self.base_segment(flags | ecn, self.iss);
        seg.options = options;
        seg.window = self.window_field(true);
        if self.snd_max == self.iss {
            self.rtt_timed = Some((self.iss, now));
        } else {
            self.stats.retransmits += 1;
        }
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rto.rto());
        }
        Some(self.finish(now, seg, Vec::new()))
    }

    /// Fast retransmit, NewReno partial-ACK retransmit, or RFC 6675 NextSeg rule 1.
    fn send_retransmission(&mut self, now: Instant) -> Option<Outgoing> {
        if !self.fast_rtx {
            return None;
        }
        let smss = self.smss();
        let (seq, len) = match self.recovery {
            Recovery::Sack => {
                let pipe = self.pipe();
                if self.cc.cwnd() < pipe + smss && self.high_rxt > self.snd_una {
                    self.fast_rtx = false;
                    return None;
                }
                match self.scoreboard.next_lost(self.snd_una, self.high_rxt, smss) {
                    Some(x) => x,
                    None if self.high_rxt == self.snd_una => {
                        let hole_end = self
                            .scoreboard
                            .ranges()
                            .first()
                            .map_or(self.snd_max, |r| r.0);
                        (self.snd_una, smss.min(hole_end.since(self.snd_una)))
                    }
                    None => {
                        self.fast_rtx = false;
                        return None;
                    }
                }
            }
            _ => {
                self.fast_rtx = false;
                (self.snd_una, smss.min(self.flight()))
            }
        };
        if len == 0 {
            self.fast_rtx = false;
            return None;
        }
        self.stats.fast_retransmits += 1;
        let out = self.data_segment(now, seq, len, true);
        self.high_rxt = self.high_rxt.max(seq + len);
        if self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rto.rto());
        }
        out
    }

    fn pipe(&self) -> usize {
        self.scoreboard
            .pipe(self.snd_una, self.snd_max, self.high_rxt, self.smss())
    }

    fn send_probe(&mut self, now: Instant) -> Option<Outgoing> {
        if !self.probe_pending {
            return None;
        }
        self.probe_pending = false;
        self.stats.window_probes += 1;
        self.rtx_at = Some(now + self.rto.rto());
        let unsent = self.unsent_data();
        if self.snd_max > self.snd_una && !self.send_buf.is_empty() {
            // Probe with the oldest unacknowledged byte again.
            return self.data_segment(now, self.snd_una, 1, true);
        }
        if unsent > 0 {
            let seq = self.snd_nxt;
            let mut out = self.data_segment(now, seq, 1, false);
            if let Some(o) = &mut out {
                o.tos &= !0b11; // no ECT on a window probe (RFC 3168 6.1.6)
            }
            self.snd_nxt += 1;
            self.snd_max = self.snd_max.max(self.snd_nxt);
            return out;
        }
        None
    }

    fn unsent_data(&self) -> usize {
        let end = self.data_start() + self.send_buf.len();
        end.since(self.snd_nxt)
    }

    fn send_new(&mut self, now: Instant) -> Option<Outgoing> {
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) {
            return None;
        }
        let smss = self.smss();
        let unsent = self.unsent_data();
        let fin_seq = self.fin_seq();
        let fin_unsent = fin_seq.is_some_and(|f| self.snd_nxt <= f);
        if unsent == 0 && !fin_unsent {
            return None;
        }
        let in_flight = self.snd_nxt.since(self.snd_una);
        let mut usable = if self.recovery == Recovery::Sack {
            // RFC 6675: the pipe, not the sequence distance, is what is in flight.
            self.cc.cwnd().saturating_sub(self.pipe())
        } else {
            self.cc.cwnd().saturating_sub(in_flight)
        };
        // The peer's window bounds new data regardless of cwnd.
        usable = usable.min((self.snd_una + self.snd_wnd).since(self.snd_nxt));
        let retransmitting = self.snd_nxt < self.snd_max;
        let burst = if retransmitting {
            smss
        } else {
            self.burst_limit(smss)
        };
        let mut len = unsent.min(usable).min(burst);
        if len > smss && len % smss != 0 {
            // An offloaded burst whose last segment is short: that segment obeys sender
            // SWS avoidance and Nagle as if sent alone (the full ones before it are in
            // flight by then), else the burst stops at the last full segment.
            let tail = len % smss;
            let all_queued = len == unsent;
            let nagle_blocks = self.config.nagle && !fin_unsent;
            let big_enough = self.max_snd_wnd > 0 && tail >= self.max_snd_wnd / 2;
            if !(all_queued && !nagle_blocks || big_enough) {
                len -= tail;
            }
        }
        if len == 0 {
            if unsent == 0 && fin_unsent {
                // A bare FIN needs no window.
                let seq = self.snd_nxt;
                return self.fin_segment(now, seq, retransmitting);
            }
            if self.snd_wnd == 0 && self.rtx_at.is_none() {
                // Zero window and nothing in flight: start the persist timer.
                self.rtx_at = Some(now + self.rto.rto());
            }
            return None;
        }
        if len < smss && !retransmitting {
            // Sender SWS avoidance and Nagle (RFC 9293 3.8.6.2.1, 3.7.4).
            let all_queued = len == unsent;
            let nagle_blocks = self.config.nagle && in_flight > 0 && !fin_unsent;
            let big_enough = self.max_snd_wnd > 0 && len >= self.max_snd_wnd / 2;
            if !(all_queued && !nagle_blocks || big_enough) {
                return None;
            }
        }
        // Restart after idle (RFC 5681 4.1).
        if in_flight == 0 && now - self.last_send > self.rto.rto() && !retransmitting {
            self.cc.on_idle_restart(self.config.initial_window);
        }
        let seq = self.snd_nxt;
        let mut out = self.data_segment(now, seq, len, retransmitting)?;
        if len > smss {
            // One offloaded segment standing for `len / smss` (rounded up) on the wire.
            out.gso_size = smss.min(usize::from(u16::MAX)) as u16;
            self.stats.segments_sent += (len.div_ceil(smss) - 1) as u64;
            self.stats.tso_segments_sent += 1;
        }
        self.snd_nxt += len;
        if fin_unsent && len == unsent {
            out.segment.flags |= FIN;
            self.snd_nxt += 1;
        }
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if !retransmitting && self.rtt_timed.is_none() && !self.ts_ok {
            self.rtt_timed = Some((seq, now));
        }
        if self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rto.rto());
        }
        Some(out)
    }

    fn fin_segment(&mut self, now: Instant, seq: SeqNumber, again: bool) -> Option<Outgoing> {
        let seg = self.base_segment(FIN | ACK, seq);
        if again {
            self.stats.retransmits += 1;
        }
        self.snd_nxt = seq + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rto.rto());
        }
        Some(self.finish(now, seg, Vec::new()))
    }

    fn data_segment(
        &mut self,
        now: Instant,
        seq: SeqNumber,
        len: usize,
        again: bool,
    ) -> Option<Outgoing> {
        let offset = seq.since(self.data_start());
        let mut payload = alloc::vec![0u8; len];
        let n = self.send_buf.read_at(offset, &mut payload);
        payload.truncate(n);
        let mut flags = ACK;
        if offset + n == self.send_buf.len() {
            flags |= PSH;
        }
        let mut seg = self.base_segment(flags, seq);
        if n == 0 {
            // Only a FIN can be here (data all acknowledged meanwhile).
            if self.fin_seq() == Some(seq) {
                seg.flags = FIN | ACK;
                self.snd_nxt = self.snd_nxt.max(seq + 1);
                self.snd_max = self.snd_max.max(seq + 1);
                return Some(self.finish(now, seg, payload));
            }
            return None;
        }
        if again {
            self.stats.retransmits += 1;
            if self.fin_seq() == Some(seq + n) && self.snd_max > seq + n {
                seg.flags |= FIN;
            }
        } else {
            // RFC 3168 6.1.5: ECT only on new data, never on retransmissions; CWR on
            // the first new data after a reduction.
            self.ect_next = true;
            if core::mem::take(&mut self.cwr_pending) {
                seg.flags |= CWR;
            }
        }
        Some(self.finish(now, seg, payload))
    }

    fn send_ack_if_needed(&mut self, now: Instant) -> Option<Outgoing> {
        if !self.ack_now {
            return None;
        }
        let seg = self.base_segment(ACK, self.snd_nxt);
        Some(self.finish(now, seg, Vec::new()))
    }

    /// Adds ACK fields, window, timestamps and SACK blocks to `seg`, and books keeping.
    fn finish(&mut self, now: Instant, mut seg: Segment, payload: Vec<u8>) -> Outgoing {
        let is_rst = seg.has(RST);
        let is_syn = seg.has(SYN);
        if !is_rst && !is_syn {
            if self.state.is_synchronized() || self.state == State::SynReceived {
                seg.flags |= ACK;
                seg.ack = self.rcv_nxt;
            }
            seg.window = self.window_field(false);
            if let Some(up) = self.snd_up {
                if up <= self.snd_una {
                    self.snd_up = None;
                } else if up > seg.seq {
                    seg.flags |= URG;
                    seg.urgent = up.since(seg.seq).min(usize::from(u16::MAX)) as u16;
                }
            }
            let mut o = self.current_sack_blocks();
            if self.ts_ok {
                o.timestamps = Some((self.ts_now(now), self.ts_recent));
                o.sack_count = o.sack_count.min(3);
            }
            seg.options = o;
        }
        if seg.has(ACK) && !is_rst {
            self.ack_now = false;
            self.delack_at = None;
            self.unacked_segments = 0;
            self.last_ack_sent = seg.ack;
        }
        if !payload.is_empty() || is_syn || seg.has(FIN) {
            self.last_send = now;
        }
        if self.ecn_ok && self.ece_pending && seg.has(ACK) && !is_rst && !is_syn {
            seg.flags |= ECE;
        }
        let ect = self.ecn_ok && core::mem::take(&mut self.ect_next) && !payload.is_empty();
        self.stats.segments_sent += 1;
        Outgoing {
            segment: seg,
            payload,
            tos: self.dscp << 2 | if ect { ECT0 } else { 0 },
            dont_fragment: self.config.path_mtu_discovery,
            gso_size: 0,
        }
    }

    /// Most payload bytes one new-data segment may carry: the effective MSS, or with
    /// segmentation offload a whole number of MSS-sized segments up to `tso_max` (and
    /// the 64 KB an IP datagram can hold). Only outside loss recovery, and not while
    /// urgent data is pending (segmentation would copy one urgent pointer to every
    /// segment).
    fn burst_limit(&self, smss: usize) -> usize {
        if self.config.tso_max == 0 || self.recovery != Recovery::None || self.snd_up.is_some() {
            return smss;
        }
        let most = self.config.tso_max.min(TSO_MAX_PAYLOAD);
        (most / smss * smss).max(smss)
    }
}

/// The largest TCP payload of one offloaded segment: an IPv4 datagram's 65535 bytes
/// less the largest IPv4 (60) and TCP (60) headers.
const TSO_MAX_PAYLOAD: usize = 65535 - 60 - 60;
