//! Sends datagrams to a server and records the answers and ICMP errors.

use alloc::vec::Vec;
use core::net::SocketAddr;

use vipe_rt::prelude::*;

use crate::udp::ICMP_ERROR_MARK;
use crate::wire::IcmpHeader;

/// What the client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpClientConfig {
    /// Where to.
    pub server: SocketAddr,
    /// Datagrams to send.
    pub count: u32,
    /// Payload bytes per datagram.
    pub size: usize,
    /// Time between datagrams.
    pub interval: Duration,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpEvent {
    /// A datagram from `from`.
    Datagram {
        /// The sender.
        from: SocketAddr,
        /// The payload.
        payload: Vec<u8>,
    },
    /// An ICMP error about one of our datagrams.
    IcmpError {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
    },
}

/// A UDP client: connect its `udp` port to UDP's `app(port)`.
#[protocol(name = "udp-client")]
#[derive(Debug)]
pub struct UdpClient {
    config: UdpClientConfig,
    sent: u32,
    /// What arrived, in order.
    pub events: Vec<UdpEvent>,
}

impl UdpClient {
    /// A client.
    pub fn new(config: UdpClientConfig) -> Self {
        UdpClient {
            config,
            sent: 0,
            events: Vec::new(),
        }
    }

    /// The payload of datagram `n`.
    pub fn payload(n: u32, size: usize) -> Vec<u8> {
        (0..size)
            .map(|i| (i as u32).wrapping_mul(31).wrapping_add(n) as u8)
            .collect()
    }
}

#[protocol]
impl UdpClient {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        if self.config.count > 0 {
            cx.start_timer(UdpClientTimer::Send, Duration::ZERO);
        }
    }

    #[on_timer]
    fn send(&mut self, cx: &mut Cx<Self>) {
        let mut pkt = cx.alloc();
        pkt.put_slice(&Self::payload(self.sent, self.config.size));
        pkt.meta_mut().dst = Some(self.config.server);
        self.sent += 1;
        cx.send(UdpClientPort::Udp, pkt);
        if self.sent < self.config.count {
            cx.start_timer(UdpClientTimer::Send, self.config.interval);
        }
    }

    #[on_packet(port = "udp")]
    fn receive(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        if pkt.meta().mark == ICMP_ERROR_MARK {
            let data = pkt.data();
            if data.len() >= IcmpHeader::LEN {
                self.events.push(UdpEvent::IcmpError {
                    icmp_type: data[0],
                    code: data[1],
                });
            }
            return;
        }
        let from = pkt
            .meta()
            .src
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        self.events.push(UdpEvent::Datagram {
            from,
            payload: pkt.data().to_vec(),
        });
    }
}
