//! `#[header(entries)]` on a field that is not `Entries<T, N>`.
use vipe_rt::prelude::*;

#[derive(Header)]
pub struct Outer {
    pub count: u8,
    #[header(entries)]
    pub items: [u8; 8],
}

fn main() {}
