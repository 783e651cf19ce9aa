//! A handler taking `self` by value.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_timer]
    fn tick(self, _cx: &mut Cx<Self>) {}
}

fn main() {}
