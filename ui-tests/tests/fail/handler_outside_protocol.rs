//! A handler attribute in an impl block without `#[protocol]`.
use vipe_rt::prelude::*;

struct P;

impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
