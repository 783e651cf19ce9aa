//! Parse: the struct and its `#[header(...)]` attributes, through darling.

use darling::util::{Flag, Override, SpannedValue};
use darling::{FromDeriveInput, FromField};

/// `#[derive(Header)]` input: a struct with named fields, in wire order.
#[derive(Debug, FromDeriveInput)]
#[darling(attributes(header), supports(struct_named))]
pub struct HeaderInput {
    pub ident: syn::Ident,
    pub generics: syn::Generics,
    pub data: darling::ast::Data<(), HeaderField>,
    /// Path to `vipe_rt`.
    #[darling(rename = "crate")]
    pub krate: Option<syn::Path>,
    /// Option bytes must come in multiples of this (IPv4, TCP: 4).
    pub options_unit: Option<usize>,
}

/// One field and its `#[header(...)]` attributes.
#[derive(Debug, FromField)]
#[darling(attributes(header))]
pub struct HeaderField {
    pub ident: Option<syn::Ident>,
    pub ty: syn::Type,
    /// Width in bits, for a field narrower than its type.
    pub bits: Option<SpannedValue<u8>>,
    /// The one value the field may hold.
    pub expect: Option<SpannedValue<u64>>,
    /// Smallest allowed value.
    pub min: Option<SpannedValue<u64>>,
    /// Largest allowed value.
    pub max: Option<SpannedValue<u64>>,
    /// The Internet checksum: over the header (`checksum`), header and payload
    /// (`checksum = "all"`), or pseudo-header, header and payload (`checksum =
    /// "pseudo"`, UDP and TCP: the caller supplies the pseudo-header's sum).
    pub checksum: Option<SpannedValue<Override<String>>>,
    /// This field gives the header's length in bytes, as an expression of `value`.
    pub header_len: Option<syn::LitStr>,
    /// This field gives the length of header plus payload in bytes, as an expression of
    /// `value`.
    pub total_len: Option<syn::LitStr>,
    /// On emit, the field is computed from `header_len` and `payload_len`.
    pub fill: Option<syn::LitStr>,
    /// The variable-length options (type `Options`): between the fixed part and
    /// `header_len`.
    pub options: Flag,
    /// The field that names the next layer's protocol.
    pub next: Flag,
    /// Repeated fixed-length sub-headers (type `Entries<T, N>`), after the fixed part.
    pub entries: Flag,
    /// This field gives the number of repeated entries, as an expression of `value`.
    pub entry_count: Option<syn::LitStr>,
}
