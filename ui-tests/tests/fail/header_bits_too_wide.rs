//! More bits than the field's type holds.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Broken {
    #[header(bits = 12)]
    pub flags: u8,
    #[header(bits = 4)]
    pub rest: u8,
}

fn main() {}
