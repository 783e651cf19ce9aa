//! A length expression that does not parse.
use vipe_rt::Options;
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    #[header(bits = 4, header_len = "value *")]
    pub len: u8,
    #[header(bits = 4)]
    pub spare: u8,
    #[header(options)]
    pub options: Options,
}

fn main() {}
