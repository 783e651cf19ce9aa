//! The context of another protocol type.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
struct Other;

#[protocol]
impl Other {}

#[protocol]
impl P {
    #[on_start]
    fn start(&mut self, _cx: &mut Cx<Other>) {}
}

fn main() {}
