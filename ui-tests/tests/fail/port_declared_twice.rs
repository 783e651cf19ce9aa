//! The same port declared twice in `ports(...)`.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(ports(lower, upper, lower))]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
