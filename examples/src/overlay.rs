//! Protocols that sit directly on datagram devices (a UDP socket on Linux): how a VIPE
//! protocol is deployed across real hosts. `DatagramPing` sends numbered probes to a
//! peer and measures round trips; `DatagramEcho` answers them.

use std::net::SocketAddr;

use vipe_rt::WiringError;
use vipe_rt::prelude::*;

/// Sends `count` probes to `peer`, one per `interval`, and records each round trip.
#[protocol(name = "datagram-ping")]
#[derive(Debug)]
pub struct DatagramPing {
    peer: SocketAddr,
    count: u32,
    interval: Duration,
    sent: u32,
    /// Round-trip times by sequence number (`None` until answered).
    pub rtts: Vec<Option<Duration>>,
}

impl DatagramPing {
    /// A pinger of `peer`.
    pub fn new(peer: SocketAddr, count: u32, interval: Duration) -> Self {
        DatagramPing {
            peer,
            count,
            interval,
            sent: 0,
            rtts: Vec::new(),
        }
    }

    /// Probes answered.
    pub fn answered(&self) -> usize {
        self.rtts.iter().flatten().count()
    }
}

#[protocol]
impl DatagramPing {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.count > 0 {
            cx.start_timer(DatagramPingTimer::Probe, Duration::ZERO);
        }
    }

    #[on_timer]
    fn probe(&mut self, cx: &mut Cx<Self>) {
        let mut pkt = cx.alloc();
        pkt.put_slice(&self.sent.to_be_bytes());
        pkt.put_slice(&cx.now().as_nanos().to_be_bytes());
        pkt.meta_mut().dst = Some(self.peer);
        self.rtts.push(None);
        self.sent += 1;
        cx.send(DatagramPingPort::Net, pkt);
        if self.sent < self.count {
            cx.start_timer(DatagramPingTimer::Probe, self.interval);
        }
    }

    #[on_packet(port = "net")]
    fn answer(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let data = pkt.data();
        let (Some(seq), Some(sent_at)) = (data.get(..4), data.get(4..12)) else {
            return cx.drop_packet(pkt, "short probe answer");
        };
        let seq = u32::from_be_bytes(seq.try_into().unwrap_or_default()) as usize;
        let sent_at =
            Instant::from_nanos(u64::from_be_bytes(sent_at.try_into().unwrap_or_default()));
        match self.rtts.get_mut(seq) {
            Some(slot @ None) => *slot = Some(cx.now() - sent_at),
            Some(Some(_)) => cx.drop_packet(pkt, "duplicate answer"),
            None => cx.drop_packet(pkt, "answer to a probe never sent"),
        }
    }
}

/// Sends every datagram back to where it came from.
#[protocol(name = "datagram-echo")]
#[derive(Debug, Default)]
pub struct DatagramEcho {
    /// Datagrams answered.
    pub answered: u64,
}

#[protocol]
impl DatagramEcho {
    #[on_packet(port = "net")]
    fn echo(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let Some(from) = pkt.meta().src else {
            return cx.drop_packet(pkt, "datagram without a source");
        };
        pkt.meta_mut().dst = Some(from);
        self.answered += 1;
        cx.send(DatagramEchoPort::Net, pkt);
    }
}

/// Adds a [`DatagramPing`] of `peer` to `node`, on datagram device `dev`: the same call
/// on every platform (a simulated underlay device, a Linux UDP socket, an ns-3 socket).
pub fn add_pinger(
    node: &mut Node,
    dev: DeviceId,
    peer: SocketAddr,
    count: u32,
    interval: Duration,
) -> Result<Handle<DatagramPing>, WiringError> {
    let ping = node.add(DatagramPing::new(peer, count, interval));
    node.attach(dev, ping.port(DatagramPingPort::Net))?;
    Ok(ping)
}

/// Adds a [`DatagramEcho`] to `node`, on datagram device `dev`.
pub fn add_echo(node: &mut Node, dev: DeviceId) -> Result<Handle<DatagramEcho>, WiringError> {
    let echo = node.add(DatagramEcho::default());
    node.attach(dev, echo.port(DatagramEchoPort::Net))?;
    Ok(echo)
}
