//! Validate: fields and attributes become the byte/bit layout of the [`Model`]; every
//! misuse is reported at its token with a hint.

use darling::Error;
use darling::util::Override;
use quote::format_ident;

use super::model::{Coverage, EntriesField, Field, FieldKind, Model, Unit, UnitKind};
use super::parse::HeaderInput;

/// Checks the input and lays it out; `None` when errors were recorded.
pub fn validate(input: HeaderInput, errors: &mut darling::error::Accumulator) -> Option<Model> {
    if !input.generics.params.is_empty() {
        errors.push(
            Error::custom("a header cannot be generic: its wire layout must be fixed\nhelp: remove the type parameters")
                .with_span(&input.generics),
        );
    }
    let raw_fields = input.data.take_struct()?.fields;
    let mut fields: Vec<Field> = Vec::new();
    let mut bit = 0usize;
    // The open group of bit fields: index of its first field and its start bit.
    let mut group: Option<(usize, usize)> = None;
    let mut checksum = None;
    let mut options = None;
    let mut header_len = None;
    let mut total_len = None;
    let mut next = None;
    let mut entries: Option<EntriesField> = None;
    let mut entry_count = None;
    // A header_len attribute was written, even if its expression failed to parse.
    let mut header_len_written = false;

    for raw in raw_fields {
        let Some(ident) = raw.ident.clone() else {
            continue;
        };
        if options.is_some() || entries.is_some() {
            let what = if options.is_some() {
                "options"
            } else {
                "entries"
            };
            errors.push(
                Error::custom(format!("the {what} field must be the last field: it runs to the header's end\nhelp: move it last (a header has at most one variable part: options or entries)"))
                    .with_span(&ident),
            );
            continue;
        }
        if raw.entries.is_present() {
            let Some(elem) = entries_elem(&raw.ty) else {
                errors.push(
                    Error::custom("an entries field has the type `vipe_rt::Entries<T, N>`: at most N entries of the fixed-length header T\nhelp: write e.g. `pub entries: Entries<RipEntry, 25>`")
                        .with_span(&raw.ty),
                );
                continue;
            };
            if let Some((first, _)) = group {
                push_open_group(errors, &fields[first], bit);
                group = None;
            }
            entries = Some(EntriesField {
                index: fields.len(),
                elem,
            });
            fields.push(Field {
                ident,
                ty: raw.ty.clone(),
                kind: FieldKind::Entries,
                bit_start: bit,
                bits: 0,
                expect: None,
                min: None,
                max: None,
                fill: None,
            });
            continue;
        }
        if raw.options.is_present() {
            if !is_path_named(&raw.ty, "Options") {
                errors.push(
                    Error::custom("an options field has the type `vipe_rt::Options`\nhelp: write `pub options: Options`")
                        .with_span(&raw.ty),
                );
                continue;
            }
            if let Some((first, _)) = group {
                push_open_group(errors, &fields[first], bit);
                group = None;
            }
            options = Some(fields.len());
            fields.push(Field {
                ident,
                ty: raw.ty.clone(),
                kind: FieldKind::Options,
                bit_start: bit,
                bits: 0,
                expect: None,
                min: None,
                max: None,
                fill: None,
            });
            continue;
        }
        let Some(kind) = field_kind(&raw.ty) else {
            errors.push(
                Error::custom(
                    "unsupported header field type\nhelp: use u8, u16, u32 or u64 (big-endian on the wire), [u8; N], or `Options` with #[header(options)]",
                )
                .with_span(&raw.ty),
            );
            continue;
        };
        let width = match kind {
            FieldKind::Int { bytes } => bytes * 8,
            FieldKind::Array { len } => len * 8,
            FieldKind::Options | FieldKind::Entries => 0,
        };
        let bits = match (&raw.bits, kind) {
            (Some(bits), FieldKind::Int { .. }) => {
                let n = usize::from(**bits);
                if n == 0 || n > width {
                    errors.push(
                        Error::custom(format!(
                            "a `{}` field holds 1 to {width} bits, not {n}",
                            type_name(&raw.ty)
                        ))
                        .with_span(&bits.span()),
                    );
                    continue;
                }
                Some(n)
            }
            (Some(bits), _) => {
                errors.push(
                    Error::custom("`bits` applies to integer fields only\nhelp: remove it, or make the field an integer")
                        .with_span(&bits.span()),
                );
                continue;
            }
            (None, _) => None,
        };
        match bits {
            Some(n) => {
                if group.is_none() {
                    group = Some((fields.len(), bit));
                }
                bit += n;
                if bit.is_multiple_of(8) {
                    group = None;
                }
            }
            None => {
                if let Some((first, _)) = group.take() {
                    push_open_group(errors, &fields[first], bit);
                    bit = bit.div_ceil(8) * 8;
                }
                bit += width;
            }
        }
        let bits = bits.unwrap_or(width);
        let field_index = fields.len();
        let is_int = matches!(kind, FieldKind::Int { .. });
        for (name, value) in [
            ("expect", &raw.expect),
            ("min", &raw.min),
            ("max", &raw.max),
        ] {
            if let Some(value) = value {
                let span = value.span();
                let value = **value;
                if !is_int {
                    errors.push(
                        Error::custom(format!("`{name}` applies to integer fields only"))
                            .with_span(&ident),
                    );
                } else if bits < 64 && value >> bits != 0 {
                    errors.push(
                        Error::custom(format!(
                            "`{name} = {value}` does not fit in this field's {bits} bits"
                        ))
                        .with_span(&span),
                    );
                }
            }
        }
        let (expect, min, max) = (
            raw.expect.as_ref().map(|v| **v),
            raw.min.as_ref().map(|v| **v),
            raw.max.as_ref().map(|v| **v),
        );
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            let span = raw.min.as_ref().map(|v| v.span()).unwrap_or(ident.span());
            errors.push(
                Error::custom(format!(
                    "`min = {lo}` is above `max = {hi}`, so no value of `{ident}` would ever parse\n\
                     help: swap them (`min = {hi}, max = {lo}`), or correct the bound that is wrong"
                ))
                .with_span(&span),
            );
        }
        if let Some(e) = expect
            && (min.is_some_and(|lo| e < lo) || max.is_some_and(|hi| e > hi))
        {
            let span = raw
                .expect
                .as_ref()
                .map(|v| v.span())
                .unwrap_or(ident.span());
            errors.push(
                Error::custom(format!(
                    "`expect = {e}` lies outside this field's `min`..`max`, so no value would ever parse\n\
                     help: with `expect`, `min` and `max` are redundant: remove them"
                ))
                .with_span(&span),
            );
        }
        if let Some(cs) = &raw.checksum {
            let covers_all = match &**cs {
                Override::Inherit => Some(Coverage::Header),
                Override::Explicit(s) if s == "all" => Some(Coverage::All),
                Override::Explicit(s) if s == "header" => Some(Coverage::Header),
                Override::Explicit(s) if s == "pseudo" => Some(Coverage::Pseudo),
                Override::Explicit(_) => None,
            };
            let start = bit - bits;
            match covers_all {
                None => errors.push(
                    Error::custom("checksum coverage is `\"header\"` (the default), `\"all\"` (header and payload) or `\"pseudo\"` (a pseudo-header the caller gives, header and payload)")
                        .with_span(&cs.span()),
                ),
                Some(_) if bits != 16 || !is_int || !start.is_multiple_of(16) => errors.push(
                    Error::custom(
                        "an Internet checksum field is a u16 on a 16-bit boundary of the header\nhelp: make it `u16` and check its position",
                    )
                    .with_span(&cs.span()),
                ),
                Some(_) if checksum.is_some() => {
                    errors.push(Error::custom("a header has one checksum field").with_span(&cs.span()))
                }
                Some(all) => checksum = Some((field_index, all)),
            }
        }
        let mut expr_attr =
            |lit: &Option<syn::LitStr>, slot: &mut Option<(usize, syn::Expr)>, what: &str| {
                if let Some(lit) = lit {
                    if !is_int {
                        errors.push(
                            Error::custom(format!("`{what}` applies to integer fields only"))
                                .with_span(lit),
                        );
                    } else if slot.is_some() {
                        errors.push(
                            Error::custom(format!("only one field can be the `{what}` field"))
                                .with_span(lit),
                        );
                    } else if let Some(expr) =
                        errors.handle(lit.parse::<syn::Expr>().map_err(Error::from))
                    {
                        *slot = Some((field_index, expr));
                    }
                }
            };
        header_len_written |= raw.header_len.is_some();
        expr_attr(&raw.header_len, &mut header_len, "header_len");
        expr_attr(&raw.total_len, &mut total_len, "total_len");
        expr_attr(&raw.entry_count, &mut entry_count, "entry_count");
        let fill = raw.fill.as_ref().and_then(|lit| {
            if !is_int {
                errors.push(Error::custom("`fill` applies to integer fields only").with_span(lit));
                return None;
            }
            errors.handle(lit.parse::<syn::Expr>().map_err(Error::from))
        });
        if raw.next.is_present() {
            if next.is_some() || !is_int {
                errors.push(
                    Error::custom("one integer field can be the `next` layer field")
                        .with_span(&ident),
                );
            } else {
                next = Some(field_index);
            }
        }
        fields.push(Field {
            ident,
            ty: raw.ty,
            kind,
            bit_start: bit - bits,
            bits,
            expect,
            min,
            max,
            fill,
        });
    }
    if let Some((first, _)) = group {
        push_open_group(errors, &fields[first], bit);
    }
    if header_len.is_some() && options.is_none() && entries.is_none() {
        errors.push(
            Error::custom("a `header_len` field needs an options or entries field to hold the bytes past the fixed part\nhelp: add `#[header(options)] pub options: Options` (or `#[header(entries)] pub entries: Entries<T, N>`) as the last field")
                .with_span(&input.ident),
        );
    }
    if let Some((index, _)) = &entry_count {
        if entries.is_none() {
            errors.push(
                Error::custom("an `entry_count` field counts repeated entries, but this header has none\nhelp: add `#[header(entries)] pub entries: Entries<T, N>` as the last field")
                    .with_span(&fields[*index].ident),
            );
        } else if header_len_written {
            errors.push(
                Error::custom("the number of entries is given twice: by `entry_count` and by `header_len`\nhelp: keep one of them")
                    .with_span(&fields[*index].ident),
            );
        }
    }
    if options.is_some() && !header_len_written {
        errors.push(
            Error::custom("an options field needs a `header_len` field saying where the options end\nhelp: mark the length field, e.g. `#[header(bits = 4, header_len = \"value * 4\")]`")
                .with_span(&input.ident),
        );
    }
    let units = layout_units(&fields);
    let krate = input.krate.unwrap_or_else(|| syn::parse_quote!(::vipe_rt));
    Some(Model {
        krate,
        ident: input.ident,
        len: bit.div_ceil(8),
        fields,
        units,
        checksum,
        entries,
        entry_count,
        options,
        options_unit: input.options_unit.unwrap_or(1).max(1),
        header_len,
        total_len,
        next,
    })
}

