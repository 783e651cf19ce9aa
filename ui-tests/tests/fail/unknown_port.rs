//! A handler names a port the protocol did not declare.
use vipe_rt::prelude::*;

#[protocol]
struct Eth;

#[protocol(ports(lower, upper(u16)))]
impl Eth {
    #[on_packet(port = "lowr")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {}
}

fn main() {}
