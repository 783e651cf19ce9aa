//! `#[on_packet]` without saying which port.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
