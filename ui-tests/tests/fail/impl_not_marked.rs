//! `#[protocol]` on the struct, but not on its impl block.
use vipe_rt::prelude::*;

#[protocol]
struct P;

impl P {
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {
    let mut node = Node::new(NodeId(0));
    node.add(P);
}
