//! A checksum field that is not a 16-bit word.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    pub kind: u8,
    #[header(checksum)]
    pub sum: u8,
}

fn main() {}
