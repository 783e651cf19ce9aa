//! `#[protocol(name = ...)]` with a number instead of a string.
use vipe_rt::prelude::*;

#[protocol(name = 5)]
struct P;

#[protocol]
impl P {
    #[on_start]
    fn start(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
