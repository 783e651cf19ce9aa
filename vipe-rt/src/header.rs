//! What `#[derive(Header)]` builds on: the typed parse error, the inline options buffer,
//! the bounded list of repeated entries, and the trait every derived header implements.

use core::fmt;

use smallvec::SmallVec;

/// The byte-slice traits a header view is generic over (`&[u8]`, `&mut [u8]`), for
/// writing impls on a derived `...View<B>`.
pub use zerocopy::{SplitByteSlice, SplitByteSliceMut};

/// Why a header did not parse (or could not be written). Small and `Copy`, so a handler
/// can count it as a drop reason and move on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// The header type, e.g. `"Ipv4Header"`.
    pub header: &'static str,
    /// The field at fault, or `""` for the header as a whole.
    pub field: &'static str,
    /// What is wrong.
    pub kind: HeaderErrorKind,
}

/// What is wrong with a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderErrorKind {
    /// The buffer is shorter than the header says it is.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A field does not hold its one allowed value (e.g. an IPv4 version other than 4).
    Unexpected {
        /// The value required.
        expected: u64,
        /// The value found.
        found: u64,
    },
    /// A field is below its minimum or above its maximum.
    OutOfRange {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// The value found.
        found: u64,
    },
    /// A length field disagrees with the header's own size or with the buffer.
    BadLength {
        /// The length the field declares, in bytes.
        declared: usize,
        /// The smallest it may be.
        min: usize,
        /// The largest it may be (the bytes available).
        max: usize,
    },
    /// A value does not fit the field's bit width.
    TooWide {
        /// The field's width in bits.
        bits: u8,
        /// The value given.
        value: u64,
    },
    /// More option bytes than the header can carry, or not a multiple of its unit.
    BadOptions {
        /// Option bytes given.
        len: usize,
    },
    /// More repeated entries than the header's `Entries<_, N>` holds.
    TooManyEntries {
        /// Entries found (or given, on emit).
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// The bytes for repeated entries are not a whole number of entries.
    RaggedEntries {
        /// Bytes the entries take.
        len: usize,
        /// Length of one entry.
        entry_len: usize,
    },
}

impl HeaderError {
    /// A short static description, usable as a counted drop reason.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            HeaderErrorKind::Truncated { .. } => "truncated header",
            HeaderErrorKind::Unexpected { .. } => "unexpected header field value",
            HeaderErrorKind::OutOfRange { .. } => "header field out of range",
            HeaderErrorKind::BadLength { .. } => "inconsistent header length field",
            HeaderErrorKind::TooWide { .. } => "value too wide for header field",
            HeaderErrorKind::BadOptions { .. } => "bad header options",
            HeaderErrorKind::TooManyEntries { .. } => "too many header entries",
            HeaderErrorKind::RaggedEntries { .. } => "header entries not a whole number",
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header)?;
        if !self.field.is_empty() {
            write!(f, ".{}", self.field)?;
        }
        match self.kind {
            HeaderErrorKind::Truncated { needed, available } => {
                write!(
                    f,
                    ": truncated: needs {needed} bytes, {available} available"
                )
            }
            HeaderErrorKind::Unexpected { expected, found } => {
                write!(f, ": expected {expected}, found {found}")
            }
            HeaderErrorKind::OutOfRange { min, max, found } => {
                write!(f, ": {found} is outside {min}..={max}")
            }
            HeaderErrorKind::BadLength { declared, min, max } => {
                write!(
                    f,
                    ": declares {declared} bytes, must be within {min}..={max}"
                )
            }
            HeaderErrorKind::TooWide { bits, value } => {
                write!(f, ": {value} does not fit in {bits} bits")
            }
            HeaderErrorKind::BadOptions { len } => write!(f, ": {len} option bytes do not fit"),
            HeaderErrorKind::TooManyEntries { count, max } => {
                write!(f, ": {count} entries, at most {max} allowed")
            }
            HeaderErrorKind::RaggedEntries { len, entry_len } => {
                write!(
                    f,
                    ": {len} bytes are not a whole number of {entry_len}-byte entries"
                )
            }
        }
    }
}

impl core::error::Error for HeaderError {}

/// Most option bytes a header can carry (IPv4 and TCP: 40).
pub const MAX_OPTIONS: usize = 40;

