//! Expand: the layout struct (zerocopy), the view over byte slices, parse, emit,
//! checksums, and the `Header` impl.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::{Coverage, Field, FieldKind, Model, UnitKind};

pub fn expand(model: &Model) -> TokenStream {
    let layout = layout_struct(model);
    let view = view_type(model);
    let owned = owned_impl(model);
    quote! {
        #layout
        #view
        #owned
    }
}

fn names(model: &Model) -> (syn::Ident, syn::Ident) {
    (
        format_ident!("{}Layout", model.ident),
        format_ident!("{}View", model.ident),
    )
}

fn layout_struct(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let (layout, _) = names(model);
    let zc = quote!(#krate::__private::zerocopy);
    let zc_path = format!("{}::__private::zerocopy", path_text(krate));
    let members = model.units.iter().map(|u| {
        let name = &u.name;
        let ty = match u.kind {
            UnitKind::Int { bytes: 1 } => quote!(u8),
            UnitKind::Int { bytes: 2 } => quote!(#zc::byteorder::network_endian::U16),
            UnitKind::Int { bytes: 4 } => quote!(#zc::byteorder::network_endian::U32),
            UnitKind::Int { bytes: _ } => quote!(#zc::byteorder::network_endian::U64),
            UnitKind::Bytes { len } => quote!([u8; #len]),
        };
        quote!(#name: #ty)
    });
    let len = model.len;
    let doc = format!(
        "The fixed part of [`{}`] as it lies on the wire ({len} bytes), for zerocopy.",
        model.ident
    );
    quote! {
        #[doc = #doc]
        #[derive(#zc::FromBytes, #zc::IntoBytes, #zc::KnownLayout, #zc::Immutable, #zc::Unaligned)]
        #[zerocopy(crate = #zc_path)]
        #[repr(C)]
        #[allow(non_snake_case)]
        pub struct #layout {
            #(#members,)*
        }

        const _: () = ::core::assert!(
            ::core::mem::size_of::<#layout>() == #len,
            "the header layout's size differs from the sum of its fields"
        );
    }
}

fn path_text(path: &syn::Path) -> String {
    let mut s = String::new();
    if path.leading_colon.is_some() {
        s.push_str("::");
    }
    let segs: Vec<String> = path
        .segments
        .iter()
        .map(|seg| seg.ident.to_string())
        .collect();
    s.push_str(&segs.join("::"));
    s
}

/// Byte offset at which each unit starts.
fn unit_starts(model: &Model) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    for unit in &model.units {
        starts.push(at);
        at += match unit.kind {
            UnitKind::Int { bytes } => bytes,
            UnitKind::Bytes { len } => len,
        };
    }
    starts
}

/// (unit name, unit length, unit start) holding `field`.
fn unit_of<'a>(
    model: &'a Model,
    starts: &[usize],
    field: &Field,
) -> (&'a syn::Ident, usize, usize) {
    let index = starts
        .iter()
        .rposition(|&s| s <= field.byte_start())
        .unwrap_or(0);
    let unit = &model.units[index];
    let len = match unit.kind {
        UnitKind::Int { bytes } => bytes,
        UnitKind::Bytes { len } => len,
    };
    (&unit.name, len, starts[index])
}

fn err(model: &Model, field: &str, kind: TokenStream) -> TokenStream {
    let krate = &model.krate;
    let name = model.ident.to_string();
    quote!(#krate::HeaderError { header: #name, field: #field, kind: #krate::HeaderErrorKind::#kind })
}

/// Getter and setter bodies for one field.
fn accessors(model: &Model, starts: &[usize], field: &Field) -> (TokenStream, TokenStream) {
    let krate = &model.krate;
    let ty = &field.ty;
    let (unit, unit_len, unit_start) = unit_of(model, starts, field);
    match field.kind {
        FieldKind::Array { .. } => (
            quote!(self.header.#unit),
            quote!(self.header.#unit = value;),
        ),
        FieldKind::Int { bytes } if field.is_aligned_int() => {
            if bytes == 1 {
                (
                    quote!(self.header.#unit),
                    quote!(self.header.#unit = value;),
                )
            } else {
                (
                    quote!(self.header.#unit.get()),
                    quote!(self.header.#unit.set(value);),
                )
            }
        }
        _ => {
            let rel = field.bit_start - unit_start * 8;
            let shift = (unit_len * 8 - rel - field.bits) as u32;
            let mask: u128 = if field.bits >= 128 {
                u128::MAX
            } else {
                (1u128 << field.bits) - 1
            };
            (
                quote!(#krate::__private::read_bits(&self.header.#unit, #shift, #mask) as #ty),
                quote!(#krate::__private::write_bits(&mut self.header.#unit, #shift, #mask, value as u128);),
            )
        }
    }
}

fn view_type(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let zc = quote!(#krate::__private::zerocopy);
    let (layout, view) = names(model);
    let ident = &model.ident;
    let len = model.len;
    let starts = unit_starts(model);

    let mut getters = Vec::new();
    let mut setters = Vec::new();
    let mut checks = Vec::new();
    let mut owned_fields = Vec::new();
    for field in &model.fields {
        let f = &field.ident;
        let fname = f.to_string();
        if field.kind == FieldKind::Options {
            owned_fields
                .push(quote!(#f: #krate::Options::from_slice(self.options()).unwrap_or_default()));
            continue;
        }
        if field.kind == FieldKind::Entries {
            let elem = &model.entries.as_ref().expect("entries field").elem;
            let bytes_f = format_ident!("{}_bytes", f);
            let count_f = format_ident!("{}_count", f);
            let doc = format!(
                "The `{fname}` entries, each parsed (and validated by `parse`) from its bytes."
            );
            let doc_bytes = format!("The bytes of the `{fname}` entries.");
            let doc_count = format!("Number of `{fname}` entries.");
            getters.push(quote! {
                #[doc = #doc]
                pub fn #f(&self) -> impl ::core::iter::Iterator<Item = #elem> + '_ {
                    self.rest[..self.options_len]
                        .chunks_exact(<#elem as #krate::Header>::LEN)
                        .filter_map(|chunk| <#elem as #krate::Header>::parse_owned(chunk).ok())
                }

                #[doc = #doc_bytes]
                #[inline]
                pub fn #bytes_f(&self) -> &[u8] {
                    &self.rest[..self.options_len]
                }

                #[doc = #doc_count]
                #[inline]
                pub fn #count_f(&self) -> usize {
                    self.options_len / <#elem as #krate::Header>::LEN
                }
            });
            let ty = &field.ty;
            owned_fields.push(quote!(#f: <#ty>::from_iter_bounded(self.#f()).unwrap_or_default()));
            continue;
        }
        let ty = &field.ty;
        let (get, set) = accessors(model, &starts, field);
        let doc_get = format!(
            "The `{fname}` field ({} bits at bit {}).",
            field.bits, field.bit_start
        );
        getters.push(quote! {
            #[doc = #doc_get]
            #[inline]
            pub fn #f(&self) -> #ty {
                #get
            }
        });
        owned_fields.push(quote!(#f: self.#f()));
        let set_f = format_ident!("set_{}", f);
        let try_set_f = format_ident!("try_set_{}", f);
        let doc_set = format!("Sets `{fname}`; bits beyond the field's width are dropped.");
        setters.push(quote! {
            #[doc = #doc_set]
            #[inline]
            pub fn #set_f(&mut self, value: #ty) {
                #set
            }
        });
        if let FieldKind::Int { .. } = field.kind {
            let bits = field.bits as u8;
            let too_wide = err(
                model,
                &fname,
                quote!(TooWide { bits: #bits, value: value as u64 }),
            );
            let doc =
                format!("Sets `{fname}`, or fails if the value does not fit its {bits} bits.");
            setters.push(quote! {
                #[doc = #doc]
                #[inline]
                pub fn #try_set_f(&mut self, value: #ty) -> ::core::result::Result<(), #krate::HeaderError> {
                    if (#bits as u32) < #ty::BITS && (value as u64) >> #bits != 0 {
                        return ::core::result::Result::Err(#too_wide);
                    }
                    self.#set_f(value);
                    ::core::result::Result::Ok(())
                }
            });
            if let Some((cs_index, _)) = model.checksum
                && model.fields[cs_index].ident != *f
            {
                let cs = &model.fields[cs_index].ident;
                let set_cs = format_ident!("set_{}", cs);
                let set_inc = format_ident!("set_{}_update_checksum", f);
                let word_start = field.byte_start() & !1;
                let word_end = (field.byte_end() + 1) & !1;
                let n = word_end - word_start;
                let doc = format!(
                    "Sets `{fname}` and updates `{cs}` incrementally (RFC 1624) instead of recomputing it."
                );
                setters.push(quote! {
                    #[doc = #doc]
                    #[inline]
                    pub fn #set_inc(&mut self, value: #ty) {
                        let mut old = [0u8; #n];
                        old.copy_from_slice(&#zc::IntoBytes::as_bytes(&*self.header)[#word_start..#word_end]);
                        self.#set_f(value);
                        let new = &#zc::IntoBytes::as_bytes(&*self.header)[#word_start..#word_end];
                        let updated = #krate::checksum::update_bytes(self.#cs(), &old, new);
                        self.#set_cs(updated);
                    }
                });
            }
            let value_expr = quote!(self.#f() as u64);
            if let Some(expected) = field.expect {
                let e = err(
                    model,
                    &fname,
                    quote!(Unexpected { expected: #expected, found: value }),
                );
                checks.push(quote! {
                    let value = #value_expr;
                    if value != #expected {
                        return ::core::result::Result::Err(#e);
                    }
                });
            }
            if field.min.is_some() || field.max.is_some() {
                let min = field.min.unwrap_or(0);
                let max = field.max.unwrap_or(u64::MAX);
                let e = err(
                    model,
                    &fname,
                    quote!(OutOfRange { min: #min, max: #max, found: value }),
                );
                checks.push(quote! {
                    let value = #value_expr;
                    if !(#min..=#max).contains(&value) {
                        return ::core::result::Result::Err(#e);
                    }
                });
            }
        }
    }

    let truncated = err(model, "", quote!(Truncated { needed: #len, available }));
    let header_len_calc = match &model.header_len {
        Some((index, expr)) => {
            let f = &model.fields[*index].ident;
            let fname = f.to_string();
            let bad = err(
                model,
                &fname,
                quote!(BadLength { declared: header_len, min: #len, max: available }),
            );
            let bad_options = err(model, &fname, quote!(BadOptions { len: header_len - #len }));
            let calc = quote! {
                let header_len: usize = {
                    #[allow(unused_variables)]
                    let value = view.#f() as usize;
                    #expr
                };
                if header_len < #len || header_len > available {
                    return ::core::result::Result::Err(#bad);
                }
            };
            match model.options {
                Some(_) => quote! {
                    #calc
                    if header_len - #len > #krate::header::MAX_OPTIONS {
                        return ::core::result::Result::Err(#bad_options);
                    }
                },
                None => calc,
            }
        }
        None => match (&model.entries, &model.entry_count) {
            (Some(entries), Some((index, expr))) => {
                let f = &model.fields[*index].ident;
                let fname = f.to_string();
                let elem = &entries.elem;
                let entries_ty = &model.fields[entries.index].ty;
                let too_many = err(
                    model,
                    &fname,
                    quote!(TooManyEntries { count, max: <#entries_ty>::MAX }),
                );
                let bad = err(
                    model,
                    &fname,
                    quote!(BadLength { declared: header_len, min: #len, max: available }),
                );
                quote! {
                    let count: usize = {
                        #[allow(unused_variables)]
                        let value = view.#f() as usize;
                        #expr
                    };
                    if count > <#entries_ty>::MAX {
                        return ::core::result::Result::Err(#too_many);
                    }
                    let header_len: usize = #len + count * <#elem as #krate::Header>::LEN;
                    if header_len > available {
                        return ::core::result::Result::Err(#bad);
                    }
                }
            }
            _ => quote!(let header_len: usize = #len;),
        },
    };
    // Entries without a count or header length run to the end of the packet (or of
    // `total_len`): the header takes all of it.
    let rest_entries =
        model.entries.is_some() && model.entry_count.is_none() && model.header_len.is_none();
    let entries_check = model.entries.as_ref().map(|entries| {
        let elem = &entries.elem;
        let entries_ty = &model.fields[entries.index].ty;
        let fname = model.fields[entries.index].ident.to_string();
        let ragged = err(
            model,
            &fname,
            quote!(RaggedEntries { len: entries_len, entry_len: <#elem as #krate::Header>::LEN }),
        );
        let too_many = err(
            model,
            &fname,
            quote!(TooManyEntries { count: entries_len / <#elem as #krate::Header>::LEN, max: <#entries_ty>::MAX }),
        );
        let take_rest = rest_entries.then(|| quote!(let header_len = total_len;));
        quote! {
            #take_rest
            let entries_len = header_len - #len;
            if entries_len % <#elem as #krate::Header>::LEN != 0 {
                return ::core::result::Result::Err(#ragged);
            }
            if entries_len / <#elem as #krate::Header>::LEN > <#entries_ty>::MAX {
                return ::core::result::Result::Err(#too_many);
            }
            for chunk in view.rest[..entries_len].chunks_exact(<#elem as #krate::Header>::LEN) {
                <#elem as #krate::Header>::parse_owned(chunk)?;
            }
        }
    });
    let total_len_calc = match &model.total_len {
        Some((index, expr)) => {
            let f = &model.fields[*index].ident;
            let fname = f.to_string();
            let bad = err(
                model,
                &fname,
                quote!(BadLength {
                    declared: total_len,
                    min: header_len,
                    max: available
                }),
            );
            quote! {
                let total_len: usize = {
                    #[allow(unused_variables)]
                    let value = view.#f() as usize;
                    #expr
                };
                if total_len < header_len || total_len > available {
                    return ::core::result::Result::Err(#bad);
                }
            }
        }
        None => quote!(let total_len: usize = available;),
    };

    let checksum_methods = model.checksum.map(|(index, coverage)| {
        let cs = &model.fields[index].ident;
        let set_cs = format_ident!("set_{}", cs);
        if coverage == Coverage::Pseudo {
            let doc_verify = "Whether the Internet checksum over the pseudo-header (given by the \
                 IP layer: addresses, protocol, this header's and payload's length), the header and \
                 the payload verifies.";
            let doc_fill = format!(
                "Computes the Internet checksum over the pseudo-header, the header and the payload \
                 into `{cs}` (a result of 0 is written as 0xffff, its equivalent)."
            );
            return (
                quote! {
                    #[doc = #doc_verify]
                    #[inline]
                    pub fn verify_checksum_with(&self, pseudo: &#krate::checksum::PseudoHeader) -> bool {
                        let sum = pseudo.sum(self.header_and_payload_len());
                        let sum = #krate::checksum::add(sum, #zc::IntoBytes::as_bytes(&*self.header));
                        let sum = #krate::checksum::add(sum, &self.rest[..self.options_len + self.payload_len]);
                        #krate::checksum::fold(sum) == 0xffff
                    }
                },
                quote! {
                    #[doc = #doc_fill]
                    #[inline]
                    pub fn fill_checksum_with(&mut self, pseudo: &#krate::checksum::PseudoHeader) {
                        self.#set_cs(0);
                        let sum = pseudo.sum(self.header_and_payload_len());
                        let sum = #krate::checksum::add(sum, #zc::IntoBytes::as_bytes(&*self.header));
                        let sum = #krate::checksum::add(sum, &self.rest[..self.options_len + self.payload_len]);
                        let value = !#krate::checksum::fold(sum);
                        self.#set_cs(if value == 0 { 0xffff } else { value });
                    }
                },
            );
        }
        let all = coverage == Coverage::All;
        let covered = if all {
            quote!(&self.rest[..self.options_len + self.payload_len])
        } else {
            quote!(&self.rest[..self.options_len])
        };
        let what = if all {
            "header and payload"
        } else {
            "header (with options)"
        };
        let doc_verify = format!("Whether the Internet checksum over the {what} verifies.");
        let doc_fill = format!("Computes the Internet checksum over the {what} into `{cs}`.");
        (
            quote! {
                #[doc = #doc_verify]
                #[inline]
                pub fn verify_checksum(&self) -> bool {
                    // The fixed part is summed with its length known (unrolled); the rest
                    // only if there is any (an IPv4 header without options has none).
                    let sum = #krate::checksum::add(0, #zc::IntoBytes::as_bytes(&*self.header));
                    let covered = #covered;
                    let sum = if covered.is_empty() {
                        sum
                    } else {
                        #krate::checksum::add(sum, covered)
                    };
                    #krate::checksum::fold(sum) == 0xffff
                }
            },
            quote! {
                #[doc = #doc_fill]
                #[inline]
                pub fn fill_checksum(&mut self) {
                    self.#set_cs(0);
                    let sum = #krate::checksum::add(0, #zc::IntoBytes::as_bytes(&*self.header));
                    let sum = #krate::checksum::add(sum, #covered);
                    self.#set_cs(!#krate::checksum::fold(sum));
                }
            },
        )
    });
    let (verify, fill) = match checksum_methods {
        Some((v, f)) => (v, f),
        None => (quote!(), quote!()),
    };
    let next = model.next.map(|index| {
        let f = &model.fields[index].ident;
        quote! {
            /// The field naming the next layer's protocol, for demultiplexing.
            #[inline]
            pub fn next_layer(&self) -> u64 {
                self.#f() as u64
            }
        }
    });
    let fast = fast_lengths(model, &starts);
    let truncated_any = err(
        model,
        "",
        quote!(Truncated { needed: #len, available: packet.len() }),
    );
    let (lengths, fast_fn, slow_fn) = match fast {
        Some(body) => (
            quote! {
                let (header_len, total_len) = match Self::fast_lengths(&packet) {
                    ::core::option::Option::Some(lengths) => lengths,
                    ::core::option::Option::None => {
                        return ::core::result::Result::Err(#view::<&[u8]>::parse_error(&packet));
                    }
                };
            },
            quote! {
                /// The checks of `parse` on the fixed part read as one array, folded
                /// together where they can be (adjacent bit fields with expected values
                /// and ranges become one range check); `None` if any fails, and then
                /// `checked_lengths` says which.
                #[inline(always)]
                fn fast_lengths(packet: &[u8]) -> ::core::option::Option<(usize, usize)> {
                    #body
                }
            },
            quote! {
                /// Why `parse` refused `packet`: the first of its checks that fails.
                /// (`fast_lengths` and `checked_lengths` accept the same packets; if
                /// they ever disagreed, the packet is still refused, as truncated.)
                #[inline]
                fn parse_error(packet: &'__a [u8]) -> #krate::HeaderError {
                    match Self::checked_lengths(packet) {
                        ::core::result::Result::Err(e) => e,
                        ::core::result::Result::Ok(_) => #truncated_any,
                    }
                }
            },
        ),
        None => (
            quote! {
                let (header_len, total_len) = #view::<&[u8]>::checked_lengths(&packet)?;
            },
            quote!(),
            quote!(),
        ),
    };
    let doc = format!(
        "A parsed [`{ident}`] over a byte slice (`&[u8]` to read, `&mut [u8]` to write in place). \
         Lengths were checked once by `parse`, so no accessor can panic."
    );
    quote! {
        #[doc = #doc]
        pub struct #view<B> {
            header: #zc::Ref<B, #layout>,
            rest: B,
            options_len: usize,
            payload_len: usize,
        }

        // A field named `len` gets a `len()` getter, which is no collection's length.
        #[allow(clippy::len_without_is_empty)]
        impl<B: #zc::SplitByteSlice> #view<B> {
            /// Parses the header at the front of `packet` and validates it: length,
            /// expected values and ranges, length fields against the header and the buffer.
            #[inline]
            pub fn parse(packet: B) -> ::core::result::Result<Self, #krate::HeaderError> {
                #lengths
                let available = packet.len();
                let (header, rest) = match #zc::Ref::<B, #layout>::from_prefix(packet) {
                    ::core::result::Result::Ok(split) => split,
                    ::core::result::Result::Err(_) => return ::core::result::Result::Err(#truncated),
                };
                ::core::result::Result::Ok(#view {
                    header,
                    rest,
                    options_len: header_len - #len,
                    payload_len: total_len - header_len,
                })
            }

            #fast_fn

            #(#getters)*

            /// Length of the header including options or entries.
            #[inline]
            pub fn header_len(&self) -> usize {
                #len + self.options_len
            }

            /// Length of header and payload (the payload as far as the length fields say).
            #[inline]
            pub fn header_and_payload_len(&self) -> usize {
                #len + self.options_len + self.payload_len
            }

            /// The option bytes (empty if the header has none).
            #[inline]
            pub fn options(&self) -> &[u8] {
                &self.rest[..self.options_len]
            }

            /// The payload, as far as the header's length fields say (trailing bytes past
            /// them, such as Ethernet padding, are left out).
            #[inline]
            pub fn payload(&self) -> &[u8] {
                &self.rest[self.options_len..self.options_len + self.payload_len]
            }

            /// The header's fixed part as bytes.
            #[inline]
            pub fn fixed_bytes(&self) -> &[u8] {
                #zc::IntoBytes::as_bytes(&*self.header)
            }

            #verify
            #next

            /// The owned representation.
            pub fn to_owned(&self) -> #ident {
                #ident { #(#owned_fields,)* }
            }
        }

        impl<'__a> #view<&'__a [u8]> {
            #slow_fn

            /// Every check of `parse` in order, each failure with its own error: the
            /// lengths of the header and of header and payload, or the first check failing.
            /// (What `parse` decides, check by check; public for tests that compare the
            /// two, not part of the API.)
            #[doc(hidden)]
            #[inline]
            pub fn checked_lengths(packet: &'__a [u8]) -> ::core::result::Result<(usize, usize), #krate::HeaderError> {
                let available = packet.len();
                let (header, rest) = match #zc::Ref::<&[u8], #layout>::from_prefix(packet) {
                    ::core::result::Result::Ok(split) => split,
                    ::core::result::Result::Err(_) => return ::core::result::Result::Err(#truncated),
                };
                let view = #view { header, rest, options_len: 0, payload_len: 0 };
                view.check_fields()?;
                #header_len_calc
                #total_len_calc
                #entries_check
                ::core::result::Result::Ok((header_len, total_len))
            }

            #[inline]
            fn check_fields(&self) -> ::core::result::Result<(), #krate::HeaderError> {
                #(#checks)*
                ::core::result::Result::Ok(())
            }
        }

        impl<B: #zc::SplitByteSliceMut> #view<B> {
            #(#setters)*

            /// The option bytes, writable.
            #[inline]
            pub fn options_mut(&mut self) -> &mut [u8] {
                &mut self.rest[..self.options_len]
            }

            /// The payload, writable.
            #[inline]
            pub fn payload_mut(&mut self) -> &mut [u8] {
                let start = self.options_len;
                &mut self.rest[start..start + self.payload_len]
            }

            #fill
        }
    }
}

/// The field writes of `emit` (`verbatim`: every field as held, nothing computed).
fn field_writes(model: &Model, verbatim: bool) -> Vec<TokenStream> {
    let krate = &model.krate;
    let name = model.ident.to_string();
    let mut writes = Vec::new();
    for field in &model.fields {
        let f = &field.ident;
        let fname = f.to_string();
        match field.kind {
            FieldKind::Options => {
                writes.push(quote!(view.options_mut().copy_from_slice(self.#f.as_slice());));
            }
            FieldKind::Entries => {
                let elem = &model.entries.as_ref().expect("entries field").elem;
                let emit = if verbatim {
                    quote!(emit_verbatim)
                } else {
                    quote!(emit)
                };
                writes.push(quote! {
                    for (entry, out) in self.#f.iter().zip(
                        view.options_mut().chunks_exact_mut(<#elem as #krate::Header>::LEN),
                    ) {
                        <#elem as #krate::Header>::#emit(entry, out)?;
                    }
                });
            }
            FieldKind::Int { bytes } => {
                let set_f = format_ident!("set_{}", f);
                let try_set_f = format_ident!("try_set_{}", f);
                let ty = &field.ty;
                match &field.fill {
                    Some(expr) if !verbatim => writes.push(quote! {
                        let computed: usize = { #expr };
                        let value = #ty::try_from(computed).map_err(|_| #krate::HeaderError {
                            header: #name,
                            field: #fname,
                            kind: #krate::HeaderErrorKind::TooWide { bits: (#bytes * 8) as u8, value: computed as u64 },
                        })?;
                        view.#try_set_f(value)?;
                    }),
                    Some(_) => writes.push(quote!(view.#try_set_f(self.#f)?;)),
                    None => writes.push(quote!(view.#set_f(self.#f);)),
                }
            }
            FieldKind::Array { .. } => {
                let set_f = format_ident!("set_{}", f);
                writes.push(quote!(view.#set_f(self.#f);));
            }
        }
    }
    writes
}

fn owned_impl(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let zc = quote!(#krate::__private::zerocopy);
    let (layout, view) = names(model);
    let ident = &model.ident;
    let name = ident.to_string();
    let len = model.len;
    let unit = model.options_unit;

    let mut width_checks = Vec::new();
    for field in &model.fields {
        let f = &field.ident;
        let fname = f.to_string();
        if let FieldKind::Int { bytes } = field.kind
            && field.fill.is_none()
            && field.bits < bytes * 8
        {
            let field_bits = field.bits as u8;
            width_checks.push(quote! {
                if (self.#f as u64) >> #field_bits != 0 {
                    return ::core::result::Result::Err(#krate::HeaderError {
                        header: #name,
                        field: #fname,
                        kind: #krate::HeaderErrorKind::TooWide { bits: #field_bits, value: self.#f as u64 },
                    });
                }
            });
        }
    }
    let writes = field_writes(model, false);
    let verbatim_writes = field_writes(model, true);
    let variable_len = match (&model.options, &model.entries) {
        (Some(index), _) => {
            let f = &model.fields[*index].ident;
            quote!(self.#f.len())
        }
        (None, Some(entries)) => {
            let f = &model.fields[entries.index].ident;
            quote!(self.#f.wire_len())
        }
        (None, None) => quote!(0usize),
    };
    let fill_checksum = model
        .checksum
        .filter(|(_, coverage)| *coverage != Coverage::Pseudo)
        .map(|_| quote!(view.fill_checksum();));
    let next = model.next.map(|index| {
        let f = &model.fields[index].ident;
        quote! {
            #[inline]
            fn next_layer(&self) -> ::core::option::Option<u64> {
                ::core::option::Option::Some(self.#f as u64)
            }
        }
    });
    let bad_options = quote!(#krate::HeaderError { header: #name, field: "", kind: #krate::HeaderErrorKind::BadOptions { len: options_len } });
    let options_check = model.options.map(|_| {
        let unit_check = (unit > 1).then(|| quote!(|| options_len % #unit != 0));
        quote! {
            let options_len = #variable_len;
            if options_len > #krate::header::MAX_OPTIONS #unit_check {
                return ::core::result::Result::Err(#bad_options);
            }
        }
    });
    let entries_check = model.entries.as_ref().map(|entries| {
        let f = &model.fields[entries.index].ident;
        let fname = f.to_string();
        let entries_ty = &model.fields[entries.index].ty;
        let elem = &entries.elem;
        let elem_name = crate::util::type_text(elem);
        let message = format!(
            "a repeated entry must be a header of fixed, non-zero length (no options, no entries), and `{elem_name}` is not"
        );
        let fixed_check = quote::quote_spanned! {syn::spanned::Spanned::span(elem)=>
            const _: () = ::core::assert!(
                <#elem as #krate::Header>::FIXED_LEN && <#elem as #krate::Header>::LEN > 0,
                #message
            );
        };
        quote! {
            if self.#f.len() > <#entries_ty>::MAX {
                return ::core::result::Result::Err(#krate::HeaderError {
                    header: #name,
                    field: #fname,
                    kind: #krate::HeaderErrorKind::TooManyEntries { count: self.#f.len(), max: <#entries_ty>::MAX },
                });
            }
            #fixed_check
        }
    });
    let entry_count = model.entries.as_ref().map(|entries| {
        let f = &model.fields[entries.index].ident;
        quote!(#[allow(unused_variables)] let entry_count: usize = self.#f.len();)
    });
    let fixed = model.options.is_none() && model.entries.is_none();
    let emit_fn = |fn_name: TokenStream, writes: &[TokenStream], fill: Option<&TokenStream>| {
        quote! {
            fn #fn_name(&self, packet: &mut [u8]) -> ::core::result::Result<usize, #krate::HeaderError> {
                self.check_emit()?;
                let header_len = #krate::Header::header_len(self);
                let available = packet.len();
                if available < header_len {
                    return ::core::result::Result::Err(#krate::HeaderError {
                        header: #name,
                        field: "",
                        kind: #krate::HeaderErrorKind::Truncated { needed: header_len, available },
                    });
                }
                #[allow(unused_variables)]
                let payload_len = available - header_len;
                #entry_count
                let (header, rest) = match #zc::Ref::<&mut [u8], #layout>::from_prefix(packet) {
                    ::core::result::Result::Ok(split) => split,
                    ::core::result::Result::Err(_) => {
                        return ::core::result::Result::Err(#krate::HeaderError {
                            header: #name,
                            field: "",
                            kind: #krate::HeaderErrorKind::Truncated { needed: #len, available },
                        });
                    }
                };
                let mut view = #view { header, rest, options_len: header_len - #len, payload_len };
                #(#writes)*
                #fill
                ::core::result::Result::Ok(header_len)
            }
        }
    };
    let emit = emit_fn(quote!(emit), &writes, fill_checksum.as_ref());
    let emit_verbatim = emit_fn(quote!(emit_verbatim), &verbatim_writes, None);
    quote! {
        impl #ident {
            /// Writes the header in front of `packet`'s data (using its headroom), filling
            /// length and checksum fields. On error the packet is unchanged.
            pub fn push_onto(&self, packet: &mut #krate::Packet) -> ::core::result::Result<usize, #krate::HeaderError> {
                self.check_emit()?;
                let header_len = #krate::Header::header_len(self);
                packet.push(header_len);
                #krate::Header::emit(self, packet.data_mut())
            }

            /// Writes the header in front of `packet`'s data exactly as it is held (length
            /// and checksum fields as they are, not computed). On error the packet is
            /// unchanged.
            pub fn push_verbatim_onto(&self, packet: &mut #krate::Packet) -> ::core::result::Result<usize, #krate::HeaderError> {
                self.check_emit()?;
                let header_len = #krate::Header::header_len(self);
                packet.push(header_len);
                #krate::Header::emit_verbatim(self, packet.data_mut())
            }

            fn check_emit(&self) -> ::core::result::Result<(), #krate::HeaderError> {
                #options_check
                #entries_check
                #(#width_checks)*
                ::core::result::Result::Ok(())
            }
        }

        impl #krate::Header for #ident {
            const NAME: &'static str = #name;
            const LEN: usize = #len;
            const FIXED_LEN: bool = #fixed;

            #[inline]
            fn header_len(&self) -> usize {
                #len + #variable_len
            }

            #emit
            #emit_verbatim

            fn parse_owned(packet: &[u8]) -> ::core::result::Result<Self, #krate::HeaderError> {
                #view::parse(packet).map(|view| view.to_owned())
            }

            #next
        }
    }
}

/// A field's value read from `fixed` (the fixed part as `&[u8; LEN]`), as `u64`.
fn fixed_read(model: &Model, starts: &[usize], field: &Field) -> TokenStream {
    let (_, unit_len, unit_start) = unit_of(model, starts, field);
    let unit = unit_value(unit_start, unit_len);
    if field.is_aligned_int() {
        return unit;
    }
    let rel = field.bit_start - unit_start * 8;
    let shift = (unit_len * 8 - rel - field.bits) as u32;
    let mask: u64 = if field.bits >= 64 {
        u64::MAX
    } else {
        (1u64 << field.bits) - 1
    };
    quote!(((#unit >> #shift) & #mask))
}

/// The big-endian value of `len` bytes at `start` of `fixed`, as `u64`.
fn unit_value(start: usize, len: usize) -> TokenStream {
    let bytes = (start..start + len.min(8)).map(|i| quote!(fixed[#i]));
    match len {
        1 => return quote!((fixed[#start] as u64)),
        2 => return quote!((u16::from_be_bytes([#(#bytes,)*]) as u64)),
        4 => return quote!((u32::from_be_bytes([#(#bytes,)*]) as u64)),
        _ => {}
    }
    let pad = 8 - len.min(8);
    let zeros = (0..pad).map(|_| quote!(0u8));
    let bytes = (start..start + len.min(8)).map(|i| quote!(fixed[#i]));
    quote!(u64::from_be_bytes([#(#zeros,)* #(#bytes,)*]))
}

/// A range check `lo <= x <= hi` on an expression of `full` bits as one comparison.
fn range_check(x: TokenStream, lo: u64, hi: u64, full: u64) -> Option<TokenStream> {
    match (lo == 0, hi >= full) {
        (true, true) => None,
        (true, false) => Some(quote!(if #x > #hi { return ::core::option::Option::None; })),
        (false, true) => Some(quote!(if #x < #lo { return ::core::option::Option::None; })),
        (false, false) => {
            let span = hi - lo;
            Some(quote!(if (#x).wrapping_sub(#lo) > #span { return ::core::option::Option::None; }))
        }
    }
}

/// The body of `fast_lengths`: the same checks as `checked_lengths`, without the error
/// values, on the fixed part read as an array. `None` for headers with entries (their
/// parse takes `checked_lengths` directly).
fn fast_lengths(model: &Model, starts: &[usize]) -> Option<TokenStream> {
    if model.entries.is_some() {
        return None;
    }
    let krate = &model.krate;
    let len = model.len;
    let mut checks = Vec::new();
    // Per unit, its constrained fields from the top bit down; a run of adjacent fields
    // whose upper members have one expected value folds into one range check.
    for (index, &start) in starts.iter().enumerate() {
        let unit_len = match model.units[index].kind {
            UnitKind::Int { bytes } => bytes,
            UnitKind::Bytes { len } => len,
        };
        if unit_len > 8 {
            continue;
        }
        let unit_bits = unit_len * 8;
        // (shift, width, lo, hi) of each constrained field in the unit, top first.
        let mut ranges: Vec<(usize, usize, u64, u64)> = Vec::new();
        for field in &model.fields {
            if !matches!(field.kind, FieldKind::Int { .. }) {
                continue;
            }
            if field.bit_start < start * 8 || field.bit_start + field.bits > (start + unit_len) * 8
            {
                continue;
            }
            let full = if field.bits >= 64 {
                u64::MAX
            } else {
                (1u64 << field.bits) - 1
            };
            let (mut lo, mut hi) = (
                field.min.unwrap_or(0),
                field.max.unwrap_or(u64::MAX).min(full),
            );
            if let Some(e) = field.expect {
                lo = lo.max(e);
                hi = hi.min(e);
            }
            if lo == 0 && hi >= full {
                continue;
            }
            let shift = unit_bits - (field.bit_start - start * 8) - field.bits;
            ranges.push((shift, field.bits, lo, hi));
        }
        let mut merged: Vec<(usize, usize, u64, u64)> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(m) if m.2 == m.3 && m.0 == r.0 + r.1 && m.1 + r.1 < 64 => {
                    m.2 = (m.2 << r.1) | r.2;
                    m.3 = (m.3 << r.1) | r.3;
                    m.0 = r.0;
                    m.1 += r.1;
                }
                _ => merged.push(r),
            }
        }
        let unit = unit_value(start, unit_len);
        for (shift, width, lo, hi) in merged {
            let full = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let shift = shift as u32;
            let x = if shift == 0 && width == unit_bits {
                unit.clone()
            } else {
                quote!(((#unit >> #shift) & #full))
            };
            if lo > hi {
                checks.push(quote!(return ::core::option::Option::None;));
            } else if let Some(check) = range_check(x, lo, hi, full) {
                checks.push(check);
            }
        }
    }
    let header_len = match &model.header_len {
        Some((index, expr)) => {
            let read = fixed_read(model, starts, &model.fields[*index]);
            let options_check = model.options.map(|_| {
                quote! {
                    if header_len - #len > #krate::header::MAX_OPTIONS {
                        return ::core::option::Option::None;
                    }
                }
            });
            // With a total length, `header_len <= total_len <= available` is checked
            // below; without one, against the buffer here.
            let against_buffer = model.total_len.is_none().then(|| {
                quote! {
                    if header_len > packet.len() {
                        return ::core::option::Option::None;
                    }
                }
            });
            quote! {
                let header_len: usize = {
                    #[allow(unused_variables)]
                    let value = #read as usize;
                    #expr
                };
                if header_len < #len {
                    return ::core::option::Option::None;
                }
                #against_buffer
                #options_check
            }
        }
        None => quote!(let header_len: usize = #len;),
    };
    let total_len = match &model.total_len {
        Some((index, expr)) => {
            let read = fixed_read(model, starts, &model.fields[*index]);
            quote! {
                let total_len: usize = {
                    #[allow(unused_variables)]
                    let value = #read as usize;
                    #expr
                };
                if total_len > packet.len() || total_len < header_len {
                    return ::core::option::Option::None;
                }
            }
        }
        None => quote!(let total_len: usize = packet.len();),
    };
    Some(quote! {
        let fixed: &[u8; #len] = packet.first_chunk()?;
        #(#checks)*
        #header_len
        #total_len
        ::core::option::Option::Some((header_len, total_len))
    })
}