fn push_open_group(errors: &mut darling::error::Accumulator, first: &Field, end_bit: usize) {
    let covered = end_bit - first.bit_start;
    errors.push(
        Error::custom(format!(
            "the bit fields starting at `{}` cover {covered} bits, which does not end on a byte boundary\n\
             help: fields are MSB-first in network order; widen or add bit fields so the group covers {} bits",
            first.ident,
            covered.div_ceil(8) * 8
        ))
        .with_span(&first.ident),
    );
}

/// The layout struct's members: one per byte-aligned integer or array, one byte array per
/// group of bit fields.
fn layout_units(fields: &[Field]) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut covered_to = 0; // byte offset the units reach
    for field in fields {
        if matches!(field.kind, FieldKind::Options | FieldKind::Entries)
            || field.byte_end() <= covered_to
        {
            continue;
        }
        let start = covered_to.max(field.byte_start());
        if field.is_aligned_int()
            && matches!(
                field.kind,
                FieldKind::Int {
                    bytes: 1 | 2 | 4 | 8
                }
            )
        {
            let FieldKind::Int { bytes } = field.kind else {
                continue;
            };
            units.push(Unit {
                name: field.ident.clone(),
                kind: UnitKind::Int { bytes },
            });
            covered_to = start + bytes;
        } else if let FieldKind::Array { len } = field.kind {
            units.push(Unit {
                name: field.ident.clone(),
                kind: UnitKind::Bytes { len },
            });
            covered_to = start + len;
        } else {
            // A group of bit fields: up to the next byte boundary where a group ends.
            let end = group_end(fields, field);
            units.push(Unit {
                name: format_ident!("bits_{}", field.ident),
                kind: UnitKind::Bytes { len: end - start },
            });
            covered_to = end;
        }
    }
    units
}

