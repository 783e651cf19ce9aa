//! `#[derive(Header)]` on an enum.
use vipe_rt::prelude::*;

#[derive(Header)]
pub enum Broken {
    A,
    B,
}

fn main() {}