/// A header's variable-length options, kept inline (no allocation), at most
/// [`MAX_OPTIONS`] bytes. Compared by their bytes.
#[derive(Clone, Copy)]
pub struct Options {
    len: u8,
    bytes: [u8; MAX_OPTIONS],
}

impl Options {
    /// No options.
    pub const EMPTY: Options = Options {
        len: 0,
        bytes: [0; MAX_OPTIONS],
    };

    /// Options holding a copy of `bytes`; `None` if longer than [`MAX_OPTIONS`].
    pub fn from_slice(bytes: &[u8]) -> Option<Options> {
        if bytes.len() > MAX_OPTIONS {
            return None;
        }
        let mut options = Options::EMPTY;
        options.bytes[..bytes.len()].copy_from_slice(bytes);
        options.len = bytes.len() as u8;
        Some(options)
    }

    /// The option bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Number of option bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::EMPTY
    }
}

impl PartialEq for Options {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Options {}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Options({:02x?})", self.as_slice())
    }
}

/// Repeated entries of a header: a list of fixed-length sub-headers after the fixed
/// part, such as RIP's route entries or TCP's SACK blocks. At most `N` (checked by parse
/// and by emit); up to `N` are kept inline, without allocation.
///
/// Declared on the last field with `#[header(entries)]`; see the derive's documentation
/// ([`macro@crate::Header`]) for how their number is found.
#[derive(Clone, PartialEq, Eq)]
pub struct Entries<T: Header, const N: usize> {
    items: SmallVec<[T; N]>,
}

impl<T: Header, const N: usize> Entries<T, N> {
    /// Most entries this list may hold.
    pub const MAX: usize = N;

    /// No entries.
    pub fn new() -> Self {
        Entries {
            items: SmallVec::new(),
        }
    }

    /// A list holding `items`; `None` if there are more than `N`.
    pub fn from_iter_bounded(items: impl IntoIterator<Item = T>) -> Option<Self> {
        let mut list = Self::new();
        for item in items {
            list.push(item).ok()?;
        }
        Some(list)
    }

    /// Appends an entry, or gives it back if the list is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.items.len() >= N {
            return Err(item);
        }
        self.items.push(item);
        Ok(())
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The entries.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// The entries, writable in place.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes the entries take on the wire.
    pub fn wire_len(&self) -> usize {
        self.items.len() * T::LEN
    }

    /// Iterates over the entries.
    pub fn iter(&self) -> core::slice::Iter<'_, T> {
        self.items.iter()
    }
}

impl<T: Header, const N: usize> Default for Entries<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Header + fmt::Debug, const N: usize> fmt::Debug for Entries<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<'a, T: Header, const N: usize> IntoIterator for &'a Entries<T, N> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T: Header, const N: usize> core::ops::Deref for Entries<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

/// Implemented by `#[derive(Header)]` for every header type.
pub trait Header: Sized {
    /// The header's name, as errors show it.
    const NAME: &'static str;
    /// Length of the fixed part in bytes.
    const LEN: usize;
    /// Whether every instance is exactly [`Self::LEN`] bytes long (no options, no
    /// entries), as a repeated entry must be.
    const FIXED_LEN: bool = true;
    /// Length of this header as it would be written (fixed part plus options or entries).
    fn header_len(&self) -> usize;
    /// Writes the header into the front of `packet` (the header followed by its payload),
    /// filling length and checksum fields. Returns the header length.
    fn emit(&self, packet: &mut [u8]) -> Result<usize, HeaderError>;
    /// Writes the header into the front of `packet` exactly as it is held: length fields
    /// and the checksum are written as they are, not computed (to re-emit a received
    /// header byte for byte, with its checksum as received, right or wrong). Values too
    /// wide for their fields and over-long options or entries are still errors.
    fn emit_verbatim(&self, packet: &mut [u8]) -> Result<usize, HeaderError>;
    /// Parses and validates the header at the front of `packet`, returning the owned
    /// representation.
    fn parse_owned(packet: &[u8]) -> Result<Self, HeaderError>;
    /// The value of the field marked `#[header(next)]`, which names the next layer's
    /// protocol (EtherType, IP protocol, port), if the header has one.
    fn next_layer(&self) -> Option<u64> {
        None
    }
}
