//! The checked model of a header: byte layout, fields, and what each field means.

/// A validated header.
pub struct Model {
    pub krate: syn::Path,
    pub ident: syn::Ident,
    /// Length of the fixed part in bytes.
    pub len: usize,
    pub fields: Vec<Field>,
    /// Members of the zerocopy layout struct, in order.
    pub units: Vec<Unit>,
    /// Index of the checksum field, and what it covers.
    pub checksum: Option<(usize, Coverage)>,
    /// The repeated entries, if the header has them.
    pub entries: Option<EntriesField>,
    /// Index of the entry-count field and its expression of `value`.
    pub entry_count: Option<(usize, syn::Expr)>,
    /// Index of the options field.
    pub options: Option<usize>,
    pub options_unit: usize,
    /// Index of the header-length field and its expression of `value`.
    pub header_len: Option<(usize, syn::Expr)>,
    /// Index of the total-length field and its expression of `value`.
    pub total_len: Option<(usize, syn::Expr)>,
    /// Index of the next-layer field.
    pub next: Option<usize>,
}

/// What an Internet checksum covers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The header (with options).
    Header,
    /// Header and payload.
    All,
    /// A pseudo-header given by the caller, header and payload.
    Pseudo,
}

/// The repeated-entries field.
pub struct EntriesField {
    /// Index into `fields`.
    pub index: usize,
    /// The entry type `T` of `Entries<T, N>`.
    pub elem: syn::Type,
}

/// One field of the fixed part (or the options).
pub struct Field {
    pub ident: syn::Ident,
    pub ty: syn::Type,
    pub kind: FieldKind,
    /// Offset of the first bit, from the start of the header.
    pub bit_start: usize,
    /// Width in bits.
    pub bits: usize,
    pub expect: Option<u64>,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub fill: Option<syn::Expr>,
}

/// What a field holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An unsigned integer of this many bytes (maybe narrower, in bits).
    Int { bytes: usize },
    /// A byte array of this length.
    Array { len: usize },
    /// The options.
    Options,
    /// The repeated entries.
    Entries,
}

/// A member of the layout struct.
pub struct Unit {
    pub name: syn::Ident,
    pub kind: UnitKind,
}

/// The type of a layout member.
pub enum UnitKind {
    /// A byte-aligned integer of 1, 2, 4 or 8 bytes (network order).
    Int { bytes: usize },
    /// Raw bytes: an array field, or a group of bit fields.
    Bytes { len: usize },
}

impl Field {
    /// Byte offset of the field's first byte.
    pub fn byte_start(&self) -> usize {
        self.bit_start / 8
    }
    /// Byte offset one past the field's last byte.
    pub fn byte_end(&self) -> usize {
        (self.bit_start + self.bits).div_ceil(8)
    }
    /// Whether the field is a whole-byte integer at a byte boundary.
    pub fn is_aligned_int(&self) -> bool {
        matches!(self.kind, FieldKind::Int { bytes } if bytes * 8 == self.bits && self.bit_start.is_multiple_of(8))
    }
}
