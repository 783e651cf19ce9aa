//! `#[protocol]` on the impl block, but not on the struct.
use vipe_rt::prelude::*;

struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
