//! Several mistakes in one impl block are all reported, not only the first.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    async fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}

    #[on_timer]
    fn tick(self, _cx: &mut Cx<Self>) {}

    #[on_start]
    fn start(&mut self) {}
}

fn main() {}
