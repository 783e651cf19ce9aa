//! A misspelt argument of `#[protocol(...)]` on the impl.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol(prots(lower))]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
