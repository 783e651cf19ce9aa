//! A generic protocol struct.
use vipe_rt::prelude::*;

#[protocol]
struct P<T> {
    inner: T,
}

fn main() {}
