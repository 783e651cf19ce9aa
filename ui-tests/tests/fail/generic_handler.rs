//! A handler with generic parameters.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx<T>(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
