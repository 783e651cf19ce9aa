//! A handler that returns a value.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) -> bool {
        true
    }
}

fn main() {}
