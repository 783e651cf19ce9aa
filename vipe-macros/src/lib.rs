//! Procedural macros of VIPE. Use them through `vipe_rt` (`use vipe_rt::prelude::*`).
//!
//! Each macro lives in its own folder and is split the same way: **parse** (darling and
//! syn turn tokens into raw attribute and signature data), **validate** (raw data becomes
//! a checked model, every error collected with a span and a hint), **expand** (the model
//! becomes code). Expansions are snapshot-tested with `insta`; misuse has a `trybuild`
//! case in `ui-tests/`.

use proc_macro::TokenStream;

mod handler;
mod header;
mod protocol;
mod util;

/// Declares a protocol. Put it on the state struct and on the impl block holding its
/// handlers.
///
/// On the struct: `#[protocol]`, or `#[protocol(name = "echo")]` to name it in traces,
/// and `crate = "path::to::vipe_rt"` when `vipe_rt` is re-exported under another path.
///
/// On the impl: generates `<Name>Port` (one variant per port; a keyed port's variant
/// carries its key), `<Name>Timer` (one variant per `#[on_timer]` handler, carrying its
/// extra arguments), the dispatch `match` and a static descriptor table.
/// Ports are inferred from the handlers, or declared in full with
/// `#[protocol(ports(lower, upper(u16), report))]` (which also allows send-only ports and
/// catches misspelt port names). With four ports or more the first one (declared or, when
/// inferred, of the first handler) is dispatched with one comparison and the others behind
/// it as the rarer path: put the busiest port first.
#[proc_macro_attribute]
pub fn protocol(attr: TokenStream, item: TokenStream) -> TokenStream {
    protocol::expand(attr.into(), item.into()).into()
}

/// Marks the handler for packets arriving on a port: `#[on_packet(port = "lower")]`.
/// Signature: `fn(&mut self, cx: &mut Cx<Self>, pkt: Packet)`, plus `key: K` for a keyed
/// port. Only valid inside a `#[protocol]` impl block.
#[proc_macro_attribute]
pub fn on_packet(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::outside_protocol("on_packet", attr.into(), item.into()).into()
}

/// Marks a timer handler: `#[on_timer]` or `#[on_timer(name = "Rto")]`. Its extra
/// arguments become the timer's payload: `fn retransmit(&mut self, cx: &mut Cx<Self>,
/// seq: u32)` is armed as `<Name>Timer::Retransmit(seq)`. Only valid inside a
/// `#[protocol]` impl block.
#[proc_macro_attribute]
pub fn on_timer(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::outside_protocol("on_timer", attr.into(), item.into()).into()
}

/// Marks the handler run when the node starts the instance:
/// `fn(&mut self, cx: &mut Cx<Self>)`. Only valid inside a `#[protocol]` impl block.
#[proc_macro_attribute]
pub fn on_start(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::outside_protocol("on_start", attr.into(), item.into()).into()
}

/// Marks the handler run when the node stops the instance:
/// `fn(&mut self, cx: &mut Cx<Self>)`. Only valid inside a `#[protocol]` impl block.
#[proc_macro_attribute]
pub fn on_stop(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::outside_protocol("on_stop", attr.into(), item.into()).into()
}

/// Derives a zero-copy parser and serializer for a protocol header written as a plain
/// struct in wire order. Use it as `vipe_rt::Header`, whose documentation lists every
/// attribute (bit fields, expected values and ranges, checksums over the header, the
/// payload or a pseudo-header, length fields, options, repeated entries) with examples.
#[proc_macro_derive(Header, attributes(header))]
pub fn derive_header(input: TokenStream) -> TokenStream {
    header::derive(input.into()).into()
}
