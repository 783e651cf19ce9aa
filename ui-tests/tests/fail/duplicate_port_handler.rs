//! Two handlers for one port.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn first(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}

    #[on_packet(port = "lower")]
    fn second(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
