//! Two handlers that define the same timer.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_timer]
    fn tick(&mut self, _cx: &mut Cx<Self>) {}

    #[on_timer(name = "Tick")]
    fn other(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
