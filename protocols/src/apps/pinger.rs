//! Sends ICMP echo requests and records what comes back.

use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr};

use vipe_rt::prelude::*;

use crate::wire::IcmpHeader;
use crate::wire::icmp::{ECHO_REPLY, ECHO_REQUEST, IcmpHeaderView};

/// What a pinger does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingerConfig {
    /// Whom to ping.
    pub target: Ipv4Addr,
    /// Echo requests to send.
    pub count: u16,
    /// Time between requests.
    pub interval: Duration,
    /// Bytes of payload per request (after the 8-byte ICMP header).
    pub payload: usize,
    /// Identifier of the requests.
    pub ident: u16,
}

/// What became of one request, or an error that came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingOutcome {
    /// An echo reply for sequence `seq` after `rtt`, with `len` bytes of payload.
    Reply {
        /// Sequence number.
        seq: u16,
        /// Round-trip time.
        rtt: Duration,
        /// Payload bytes in the reply.
        len: usize,
        /// Whether the payload came back intact.
        intact: bool,
    },
    /// An ICMP error from `from`.
    Error {
        /// Who sent it.
        from: Ipv4Addr,
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
}

/// The ping application: connect its `icmp` port to ICMP's `app` port.
#[protocol(name = "pinger")]
#[derive(Debug)]
pub struct Pinger {
    config: PingerConfig,
    sent: u16,
    sent_at: Vec<Instant>,
    /// Replies and errors, in arrival order.
    pub outcomes: Vec<PingOutcome>,
}

impl Pinger {
    /// A pinger.
    pub fn new(config: PingerConfig) -> Self {
        Pinger {
            config,
            sent: 0,
            sent_at: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// Replies received.
    pub fn replies(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, PingOutcome::Reply { .. }))
            .count()
    }

    fn pattern(seq: u16, i: usize) -> u8 {
        (i as u8).wrapping_add(seq as u8)
    }
}

#[protocol]
impl Pinger {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.config.count > 0 {
            cx.start_timer(PingerTimer::Send, Duration::ZERO);
        }
    }

    #[on_timer]
    fn send(&mut self, cx: &mut Cx<Self>) {
        let seq = self.sent;
        let mut pkt = cx.alloc();
        let payload = pkt.put(self.config.payload);
        for (i, b) in payload.iter_mut().enumerate() {
            *b = Self::pattern(seq, i);
        }
        let mut rest = [0u8; 4];
        rest[..2].copy_from_slice(&self.config.ident.to_be_bytes());
        rest[2..].copy_from_slice(&seq.to_be_bytes());
        let header = IcmpHeader {
            icmp_type: ECHO_REQUEST,
            code: 0,
            checksum: 0,
            rest,
        };
        if let Err(e) = header.push_onto(&mut pkt) {
            return cx.drop_packet(pkt, e.reason());
        }
        pkt.meta_mut().dst = Some(SocketAddr::from((self.config.target, 0)));
        self.sent_at.push(cx.now());
        self.sent += 1;
        cx.send(PingerPort::Icmp, pkt);
        if self.sent < self.config.count {
            cx.start_timer(PingerTimer::Send, self.config.interval);
        }
    }

    #[on_packet(port = "icmp")]
    fn receive(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let (icmp_type, code, rest) = match IcmpHeaderView::parse(pkt.data()) {
            Ok(v) => (v.icmp_type(), v.code(), v.rest()),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        if icmp_type != ECHO_REPLY {
            let from = match pkt.meta().src {
                Some(SocketAddr::V4(a)) => *a.ip(),
                _ => Ipv4Addr::UNSPECIFIED,
            };
            self.outcomes.push(PingOutcome::Error {
                from,
                icmp_type,
                code,
            });
            return;
        }
        if u16::from_be_bytes([rest[0], rest[1]]) != self.config.ident {
            return cx.drop_packet(pkt, "echo reply for another pinger");
        }
        let seq = u16::from_be_bytes([rest[2], rest[3]]);
        let Some(sent_at) = self.sent_at.get(usize::from(seq)) else {
            return cx.drop_packet(pkt, "echo reply for a request never sent");
        };
        let payload = &pkt.data()[IcmpHeader::LEN..];
        let intact = payload.len() == self.config.payload
            && payload
                .iter()
                .enumerate()
                .all(|(i, b)| *b == Self::pattern(seq, i));
        self.outcomes.push(PingOutcome::Reply {
            seq,
            rtt: cx.now() - *sent_at,
            len: payload.len(),
            intact,
        });
    }
}
