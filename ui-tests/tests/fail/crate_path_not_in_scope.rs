//! `crate = "rt"` where no `rt` is in scope.
use vipe_rt::prelude::*;

#[protocol(crate = "rt")]
struct P;

#[protocol(crate = "rt")]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