/// Byte offset where the group of bit fields containing `first` ends.
fn group_end(fields: &[Field], first: &Field) -> usize {
    let mut end_bit = first.bit_start;
    for field in fields.iter().skip_while(|f| f.bit_start < first.bit_start) {
        if matches!(field.kind, FieldKind::Options | FieldKind::Entries) {
            break;
        }
        end_bit = field.bit_start + field.bits;
        if end_bit.is_multiple_of(8) {
            break;
        }
    }
    end_bit.div_ceil(8)
}

fn field_kind(ty: &syn::Type) -> Option<FieldKind> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            let ident = p.path.get_ident()?;
            let bytes = match ident.to_string().as_str() {
                "u8" => 1,
                "u16" => 2,
                "u32" => 4,
                "u64" => 8,
                _ => return None,
            };
            Some(FieldKind::Int { bytes })
        }
        syn::Type::Array(a) => {
            let syn::Type::Path(elem) = &*a.elem else {
                return None;
            };
            if !elem.path.is_ident("u8") {
                return None;
            }
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(n),
                ..
            }) = &a.len
            else {
                return None;
            };
            Some(FieldKind::Array {
                len: n.base10_parse().ok()?,
            })
        }
        _ => None,
    }
}

/// `T` of `Entries<T, N>`.
fn entries_elem(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != "Entries" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    if args.args.len() != 2 {
        return None;
    }
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn is_path_named(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

fn type_name(ty: &syn::Type) -> String {
    crate::util::type_text(ty)
}
