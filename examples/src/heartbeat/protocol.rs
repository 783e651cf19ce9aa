//! The prober and the responder, written once against `vipe-rt`.

use std::collections::BTreeMap;

use vipe_rt::prelude::*;

use super::wire::{Heartbeat, Kind};

/// How the prober behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProberConfig {
    /// Own MAC address.
    pub mac: [u8; 6],
    /// The responder's MAC address.
    pub peer: [u8; 6],
    /// Probes to send.
    pub count: u32,
    /// Time between new probes.
    pub interval: Duration,
    /// Retransmission timeout.
    pub rto: Duration,
    /// Retransmissions before a probe is given up.
    pub max_retries: u8,
}

/// What became of one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Still waiting for a reply.
    Pending,
    /// Answered: the RTT of the answered attempt, and how many attempts were sent.
    Answered {
        /// Round-trip time of the attempt that was answered.
        rtt: Duration,
        /// Transmissions of this probe (1 = no retransmission).
        attempts: u8,
    },
    /// No reply after every retransmission.
    GaveUp {
        /// Transmissions of this probe.
        attempts: u8,
    },
}

/// Sends numbered probes, retransmits each on timeout, measures RTTs.
#[protocol(name = "heartbeat-prober")]
#[derive(Debug)]
pub struct Prober {
    config: ProberConfig,
    next_seq: u32,
    /// Per probe: attempts sent so far and outcome.
    probes: BTreeMap<u32, (u8, ProbeOutcome)>,
    /// Transmissions after the first, over all probes.
    pub retransmissions: u64,
    /// Replies for probes already answered or given up.
    pub duplicate_replies: u64,
}

impl Prober {
    /// A prober that will send `config.count` probes.
    pub fn new(config: ProberConfig) -> Self {
        Prober {
            config,
            next_seq: 0,
            probes: BTreeMap::new(),
            retransmissions: 0,
            duplicate_replies: 0,
        }
    }

    /// Every probe sent so far with its outcome, by sequence number.
    pub fn outcomes(&self) -> impl Iterator<Item = (u32, ProbeOutcome)> + '_ {
        self.probes
            .iter()
            .map(|(seq, (_, outcome))| (*seq, *outcome))
    }

    /// Whether every probe has been answered or given up.
    pub fn done(&self) -> bool {
        self.next_seq == self.config.count
            && self
                .probes
                .values()
                .all(|(_, o)| !matches!(o, ProbeOutcome::Pending))
    }

    fn transmit(&mut self, cx: &mut Cx<Self>, seq: u32, attempt: u8) {
        let mut pkt = cx.alloc();
        Heartbeat {
            dst: self.config.peer,
            src: self.config.mac,
            kind: Kind::Probe,
            seq,
            attempt,
            sent_at: cx.now(),
        }
        .emit(&mut pkt);
        cx.send(ProberPort::Lower, pkt);
        cx.start_timer(ProberTimer::Retransmit(seq), self.config.rto);
    }
}

#[protocol]
impl Prober {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.config.count > 0 {
            cx.start_timer(ProberTimer::Probe, Duration::ZERO);
        }
    }

    #[on_timer]
    fn probe(&mut self, cx: &mut Cx<Self>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.probes.insert(seq, (1, ProbeOutcome::Pending));
        self.transmit(cx, seq, 0);
        if self.next_seq < self.config.count {
            cx.start_timer(ProberTimer::Probe, self.config.interval);
        }
    }

    #[on_timer]
    fn retransmit(&mut self, cx: &mut Cx<Self>, seq: u32) {
        let Some((attempts, outcome)) = self.probes.get_mut(&seq) else {
            return;
        };
        if *outcome != ProbeOutcome::Pending {
            return;
        }
        if *attempts > self.config.max_retries {
            *outcome = ProbeOutcome::GaveUp {
                attempts: *attempts,
            };
            cx.count("probes given up");
            return;
        }
        let attempt = *attempts;
        *attempts += 1;
        self.retransmissions += 1;
        self.transmit(cx, seq, attempt);
    }

    #[on_packet(port = "lower")]
    fn reply(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let hb = match Heartbeat::parse(pkt.data()) {
            Ok(hb) if hb.kind == Kind::Reply && hb.dst == self.config.mac => hb,
            Ok(_) => return cx.drop_packet(pkt, "not a reply for us"),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        match self.probes.get_mut(&hb.seq) {
            Some((attempts, outcome @ ProbeOutcome::Pending)) => {
                *outcome = ProbeOutcome::Answered {
                    rtt: cx.now() - hb.sent_at,
                    attempts: *attempts,
                };
                cx.cancel_timer(&ProberTimer::Retransmit(hb.seq));
                cx.count("replies");
            }
            Some(_) => {
                self.duplicate_replies += 1;
                cx.drop_packet(pkt, "duplicate reply");
            }
            None => cx.drop_packet(pkt, "reply for a probe never sent"),
        }
    }
}

/// Answers every probe addressed to it with a reply echoing the probe's fields.
#[protocol(name = "heartbeat-responder")]
#[derive(Debug)]
pub struct Responder {
    mac: [u8; 6],
    /// Probes answered.
    pub answered: u64,
}

impl Responder {
    /// A responder owning `mac`.
    pub fn new(mac: [u8; 6]) -> Self {
        Responder { mac, answered: 0 }
    }
}

#[protocol]
impl Responder {
    #[on_packet(port = "lower")]
    fn probe(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let probe = match Heartbeat::parse(pkt.data()) {
            Ok(hb) if hb.kind == Kind::Probe && hb.dst == self.mac => hb,
            Ok(_) => return cx.drop_packet(pkt, "not a probe for us"),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        drop(pkt);
        let mut reply = cx.alloc();
        Heartbeat {
            dst: probe.src,
            src: self.mac,
            kind: Kind::Reply,
            ..probe
        }
        .emit(&mut reply);
        self.answered += 1;
        cx.send(ResponderPort::Lower, reply);
    }
}
