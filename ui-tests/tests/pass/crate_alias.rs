//! `crate = "..."` naming vipe_rt through a `use` alias: `rt` where the alias is in scope,
//! `crate::rt` from a module below it.
use vipe_rt as rt;

use rt::prelude::*;

#[protocol(crate = "rt")]
struct Top;

#[protocol(crate = "rt")]
impl Top {
    #[on_packet(port = "lower")]
    fn rx(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.send(TopPort::Lower, pkt);
    }
}

mod nested {
    use crate::rt::prelude::*;

    #[protocol(crate = "crate::rt")]
    pub struct Inner;

    #[protocol(crate = "crate::rt")]
    impl Inner {
        #[on_timer]
        fn tick(&mut self, _cx: &mut Cx<Self>, _round: u32) {}
    }
}

fn main() {
    use rt::{PortSet, TimerKey};
    assert_eq!(TopPort::Lower.index(), 0);
    assert_eq!(nested::InnerTimer::Tick(3).index(), 0);
    assert_eq!(
        <nested::Inner as Protocol>::DESCRIPTOR.timers[0].args,
        &["u32"]
    );
    let mut node = Node::new(NodeId(0));
    let top = node.add(Top);
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, top.port(TopPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    node.handle_input(Instant::ZERO, dev, Packet::from_slice(b"x"));
    assert_eq!(node.poll_transmit().unwrap().packet.data(), b"x");
}
