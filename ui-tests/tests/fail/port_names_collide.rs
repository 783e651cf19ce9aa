//! Two declared ports whose names give the same enum variant.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(ports(lower, lower_))]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
