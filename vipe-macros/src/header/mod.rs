//! `#[derive(Header)]`: a plain struct in wire order becomes a zero-copy parser and
//! serializer built on zerocopy.
//!
//! Fields are unsigned integers (big-endian on the wire), byte arrays, or — last — the
//! variable-length options. `#[header(bits = N)]` packs narrower fields MSB-first, in
//! network order; a group of bit fields must end on a byte boundary. Other field
//! attributes: `expect`, `min`, `max` (validated by parse), `checksum` (the Internet
//! checksum over the header, or `checksum = "all"` over header and payload),
//! `header_len = "expr of value"`, `total_len = "expr of value"`, `fill = "expr of
//! header_len and payload_len"` (computed on emit), `options`, `next` (demultiplexing).

mod expand;
mod model;
mod parse;
mod validate;

use darling::FromDeriveInput;
use proc_macro2::TokenStream;

use crate::util::errors_to_tokens;

/// Entry point of the derive.
pub fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = darling::Error::accumulator();
    let parsed = errors.handle(parse::HeaderInput::from_derive_input(&input));
    let model = parsed.and_then(|parsed| validate::validate(parsed, &mut errors));
    match errors.finish() {
        Ok(()) => model.map(|m| expand::expand(&m)).unwrap_or_default(),
        Err(errors) => errors_to_tokens(errors),
    }
}

#[cfg(test)]
mod tests;
