//! An `impl Trait` timer argument.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_timer]
    fn expire(&mut self, _cx: &mut Cx<Self>, _id: impl Copy) {}
}

fn main() {}
