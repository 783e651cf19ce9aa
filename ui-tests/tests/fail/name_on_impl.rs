//! `name = ...` (a struct argument) given on the impl block.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(name = "p")]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
