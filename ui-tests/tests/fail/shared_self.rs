//! A handler taking `&self`.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_stop]
    fn stop(&self, _cx: &mut Cx<Self>) {}
}

fn main() {}
