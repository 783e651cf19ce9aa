//! Handlers split across two `#[protocol]` impl blocks of one protocol.
use vipe_rt::prelude::*;

#[protocol]
struct P;

#[protocol]
impl P {
    #[on_start]
    fn start(&mut self, _cx: &mut Cx<Self>) {}
}

/// Helpers without handlers may live in a plain impl block.
impl P {
    fn helper(&self) -> u32 {
        1
    }
}

#[protocol]
impl P {
    #[on_packet(port = "lower")]
    fn rx(&mut self, _cx: &mut Cx<Self>, _pkt: Packet) {
        let _ = self.helper();
    }
}

fn main() {}
