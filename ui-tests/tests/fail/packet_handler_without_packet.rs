//! An `#[on_packet]` handler that forgot the packet parameter.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
