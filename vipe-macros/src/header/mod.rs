//! `#[derive(Header)]`: a plain struct in wire order becomes a zero-copy parser and
//! serializer built on zerocopy.
//!
//! Fields are unsigned integers (big-endian on the wire), byte arrays, or — last — the
//! variable-length options or a list of repeated entries. The attributes are documented
//! where users read them: on the derive as `vipe_rt` re-exports it
//! (`vipe-rt/src/header_derive.md`, whose examples run as doctests).

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
