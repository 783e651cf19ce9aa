//! A packet handler with its context and packet parameters swapped.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _pkt: Packet, _cx: &mut Cx<Self>) {}
}

fn main() {}
