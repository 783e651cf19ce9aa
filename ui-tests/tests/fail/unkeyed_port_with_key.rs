//! A handler taking a key for a port declared without one.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(ports(lower))]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet, _key: u16) {}
}

fn main() {}
