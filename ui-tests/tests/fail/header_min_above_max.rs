//! A header field whose `min` is above its `max`: no value could ever parse.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct H {
    #[header(min = 10, max = 5)]
    pub hops: u8,
}

fn main() {}
