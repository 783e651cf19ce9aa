//! An expected value wider than its field.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    #[header(bits = 4, expect = 16)]
    pub version: u8,
    #[header(bits = 4)]
    pub rest: u8,
}

fn main() {}
