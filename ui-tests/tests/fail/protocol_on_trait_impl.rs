//! `#[protocol]` on a trait impl.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl Default for P {
    fn default() -> Self {
        P
    }
}

fn main() {}
