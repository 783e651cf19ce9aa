//! A timer argument that cannot be part of a key (`f64` has no `Eq` or `Hash`).
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_timer]
    fn backoff(&mut self, _cx: &mut Cx<Self>, _factor: f64) {}
}

fn main() {}
