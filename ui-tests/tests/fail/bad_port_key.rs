//! A port keyed by a type that cannot key a port.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "upper")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet, _key: String) {}
}

fn main() {}
