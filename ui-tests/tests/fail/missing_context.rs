//! A handler without the `cx: &mut Cx<Self>` parameter.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _pkt: Packet) {}
}

fn main() {}
