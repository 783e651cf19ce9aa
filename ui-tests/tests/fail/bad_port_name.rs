//! A port name that is not a snake_case identifier.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "Lower Port")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
