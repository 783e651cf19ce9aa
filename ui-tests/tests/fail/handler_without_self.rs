//! A handler that is an associated function (no `self`).
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    fn start(_cx: &mut Cx<Self>) {}
}

fn main() {}
