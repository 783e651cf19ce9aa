//! `crate = "..."` for a re-exported vipe_rt.
mod reexport {
    pub use vipe_rt as rt;
}

use reexport::rt::prelude::{Cx, Packet};

#[reexport::rt::protocol(crate = "reexport::rt")]
struct Quiet;

#[reexport::rt::protocol(crate = "reexport::rt")]
impl Quiet {
    #[reexport::rt::on_packet(port = "lower")]
    fn rx(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.drop_packet(pkt, "quiet");
    }
}

fn main() {
    let _ = QuietPort::Lower;
}
