//! `#[on_stop]` given arguments it does not take.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_stop(graceful)]
    fn stop(&mut self, _cx: &mut Cx<Self>) {}
}

fn main() {}
