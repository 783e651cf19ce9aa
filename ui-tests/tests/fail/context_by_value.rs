//! The context taken by value.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    fn start(&mut self, _cx: Cx<Self>) {}
}

fn main() {}
