//! `#[protocol]`: on the struct it names the protocol; on the impl block it generates the
//! port set, the timer enum, the dispatch and the descriptor table.

mod blocks;
mod expand;
mod model;
mod parse;
mod validate;

use darling::Error;
use proc_macro2::TokenStream;
use quote::quote;

use crate::util::errors_to_tokens;
use parse::{ImplArgs, StructArgs};

/// Entry point: `attr` are the attribute's arguments, `item` what it is on.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(item)) => expand_struct(attr, item),
        Ok(syn::Item::Impl(item)) => expand_impl(attr, item),
        Ok(other) => {
            let error = syn::Error::new_spanned(
                item_keyword(&other),
                "`#[protocol]` goes on a protocol's struct and on its impl block\n\
                 help: declare the protocol state as a struct: `#[protocol] struct MyProtocol { ... }`",
            )
            .to_compile_error();
            quote!(#error #other)
        }
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#error #item)
        }
    }
}

fn item_keyword(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Enum(e) => {
            let token = &e.enum_token;
            quote!(#token)
        }
        syn::Item::Fn(f) => {
            let sig = &f.sig;
            quote!(#sig)
        }
        syn::Item::Trait(t) => {
            let ident = &t.ident;
            quote!(#ident)
        }
        syn::Item::Union(u) => {
            let ident = &u.ident;
            quote!(#ident)
        }
        other => quote!(#other),
    }
}

/// The struct is emitted unchanged, plus its `ProtocolState` impl.
fn expand_struct(attr: TokenStream, item: syn::ItemStruct) -> TokenStream {
    let mut errors = Error::accumulator();
    let args = errors
        .handle(parse::parse_args::<StructArgs>(attr))
        .unwrap_or_default();
    if !item.generics.params.is_empty() {
        errors.push(
            Error::custom(
                "generic protocols are not supported: the dispatch table is built for one concrete type\n\
                 help: make the protocol concrete, or move the generic part into a field",
            )
            .with_span(&item.generics),
        );
    }
    let generic = !item.generics.params.is_empty();
    let errors = match errors.finish() {
        Ok(()) => TokenStream::new(),
        Err(errors) => errors_to_tokens(errors),
    };
    if generic {
        return quote!(#errors #item);
    }
    // With a bad argument (reported above), the struct still gets its `ProtocolState`
    // impl under defaults, so its impl block adds no follow-up errors.
    let krate = args.krate.unwrap_or_else(|| syn::parse_quote!(::vipe_rt));
    let ident = &item.ident;
    let name = args.name.map_or_else(|| ident.to_string(), |n| n.0);
    quote! {
        #errors
        #item

        impl #krate::ProtocolState for #ident {
            const NAME: &'static str = #name;
        }
    }
}

/// The impl block is emitted with its handler attributes removed, followed by the
/// generated items. On errors, every error is emitted, and so is the code generated from
/// the handlers that were valid: the protocol keeps its `Protocol` impl, so one mistake
/// does not cascade into follow-up errors about `Cx<Self>` everywhere.
fn expand_impl(attr: TokenStream, mut item: syn::ItemImpl) -> TokenStream {
    let mut errors = Error::accumulator();
    let args = errors
        .handle(parse::parse_args::<ImplArgs>(attr))
        .unwrap_or_default();
    let raw = parse::take_handlers(&mut item, &mut errors);
    if let Some(first) = second_block(&item) {
        let impl_token = &item.impl_token;
        let self_ty = &item.self_ty;
        let ty = crate::util::type_text(self_ty);
        errors.push(
            Error::custom(format!(
                "`{ty}` already has a `#[protocol]` impl block, at line {first}: all of a protocol's handlers go in that one block\n\
                 help: move these handlers into the `#[protocol] impl {ty}` block at line {first}; \
                 helper methods may stay in a plain `impl {ty}` block without `#[protocol]`"
            ))
            .with_span(&quote!(#impl_token #self_ty)),
        );
        let errors = errors_to_tokens(errors.finish().expect_err("an error was pushed"));
        return quote! {
            #errors
            #item
        };
    }
    let model = validate::validate(args, &item, raw, &mut errors);
    let generated = model.as_ref().map(expand::expand);
    let errors = match errors.finish() {
        Ok(()) => TokenStream::new(),
        Err(errors) => errors_to_tokens(errors),
    };
    quote! {
        #errors
        #item
        #generated
    }
}

/// The line of an earlier `#[protocol]` impl block for the same type, if this is a
/// second one.
fn second_block(item: &syn::ItemImpl) -> Option<usize> {
    if item.trait_.is_some() {
        return None;
    }
    let syn::Type::Path(path) = &*item.self_ty else {
        return None;
    };
    let name = path.path.segments.last()?.ident.to_string();
    blocks::earlier_block_of(item.impl_token.span, &name)
}

#[cfg(test)]
mod tests;
