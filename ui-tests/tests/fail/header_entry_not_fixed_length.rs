//! A repeated entry whose own length varies (it has options).
use vipe_rt::prelude::*;
use vipe_rt::{Entries, Options};

#[derive(Header)]
pub struct Inner {
    #[header(header_len = "value * 4", fill = "header_len / 4")]
    pub words: u8,
    #[header(options)]
    pub options: Options,
}

#[derive(Header)]
pub struct Outer {
    pub count: u8,
    #[header(entries)]
    pub inner: Entries<Inner, 4>,
}

fn main() {}
