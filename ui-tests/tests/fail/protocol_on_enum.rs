//! `#[protocol]` on an enum.
use vipe_rt::prelude::*;

#[protocol]
enum State {
    Idle,
    Busy,
}

fn main() {}
