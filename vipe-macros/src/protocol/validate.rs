//! Validate: raw attributes and signatures become the checked [`Model`], with every
//! problem reported at its token, with a hint.

use darling::Error;
use heck::ToUpperCamelCase;
use proc_macro2::Span;
use syn::spanned::Spanned;

use super::model::{Handler, HandlerKind, Model, Port, Timer};
use super::parse::{HandlerAttr, ImplArgs, RawHandler};
use crate::util::did_you_mean;

/// Checks the impl block and its handlers; `None` when errors were recorded.
pub fn validate(
    args: ImplArgs,
    item: &syn::ItemImpl,
    raw: Vec<RawHandler>,
    errors: &mut darling::error::Accumulator,
) -> Option<Model> {
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(
            Error::custom(
                "`#[protocol]` goes on the protocol's own impl block, not on a trait impl\n\
                 help: write `#[protocol] impl MyProtocol { ... }` with the handlers in it",
            )
            .with_span(path),
        );
        return None;
    }
    if !item.generics.params.is_empty() {
        errors.push(
            Error::custom(
                "generic protocols are not supported: the dispatch table is built for one concrete type\n\
                 help: make the protocol concrete, or move the generic part into a field",
            )
            .with_span(&item.generics),
        );
    }
    let name = match &*item.self_ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    let Some(name) = name else {
        errors.push(
            Error::custom(
                "`#[protocol]` needs an impl block for a named struct: `impl MyProtocol { ... }`",
            )
            .with_span(&item.self_ty),
        );
        return None;
    };

    let mut ports = match &args.ports {
        Some(decl) => declared_ports(decl, errors),
        None => Vec::new(),
    };
    let explicit_ports = args.ports.is_some();
    let mut timers: Vec<Timer> = Vec::new();
    let mut start: Option<syn::Ident> = None;
    let mut stop: Option<syn::Ident> = None;
    let mut handlers = Vec::new();

    for handler in raw {
        let Some(extra) = check_signature(&handler, errors) else {
            continue;
        };
        let method = handler.sig.ident.clone();
        let kind = match &handler.attr {
            HandlerAttr::Start | HandlerAttr::Stop => {
                let is_start = matches!(handler.attr, HandlerAttr::Start);
                let label = if is_start { "on_start" } else { "on_stop" };
                if let Some(arg) = extra.first() {
                    errors.push(
                        Error::custom(format!(
                            "an `#[{label}]` handler takes only `&mut self` and `cx: &mut Cx<Self>`\n\
                             help: remove this parameter"
                        ))
                        .with_span(arg),
                    );
                    continue;
                }
                let slot = if is_start { &mut start } else { &mut stop };
                if let Some(first) = slot {
                    errors.push(
                        Error::custom(format!(
                            "a protocol has one `#[{label}]` handler, and `{first}` is already it\n\
                             help: call one from the other, or merge them"
                        ))
                        .with_span(&handler.attr_span),
                    );
                    continue;
                }
                *slot = Some(method.clone());
                if is_start {
                    HandlerKind::Start
                } else {
                    HandlerKind::Stop
                }
            }
            HandlerAttr::Packet(packet) => {
                let port_name = packet.port.as_str();
                let port_span = packet.port.span();
                let Some(pkt) = extra.first() else {
                    errors.push(
                        Error::custom(
                            "an `#[on_packet]` handler takes the packet after the context\n\
                             help: add a parameter `pkt: Packet`",
                        )
                        .with_span(&handler.sig.inputs),
                    );
                    continue;
                };
                let _ = pkt;
                if let Some(surplus) = extra.get(2) {
                    errors.push(
                        Error::custom(
                            "an `#[on_packet]` handler takes at most one parameter after the packet: \
                             the port's key\nhelp: remove this parameter",
                        )
                        .with_span(surplus),
                    );
                    continue;
                }
                let key = extra.get(1).map(|arg| arg_type(arg).clone());
                if !is_port_name(port_name) {
                    errors.push(
                        Error::custom(format!(
                            "`{port_name}` is not a valid port name\n\
                             help: port names are snake_case identifiers, e.g. \"lower\" or \"app_data\""
                        ))
                        .with_span(&port_span),
                    );
                    continue;
                }
                let index = match ports.iter().position(|p| p.name == port_name) {
                    Some(index) => index,
                    None if explicit_ports => {
                        let declared: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
                        let hint = match did_you_mean(port_name, declared.iter().copied()) {
                            Some(close) => format!("did you mean `{close}`? "),
                            None => String::new(),
                        };
                        errors.push(
                            Error::custom(format!(
                                "unknown port `{port_name}`\n\
                                 help: {hint}the ports declared in `#[protocol(ports(...))]` are: {}",
                                declared.join(", ")
                            ))
                            .with_span(&port_span),
                        );
                        continue;
                    }
                    None => {
                        ports.push(Port {
                            name: port_name.to_owned(),
                            variant: syn::Ident::new(&port_name.to_upper_camel_case(), port_span),
                            key: key.clone(),
                            handler: None,
                        });
                        ports.len() - 1
                    }
                };
                let port = &mut ports[index];
                if let Some(first) = &port.handler {
                    errors.push(
                        Error::custom(format!(
                            "duplicate handler for port `{port_name}`: `{first}` already handles it\n\
                             help: one handler per port; branch inside it, or key the port"
                        ))
                        .with_span(&port_span),
                    );
                    continue;
                }
                match (&port.key, &key) {
                    (Some(declared), None) => {
                        errors.push(
                            Error::custom(format!(
                                "port `{port_name}` is keyed by `{}`, so its handler takes the key\n\
                                 help: add a parameter `key: {}` after the packet",
                                crate::util::type_text(declared),
                                crate::util::type_text(declared),
                            ))
                            .with_span(&handler.sig.inputs),
                        );
                        continue;
                    }
                    (None, Some(key)) => {
                        let key = crate::util::type_text(key);
                        errors.push(
                            Error::custom(format!(
                                "port `{port_name}` has no key, so its handler takes nothing after the packet\n\
                                 help: remove this parameter, or declare the port keyed by it: `ports({port_name}({key}))`"
                            ))
                            .with_span(extra[1]),
                        );
                        continue;
                    }
                    _ => {}
                }
                port.handler = Some(method.clone());
                HandlerKind::Packet(index)
            }
            HandlerAttr::Timer(timer) => {
                let variant = match &timer.name {
                    Some(name) => match syn::parse_str::<syn::Ident>(name) {
                        Ok(ident) => syn::Ident::new(&ident.to_string(), name.span()),
                        Err(_) => {
                            errors.push(
                                Error::custom(format!(
                                    "`{}` is not a valid timer name\n\
                                     help: timer names are enum variant names, e.g. \"Retransmit\"",
                                    name.as_str()
                                ))
                                .with_span(&name.span()),
                            );
                            continue;
                        }
                    },
                    None => {
                        syn::Ident::new(&method.to_string().to_upper_camel_case(), method.span())
                    }
                };
                if let Some(first) = timers.iter().find(|t| t.variant == variant) {
                    let span = timer.name.as_ref().map_or(method.span(), |n| n.span());
                    errors.push(
                        Error::custom(format!(
                            "duplicate timer `{variant}`: the handler `{}` already defines it\n\
                             help: rename one with `#[on_timer(name = \"...\")]`",
                            first.handler
                        ))
                        .with_span(&span),
                    );
                    continue;
                }
                let mut args = Vec::new();
                let mut bad = false;
                for arg in &extra {
                    let ty = arg_type(arg);
                    match ty {
                        syn::Type::Reference(_) => {
                            bad = true;
                            errors.push(
                                Error::custom(
                                    "a timer argument is kept until the timer fires, so it must be an owned value\n\
                                     help: use an owned type (`u32`, not `&u32`)",
                                )
                                .with_span(ty),
                            );
                        }
                        syn::Type::ImplTrait(_) => {
                            bad = true;
                            errors.push(
                                Error::custom(
                                    "a timer argument cannot be `impl Trait`: it is stored in the timer enum\n\
                                     help: name a concrete type",
                                )
                                .with_span(ty),
                            );
                        }
                        _ => args.push(ty.clone()),
                    }
                }
                if bad {
                    continue;
                }
                timers.push(Timer {
                    variant,
                    args,
                    handler: method.clone(),
                });
                HandlerKind::Timer(timers.len() - 1)
            }
        };
        handlers.push(Handler { method, kind });
    }

    let krate = args.krate.unwrap_or_else(|| syn::parse_quote!(::vipe_rt));
    let vis = args.vis.unwrap_or_else(|| syn::parse_quote!(pub));
    Some(Model {
        krate,
        vis,
        self_ty: (*item.self_ty).clone(),
        port_enum: syn::Ident::new(&format!("{name}Port"), name.span()),
        timer_enum: syn::Ident::new(&format!("{name}Timer"), name.span()),
        name,
        ports,
        timers,
        start,
        stop,
        handlers,
    })
}

