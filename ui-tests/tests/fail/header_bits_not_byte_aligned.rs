//! A group of bit fields that does not end on a byte boundary.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    #[header(bits = 4)]
    pub version: u8,
    #[header(bits = 3)]
    pub ihl: u8,
    pub tos: u8,
}

fn main() {}
