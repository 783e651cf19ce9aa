//! An `#[on_start]` handler with a parameter after the context.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    fn start(&mut self, _cx: &mut Cx<Self>, _now: Instant) {}
}

fn main() {}
