//! A handler whose key type differs from the declared key type.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(ports(upper(u16)))]
impl P {
    #[on_packet(port = "upper")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet, _key: u32) {}
}

fn main() {}
