//! Snapshots of the pretty-printed expansion of representative headers.

use quote::quote;

fn expand(input: proc_macro2::TokenStream) -> String {
    let file: syn::File = syn::parse2(super::derive(input)).expect("expansion parses as a file");
    prettyplease::unparse(&file)
}

#[test]
fn plain_fields() {
    insta::assert_snapshot!(expand(quote! {
        pub struct EthernetHeader {
            pub dst: [u8; 6],
            pub src: [u8; 6],
            #[header(next)]
            pub ethertype: u16,
        }
    }));
}

#[test]
fn bit_fields_lengths_options_checksum() {
    insta::assert_snapshot!(expand(quote! {
        #[header(options_unit = 4)]
        pub struct Ipv4Header {
            #[header(bits = 4, expect = 4)]
            pub version: u8,
            #[header(bits = 4, min = 5, header_len = "value * 4", fill = "header_len / 4")]
            pub ihl: u8,
            pub tos: u8,
            #[header(total_len = "value", fill = "header_len + payload_len")]
            pub total_len: u16,
            pub ident: u16,
            #[header(bits = 3)]
            pub flags: u8,
            #[header(bits = 13)]
            pub frag_offset: u16,
            pub ttl: u8,
            #[header(next)]
            pub protocol: u8,
            #[header(checksum)]
            pub checksum: u16,
            pub src: [u8; 4],
            pub dst: [u8; 4],
            #[header(options)]
            pub options: Options,
        }
    }));
}

#[test]
fn misuse_is_reported_together() {
    let out = super::derive(quote! {
        struct Broken<T> {
            #[header(bits = 3)]
            a: u8,
            b: u16,
            c: i32,
            #[header(bits = 9)]
            d: u8,
        }
    })
    .to_string();
    assert_eq!(out.matches("compile_error").count(), 4, "{out}");
}

#[test]
fn entries_counted_by_a_field_and_a_pseudo_checksum() {
    insta::assert_snapshot!(expand(quote! {
        pub struct Report {
            #[header(checksum = "pseudo")]
            pub checksum: u16,
            #[header(entry_count = "value", fill = "entry_count")]
            pub count: u8,
            pub reserved: u8,
            #[header(entries)]
            pub records: Entries<Record, 16>,
        }
    }));
}

#[test]
fn entries_misuse_is_reported() {
    let out = super::derive(quote! {
        struct Broken {
            #[header(entry_count = "value", header_len = "value * 4")]
            n: u8,
            #[header(entries)]
            e: Entries<X, 4>,
            late: u8,
        }
    })
    .to_string();
    assert!(out.contains("must be the last field"), "{out}");
    assert!(out.contains("given twice"), "{out}");
    let out = super::derive(quote! {
        struct Broken {
            #[header(min = 9, max = 3)]
            n: u8,
            #[header(entries)]
            e: Vec<u8>,
        }
    })
    .to_string();
    assert!(out.contains("`vipe_rt::Entries<T, N>`"), "{out}");
    assert!(out.contains("is above"), "{out}");
}
