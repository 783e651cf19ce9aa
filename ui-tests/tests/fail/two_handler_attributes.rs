//! One method marked as two handlers.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    #[on_timer]
    fn start_or_tick(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
