//! The packet taken by reference instead of by value.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: &Packet) {}
}

fn main() {}
