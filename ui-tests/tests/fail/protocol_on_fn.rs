//! `#[protocol]` on a free function.
use vipe_rt::prelude::*;

#[protocol]
fn echo(_pkt: Packet) {}

fn main() {}
