//! `#[on_packet]`, `#[on_timer]`, `#[on_start]`, `#[on_stop]` seen on their own.
//!
//! Inside a `#[protocol]` impl block these attributes are read and removed by
//! `#[protocol]` before they can expand, so if one of these macros runs at all, the method
//! is not inside a protocol impl: that is the error reported here.

use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The error for a handler attribute used outside a `#[protocol]` impl block; the item is
/// emitted unchanged so no follow-up errors drown the message.
pub fn outside_protocol(name: &str, _attr: TokenStream, item: TokenStream) -> TokenStream {
    let message = format!(
        "`#[{name}]` only works on a method inside an `impl` block marked `#[protocol]`\n\
         help: add `#[protocol]` to the impl block (and to the protocol's struct)"
    );
    let error = syn::Error::new(Span::call_site(), message).to_compile_error();
    quote!(#error #item)
}
