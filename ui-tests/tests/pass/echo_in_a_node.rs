//! A full protocol with start, stop, packet and timer handlers, run in a node.
use vipe_rt::prelude::*;

#[protocol(name = "echo")]
#[derive(Default)]
struct Echo {
    echoed: u32,
    stopped: bool,
}

#[protocol]
impl Echo {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_periodic(EchoTimer::Report, Duration::from_secs(1));
    }

    #[on_stop]
    fn stop(&mut self, _cx: &mut Cx<Self>) {
        self.stopped = true;
    }

    #[on_packet(port = "lower")]
    fn request(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        self.echoed += 1;
        cx.start_timer(EchoTimer::Forget(self.echoed, 7), Duration::from_millis(5));
        cx.send(EchoPort::Lower, pkt);
    }

    #[on_timer]
    fn report(&mut self, _cx: &mut Cx<Self>) {}

    #[on_timer]
    fn forget(&mut self, _cx: &mut Cx<Self>, _id: u32, _tag: u8) {}
}

fn main() {
    let mut node = Node::new(NodeId(1));
    let echo = node.add(Echo::default());
    let dev = node.add_device("eth0", DeviceKind::Frame);
    node.attach(dev, echo.port(EchoPort::Lower)).unwrap();
    node.start(Instant::ZERO);
    node.handle_input(Instant::from_millis(1), dev, Packet::from_slice(b"ping"));
    let tx = node.poll_transmit().expect("echoed");
    assert_eq!(tx.packet.data(), b"ping");
    assert_eq!(node.next_deadline(), Some(Instant::from_millis(6)));
    node.stop(Instant::from_millis(2));
    assert!(node.protocol(echo).unwrap().stopped);
    assert_eq!(<Echo as Protocol>::DESCRIPTOR.name, "echo");
}
