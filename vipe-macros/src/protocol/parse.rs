//! Parse: attribute arguments (darling) and the raw shape of each handler (syn).

use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use darling::{Error, FromMeta};
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;

/// Arguments of `#[protocol(...)]` on the struct.
#[derive(Debug, Default, FromMeta)]
pub struct StructArgs {
    /// The protocol's name in traces; defaults to the struct's name.
    pub name: Option<NameArg>,
    /// Path to `vipe_rt`.
    #[darling(rename = "crate")]
    pub krate: Option<syn::Path>,
}

/// `name = "echo"`: a string literal, and nothing else.
#[derive(Debug)]
pub struct NameArg(pub String);

impl FromMeta for NameArg {
    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        let value = match item {
            syn::Meta::NameValue(nv) => &nv.value,
            other => {
                return Err(
                    Error::custom("the protocol's name is given as `name = \"echo\"`")
                        .with_span(other),
                );
            }
        };
        match value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Ok(NameArg(s.value())),
            other => {
                let text = quote::quote!(#other).to_string();
                let text = text.trim_matches('"');
                Err(Error::custom(format!(
                    "the protocol's name must be a string literal\n\
                     help: write it in quotes: `name = \"{text}\"`"
                ))
                .with_span(other))
            }
        }
    }
}

/// Arguments of `#[protocol(...)]` on the impl block.
#[derive(Debug, Default, FromMeta)]
pub struct ImplArgs {
    /// Path to `vipe_rt`.
    #[darling(rename = "crate")]
    pub krate: Option<syn::Path>,
    /// The full port list; when absent, ports are inferred from the handlers.
    pub ports: Option<PortsDecl>,
    /// Visibility of the generated port and timer enums (default `pub`).
    pub vis: Option<syn::Visibility>,
}

/// `ports(lower, upper(u16), report)`.
#[derive(Debug)]
pub struct PortsDecl(pub Vec<DeclaredPort>);

/// One declared port.
#[derive(Debug)]
pub struct DeclaredPort {
    pub name: syn::Ident,
    pub key: Option<syn::Type>,
}

impl FromMeta for PortsDecl {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut errors = Error::accumulator();
        let mut ports = Vec::new();
        for item in items {
            let port = match item {
                NestedMeta::Meta(syn::Meta::Path(path)) => {
                    path.get_ident().map(|name| DeclaredPort {
                        name: name.clone(),
                        key: None,
                    })
                }
                NestedMeta::Meta(syn::Meta::List(list)) => match list.path.get_ident() {
                    Some(name) => errors
                        .handle(syn::parse2::<syn::Type>(list.tokens.clone()).map_err(Error::from))
                        .map(|key| DeclaredPort {
                            name: name.clone(),
                            key: Some(key),
                        }),
                    None => None,
                },
                _ => None,
            };
            match port {
                Some(port) => ports.push(port),
                None => errors.push(
                    Error::custom(
                        "expected a port name or `name(KeyType)`, e.g. `ports(lower, upper(u16))`",
                    )
                    .with_span(item),
                ),
            }
        }
        errors.finish_with(PortsDecl(ports))
    }
}

/// Arguments of `#[on_packet(...)]`.
#[derive(Debug, FromMeta)]
pub struct PacketArgs {
    /// The port's name.
    pub port: SpannedValue<String>,
}

/// Arguments of `#[on_timer(...)]`.
#[derive(Debug, Default, FromMeta)]
pub struct TimerArgs {
    /// The timer variant's name; defaults to the method's name in UpperCamelCase.
    pub name: Option<SpannedValue<String>>,
}

/// Which handler attribute a method carries.
#[derive(Debug)]
pub enum HandlerAttr {
    Start,
    Stop,
    Packet(PacketArgs),
    Timer(TimerArgs),
}

/// A method with a handler attribute, before validation.
#[derive(Debug)]
pub struct RawHandler {
    pub attr: HandlerAttr,
    /// The attribute itself, for errors about it.
    pub attr_span: Span,
    pub sig: syn::Signature,
}

/// Parses attribute arguments given as the macro's own `attr` tokens.
pub fn parse_args<T: FromMeta + Default>(attr: TokenStream) -> darling::Result<T> {
    if attr.is_empty() {
        return Ok(T::default());
    }
    let items = NestedMeta::parse_meta_list(attr)?;
    T::from_list(&items)
}

const HANDLER_ATTRS: [&str; 4] = ["on_start", "on_stop", "on_packet", "on_timer"];

/// Whether `attr` is one of the handler attributes (by its last path segment, so
/// `#[vipe_rt::on_packet]` counts too).
fn handler_attr_name(attr: &syn::Attribute) -> Option<&'static str> {
    let last = attr.path().segments.last()?.ident.to_string();
    HANDLER_ATTRS.into_iter().find(|name| *name == last)
}

/// Takes the handler attributes off every method of `item`, returning the raw handlers.
/// Methods with two handler attributes, and unparsable arguments, are errors.
pub fn take_handlers(
    item: &mut syn::ItemImpl,
    errors: &mut darling::error::Accumulator,
) -> Vec<RawHandler> {
    let mut handlers = Vec::new();
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let mut found: Option<RawHandler> = None;
        let mut kept = Vec::with_capacity(method.attrs.len());
        for attr in method.attrs.drain(..) {
            let Some(name) = handler_attr_name(&attr) else {
                kept.push(attr);
                continue;
            };
            if let Some(first) = &found {
                errors.push(
                    Error::custom(format!(
                        "a method can be only one handler, but this one is already marked `#[{}]`\n\
                         help: write a second method for the other event",
                        attr_label(&first.attr)
                    ))
                    .with_span(&attr),
                );
                continue;
            }
            let parsed = match name {
                "on_start" => no_args(&attr, name).map(|_| HandlerAttr::Start),
                "on_stop" => no_args(&attr, name).map(|_| HandlerAttr::Stop),
                "on_packet" => match &attr.meta {
                    syn::Meta::List(_) => PacketArgs::from_meta(&attr.meta).map(HandlerAttr::Packet),
                    _ => Err(Error::custom(
                        "`#[on_packet]` needs the port it handles: `#[on_packet(port = \"lower\")]`",
                    )
                    .with_span(&attr)),
                },
                _ => match &attr.meta {
                    syn::Meta::Path(_) => Ok(HandlerAttr::Timer(TimerArgs::default())),
                    _ => TimerArgs::from_meta(&attr.meta).map(HandlerAttr::Timer),
                },
            };
            if let Some(parsed) = errors.handle(parsed) {
                found = Some(RawHandler {
                    attr: parsed,
                    attr_span: attr.span(),
                    sig: method.sig.clone(),
                });
            }
        }
        method.attrs = kept;
        if found.is_some() {
            // An `async`, `unsafe` or `extern` handler is reported by validation; emitting
            // it as a plain fn keeps rustc from adding follow-up errors about its signature
            // or its call in the dispatch.
            method.sig.asyncness = None;
            method.sig.unsafety = None;
            method.sig.abi = None;
        }
        handlers.extend(found);
    }
    handlers
}

fn no_args(attr: &syn::Attribute, name: &str) -> darling::Result<()> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(()),
        _ => Err(Error::custom(format!("`#[{name}]` takes no arguments")).with_span(&attr.meta)),
    }
}

pub fn attr_label(attr: &HandlerAttr) -> &'static str {
    match attr {
        HandlerAttr::Start => "on_start",
        HandlerAttr::Stop => "on_stop",
        HandlerAttr::Packet(_) => "on_packet",
        HandlerAttr::Timer(_) => "on_timer",
    }
}
