//! Sends every datagram back where it came from.

use vipe_rt::prelude::*;

/// A UDP echo server: connect its `udp` port to UDP's `app(port)`.
#[protocol(name = "udp-echo")]
#[derive(Debug, Default)]
pub struct UdpEcho {
    /// Datagrams echoed.
    pub echoed: u64,
}

#[protocol]
impl UdpEcho {
    #[on_packet(port = "udp")]
    fn echo(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        if pkt.meta().mark != 0 {
            return cx.drop_packet(pkt, "ICMP error");
        }
        let meta = pkt.meta_mut();
        core::mem::swap(&mut meta.src, &mut meta.dst);
        self.echoed += 1;
        cx.send(UdpEchoPort::Udp, pkt);
    }
}
