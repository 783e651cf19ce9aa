//! A derived header used from a protocol handler: parse, count bad input, rewrite in place.
use vipe_rt::prelude::*;

#[derive(Header, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiny {
    #[header(bits = 4, expect = 1)]
    pub version: u8,
    #[header(bits = 4)]
    pub hops: u8,
    #[header(total_len = "value", fill = "header_len + payload_len")]
    pub len: u8,
    #[header(checksum = "all")]
    pub sum: u16,
}

#[protocol]
#[derive(Default)]
struct Hop;

#[protocol]
impl Hop {
    #[on_packet(port = "lower")]
    fn rx(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let hops = match TinyView::parse(pkt.data_mut()) {
            Ok(mut tiny) if tiny.verify_checksum() => {
                let hops = tiny.hops() + 1;
                tiny.set_hops_update_checksum(hops);
                hops
            }
            Ok(_) => return cx.drop_packet(pkt, "bad checksum"),
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        let _ = hops;
        cx.send(HopPort::Lower, pkt);
    }
}

fn main() {
    let mut pkt = Packet::from_slice(b"hello");
    Tiny {
        version: 1,
        hops: 0,
        len: 0,
        sum: 0,
    }
    .push_onto(&mut pkt)
    .unwrap();
    let mut node = Node::new(NodeId(0));
    let hop = node.add(Hop);
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, hop.port(HopPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    node.handle_input(Instant::ZERO, dev, pkt);
    let out = node.poll_transmit().unwrap().packet;
    let view = TinyView::parse(out.data()).unwrap();
    assert_eq!(view.hops(), 1);
    assert!(view.verify_checksum());
    assert_eq!(view.payload(), b"hello");
    node.handle_input(Instant::ZERO, dev, Packet::from_slice(&[0x20, 4, 0, 0]));
    assert_eq!(node.stats().drops_for("unexpected header field value"), 1);
}
