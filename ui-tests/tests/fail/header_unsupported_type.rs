//! A field type headers cannot carry.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    pub kind: u8,
    pub offset: i32,
}

fn main() {}