fn declared_ports(
    decl: &super::parse::PortsDecl,
    errors: &mut darling::error::Accumulator,
) -> Vec<Port> {
    let mut ports: Vec<Port> = Vec::new();
    for declared in &decl.0 {
        let name = declared.name.to_string();
        if ports.iter().any(|p| p.name == name) {
            errors.push(
                Error::custom(format!("port `{name}` is declared twice\nhelp: remove one"))
                    .with_span(&declared.name),
            );
            continue;
        }
        if !is_port_name(&name) {
            errors.push(
                Error::custom(format!(
                    "`{name}` is not a valid port name\nhelp: port names are snake_case identifiers"
                ))
                .with_span(&declared.name),
            );
            continue;
        }
        ports.push(Port {
            variant: syn::Ident::new(&name.to_upper_camel_case(), declared.name.span()),
            name,
            key: declared.key.clone(),
            handler: None,
        });
    }
    ports
}

fn is_port_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

fn arg_type(arg: &syn::FnArg) -> &syn::Type {
    match arg {
        syn::FnArg::Typed(pat) => &pat.ty,
        syn::FnArg::Receiver(recv) => &recv.ty,
    }
}

/// Checks what every handler shares: a plain method, `&mut self`, the context, no return
/// value. Returns the parameters after the context.
fn check_signature<'a>(
    handler: &'a RawHandler,
    errors: &mut darling::error::Accumulator,
) -> Option<Vec<&'a syn::FnArg>> {
    let sig = &handler.sig;
    let mut ok = true;
    let mut fail = |errors: &mut darling::error::Accumulator, span: Span, msg: &str| {
        ok = false;
        errors.push(Error::custom(msg).with_span(&span));
    };
    if let Some(token) = &sig.asyncness {
        fail(
            errors,
            token.span(),
            "a handler cannot be `async`: it runs to completion within one event\n\
             help: remove `async`; to continue later, arm a timer with `cx.start_timer(...)`",
        );
    }
    if let Some(token) = &sig.unsafety {
        fail(
            errors,
            token.span(),
            "a handler cannot be `unsafe fn`: the dispatch calls it for every event, with no caller to uphold a safety contract\n\
             help: remove `unsafe`; if the handler needs an unsafe operation, wrap just that in an `unsafe { ... }` block with a `// SAFETY:` comment",
        );
    }
    if let Some(abi) = &sig.abi {
        fail(
            errors,
            abi.span(),
            "a handler cannot have an `extern` ABI: the dispatch calls it as a Rust method\n\
             help: remove the `extern` part",
        );
    }
    if !sig.generics.params.is_empty() {
        fail(
            errors,
            sig.generics.span(),
            "a handler cannot have generic parameters: the dispatch calls it with concrete types\n\
             help: remove the generic parameters",
        );
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        let unit = matches!(&**ty, syn::Type::Tuple(t) if t.elems.is_empty());
        if !unit {
            fail(
                errors,
                ty.span(),
                "a handler returns nothing\n\
                 help: remove the return type; count problems with `cx.count(..)` or `cx.drop_packet(pkt, reason)`",
            );
        }
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(syn::FnArg::Receiver(recv))
            if recv.reference.is_some() && recv.mutability.is_some() => {}
        Some(syn::FnArg::Receiver(recv)) if recv.reference.is_some() => fail(
            errors,
            recv.span(),
            "a handler takes `&mut self`, not `&self`: handlers update the protocol's state\n\
             help: write `&mut self`",
        ),
        Some(syn::FnArg::Receiver(recv)) => fail(
            errors,
            recv.span(),
            "a handler takes `&mut self`, not `self` by value: the node keeps the protocol's state between events\n\
             help: write `&mut self`",
        ),
        _ => {
            fail(
                errors,
                sig.ident.span(),
                "a handler must be a method taking `&mut self`\n\
                 help: add `&mut self` as the first parameter",
            );
            return None;
        }
    }
    match inputs.next() {
        Some(arg) if is_cx(arg_type(arg)) => {}
        Some(arg) if is_mut_ref_to(arg_type(arg), "Cx") || is_path_named(arg_type(arg), "Cx") => {
            fail(
                errors,
                arg.span(),
                "the context parameter is a mutable reference: `cx: &mut Cx<Self>`\n\
             help: write `&mut Cx<Self>`",
            )
        }
        Some(arg) => {
            let later = sig.inputs.iter().skip(2).find(|a| {
                let ty = arg_type(a);
                is_cx(ty) || is_mut_ref_to(ty, "Cx") || is_path_named(ty, "Cx")
            });
            match later {
                Some(cx) => fail(
                    errors,
                    cx.span(),
                    &format!(
                        "the context parameter must come right after `&mut self`, but here it follows `{}`\n\
                         help: swap them: `fn {}(&mut self, {}, {}{})`",
                        tokens_text(arg),
                        sig.ident,
                        tokens_text(cx),
                        tokens_text(arg),
                        sig.inputs
                            .iter()
                            .skip(2)
                            .filter(|a| !std::ptr::eq(*a, cx))
                            .map(|a| format!(", {}", tokens_text(a)))
                            .collect::<String>(),
                    ),
                ),
                None => fail(
                    errors,
                    arg.span(),
                    "missing the context parameter: the second parameter of a handler is `cx: &mut Cx<Self>`\n\
                     help: add `cx: &mut Cx<Self>` right after `&mut self`",
                ),
            }
        }
        None => fail(
            errors,
            sig.paren_token.span.join(),
            "missing the context parameter: the second parameter of a handler is `cx: &mut Cx<Self>`\n\
             help: add `cx: &mut Cx<Self>` right after `&mut self`",
        ),
    }
    ok.then(|| inputs.collect())
}

/// A parameter as compact text, for hints: `_pkt: Packet`.
fn tokens_text(arg: &syn::FnArg) -> String {
    match arg {
        syn::FnArg::Typed(pat) => {
            let pat = &pat.pat;
            format!(
                "{}: {}",
                quote::quote!(#pat),
                crate::util::type_text(arg_type(arg))
            )
        }
        syn::FnArg::Receiver(_) => "self".to_owned(),
    }
}

fn is_cx(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_some() && is_path_named(&r.elem, "Cx"))
}

fn is_mut_ref_to(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Reference(r) if is_path_named(&r.elem, name))
}

fn is_path_named(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}
