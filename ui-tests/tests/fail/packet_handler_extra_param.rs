//! An `#[on_packet]` handler with a parameter after the key.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "upper")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet, _key: u16, _extra: u8) {}
}

fn main() {}
