//! What a TCP socket can be configured with, and the defaults.

use vipe_rt::Duration;

/// TCP keep-alive (RFC 9293 3.8.4): after `idle` with nothing received and nothing
/// outstanding, probe the peer every `interval`; after `probes` probes in a row go
/// unanswered, the connection is dropped with [`TcpError::TimedOut`](super::TcpError).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// Quiet time before the first probe (RFC 9293 MUST-28: at least two hours by
    /// default).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before giving up (RFC 9293 MUST-29: one lost probe is not a
    /// dead peer).
    pub probes: u32,
}

impl Default for KeepAlive {
    /// Two hours idle, then nine probes 75 s apart (the values of RFC 1122 and Linux).
    fn default() -> Self {
        KeepAlive {
            idle: Duration::from_secs(2 * 3600),
            interval: Duration::from_secs(75),
            probes: 9,
        }
    }
}

/// Settings of one socket (or of every socket a TCP instance creates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// The MSS we announce: the largest segment payload we can receive (interface MTU
    /// minus 40). Default 1460.
    pub mss: u16,
    /// Send buffer capacity in bytes. Default 256 KiB.
    pub send_buffer: usize,
    /// Receive buffer capacity, which bounds the window we offer. Default 256 KiB;
    /// up to 1 GiB with window scaling.
    pub recv_buffer: usize,
    /// Offer window scaling (RFC 7323). Default on.
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323: RTTM and PAWS). Default on.
    pub timestamps: bool,
    /// Offer SACK (RFC 2018) and use the peer's SACK blocks in recovery (RFC 6675).
    /// Default on.
    pub sack: bool,
    /// Nagle's algorithm (RFC 9293 3.7.4). Default on.
    pub nagle: bool,
    /// Delay of a delayed ACK; `None` acknowledges every segment at once. Default 40 ms
    /// (RFC 9293 SHLD-18 asks for less than 0.5 s).
    pub delayed_ack: Option<Duration>,
    /// RTO before any RTT sample (RFC 6298 2.1). Default 1 s.
    pub initial_rto: Duration,
    /// Lower bound of the RTO (RFC 6298 2.4 says 1 s; 200 ms is common). Default 200 ms.
    pub min_rto: Duration,
    /// Upper bound of the RTO (RFC 6298 2.5: at least 60 s). Default 60 s.
    pub max_rto: Duration,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this. Default 60 s.
    pub msl: Duration,
    /// Initial congestion window in segments; `None` uses RFC 5681's formula.
    pub initial_window: Option<usize>,
    /// Most out-of-order ranges kept for reassembly, and most SACKed ranges the sender's
    /// scoreboard keeps. Default 512: a window of a thousand segments with every other
    /// one lost still fits. Too few makes a large window stall after a burst of losses
    /// (segments past the last kept range count as in flight, so the pipe stays above
    /// cwnd until the holes are filled one by one).
    pub max_ooo_ranges: usize,
    /// Give up a connection attempt after retransmitting the SYN this long (R2 for SYN,
    /// RFC 9293 MUST-23: at least 3 minutes). Default 180 s.
    pub syn_timeout: Duration,
    /// Give up an established connection after retransmitting data this long (R2,
    /// RFC 9293 MUST-20: at least 100 s). Default 300 s.
    pub user_timeout: Duration,
    /// Most RFC 5961 challenge ACKs per second. Default 10.
    pub challenge_ack_limit: u32,
    /// Record every change of the congestion window, up to this many changes
    /// ([`TcpSocket::cwnd_trace`](super::TcpSocket::cwnd_trace)); 0 records none. Default 0.
    pub cwnd_trace: usize,
    /// Keep-alive probing; `None` (the default, RFC 9293 MUST-25) sends none. An
    /// application can switch it per connection (`TcpApp::keep_alive`).
    pub keep_alive: Option<KeepAlive>,
    /// R1 (RFC 9293 3.8.3): after this many retransmission timeouts in a row the
    /// application is told that delivery is in trouble
    /// ([`TcpEvent::Stalled`](super::TcpEvent::Stalled)), well before R2 ends the
    /// connection. Default 3 (SHLD-10).
    pub r1_timeouts: u32,
    /// Tail loss probe (after RFC 8985 section 7): when the last ACK of a flight is lost
    /// and nothing else is in flight, probe with the last segment after
    /// max(2·SRTT, 10 ms) instead of waiting for the retransmission timeout (at least
    /// `min_rto`). One probe per tail; it does not change the congestion window.
    /// Default on.
    pub tail_loss_probe: bool,
    /// Diffserv codepoint (RFC 2474, 6 bits) of every segment (RFC 9293 MUST-48); an
    /// application may change it per connection (`TcpSocket::set_dscp`, the `DSCP`
    /// command). Default 0.
    pub dscp: u8,
    /// Ask for ECN (RFC 3168) on connections we open. A peer's request is answered
    /// whatever this says (as Linux's default does). Default off.
    pub ecn: bool,
    /// Path MTU discovery (RFC 1191, RFC 9293 SHLD-6): every segment carries DF, and an
    /// ICMP "fragmentation needed" quoting one of our segments lowers the send MSS to
    /// the reported next-hop MTU. Default on.
    pub path_mtu_discovery: bool,
    /// TCP segmentation offload: new data may leave as one large segment of up to this
    /// many payload bytes (at most 65535 less the largest IP and TCP headers, and never
    /// more than the windows allow), marked for segmentation into segments of the
    /// effective MSS ([`Outgoing::gso_size`](super::Outgoing::gso_size)); IP passes it
    /// whole to a device that takes such datagrams and cuts it in software otherwise.
    /// Retransmissions stay MSS-sized. 0 (the default) sends ordinary segments only.
    pub tso_max: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            window_scaling: true,
            timestamps: true,
            sack: true,
            nagle: true,
            delayed_ack: Some(Duration::from_millis(40)),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            msl: Duration::from_secs(60),
            initial_window: None,
            max_ooo_ranges: 512,
            syn_timeout: Duration::from_secs(180),
            user_timeout: Duration::from_secs(300),
            challenge_ack_limit: 10,
            cwnd_trace: 0,
            keep_alive: None,
            r1_timeouts: 3,
            tail_loss_probe: true,
            dscp: 0,
            ecn: false,
            path_mtu_discovery: true,
            tso_max: 0,
        }
    }
}

impl TcpConfig {
    /// The window shift we offer: the smallest that lets the receive buffer be
    /// advertised whole.
    pub fn window_shift(&self) -> u8 {
        let mut shift = 0u8;
        while shift < super::options::MAX_WSCALE && (self.recv_buffer >> shift) > 0xffff {
            shift += 1;
        }
        shift
    }
}
