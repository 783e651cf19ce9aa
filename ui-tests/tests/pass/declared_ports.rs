//! Ports declared in full: a keyed port and a send-only port.
use vipe_rt::PortSet;
use vipe_rt::prelude::*;

#[protocol]
struct Mux;

#[protocol(ports(lower, upper(u16), stats))]
impl Mux {
    #[on_packet(port = "lower")]
    fn up(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(MuxPort::Upper(0x0800), pkt);
    }

    #[on_packet(port = "upper")]
    fn down(&mut self, cx: &mut Cx<Self>, pkt: Packet, ethertype: u16) {
        let _ = ethertype;
        cx.send(MuxPort::Stats, pkt);
    }
}

fn main() {
    assert_eq!(MuxPort::Upper(0x86dd).key(), Some(0x86dd));
    assert_eq!(
        MuxPort::from_parts(1, Some(0x0800)),
        Some(MuxPort::Upper(0x0800))
    );
    assert_eq!(
        MuxPort::from_parts(1, Some(0x1_0000)),
        None,
        "key out of u16 range"
    );
    assert_eq!(MuxPort::Stats.index(), 2);
    assert_eq!(<Mux as Protocol>::DESCRIPTOR.ports[2].handler, None);
}
