//! Two `#[on_start]` handlers.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    fn start(&mut self, _cx: &mut Cx<Self>) {}

    #[on_start]
    fn also_start(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
