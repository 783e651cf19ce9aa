//! A declared keyed port whose handler does not take the key.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(ports(upper(u16)))]
impl P {
    #[on_packet(port = "upper")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
