//! `#[protocol]` on a generic impl block.
use vipe_rt::prelude::*;

#[protocol]
struct P;

struct Q<T>(T);

#[protocol]
impl<T: 'static> Q<T> {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
