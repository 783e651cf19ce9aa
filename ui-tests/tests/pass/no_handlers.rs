//! A protocol with no handlers at all still compiles and can be added to a node.
use vipe_rt::prelude::*;

#[protocol]
struct Idle;

#[protocol]
impl Idle {}

fn main() {
    let mut node = Node::new(NodeId(0));
    node.add(Idle);
    node.start(Instant::ZERO);
    assert_eq!(node.next_deadline(), None);
}
