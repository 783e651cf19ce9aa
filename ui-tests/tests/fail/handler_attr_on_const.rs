//! A handler attribute on an associated const inside a `#[protocol]` impl.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    const START: u8 = 0;
}

fn main() {}
