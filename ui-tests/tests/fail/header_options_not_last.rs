//! Options in the middle of the header.
use vipe_rt::Options;
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    #[header(bits = 4, header_len = "value * 4")]
    pub len: u8,
    #[header(bits = 4)]
    pub spare: u8,
    #[header(options)]
    pub options: Options,
    pub trailer: u16,
}

fn main() {}
