//! A timer name that is not an enum variant name.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_timer(name = "re transmit")]
    fn retransmit(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
