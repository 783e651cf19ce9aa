//! The checked model of a protocol impl: what `expand` turns into code.

/// A validated `#[protocol]` impl block.
pub struct Model {
    /// Path to `vipe_rt`.
    pub krate: syn::Path,
    /// Visibility of the generated enums.
    pub vis: syn::Visibility,
    /// The protocol's type, as written after `impl`.
    pub self_ty: syn::Type,
    /// The protocol type's name, for naming the generated enums and docs.
    pub name: syn::Ident,
    /// `<Name>Port`.
    pub port_enum: syn::Ident,
    /// `<Name>Timer`.
    pub timer_enum: syn::Ident,
    /// Ports in index order.
    pub ports: Vec<Port>,
    /// Timers in index order.
    pub timers: Vec<Timer>,
    /// The `#[on_start]` handler.
    pub start: Option<syn::Ident>,
    /// The `#[on_stop]` handler.
    pub stop: Option<syn::Ident>,
    /// Every handler in source order, for the descriptor.
    pub handlers: Vec<Handler>,
}

/// One port.
pub struct Port {
    /// As written: `"upper"`.
    pub name: String,
    /// The enum variant: `Upper`.
    pub variant: syn::Ident,
    /// The key type, for a keyed port.
    pub key: Option<syn::Type>,
    /// The method handling packets from it; `None` for a send-only port.
    pub handler: Option<syn::Ident>,
}

/// One timer.
pub struct Timer {
    /// The enum variant: `Retransmit`.
    pub variant: syn::Ident,
    /// Its payload types, in handler argument order.
    pub args: Vec<syn::Type>,
    /// The method handling it.
    pub handler: syn::Ident,
}

/// One handler, for the descriptor.
pub struct Handler {
    /// The method's name.
    pub method: syn::Ident,
    /// What runs it.
    pub kind: HandlerKind,
}

/// What runs a handler (indices into `Model::ports` and `Model::timers`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    Start,
    Stop,
    Packet(usize),
    Timer(usize),
}
