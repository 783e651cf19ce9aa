//! IPv6 (RFC 8200): the fixed header, the extension headers a packet may carry before
//! its upper-layer protocol (Hop-by-Hop Options, Routing, Fragment, Destination Options,
//! Authentication), a walk over them that stops at the upper layer, and the
//! pseudo-header for upper-layer checksums (RFC 8200 §8.1).

use vipe_rt::checksum::PseudoHeader;
use vipe_rt::prelude::*;

/// Next header: Hop-by-Hop Options.
pub const NEXT_HOP_BY_HOP: u8 = 0;
/// Next header: TCP.
pub const NEXT_TCP: u8 = 6;
/// Next header: UDP.
pub const NEXT_UDP: u8 = 17;
/// Next header: Routing.
pub const NEXT_ROUTING: u8 = 43;
/// Next header: Fragment.
pub const NEXT_FRAGMENT: u8 = 44;
/// Next header: Encapsulating Security Payload (opaque: the walk stops there).
pub const NEXT_ESP: u8 = 50;
/// Next header: Authentication Header.
pub const NEXT_AUTH: u8 = 51;
/// Next header: ICMPv6.
pub const NEXT_ICMPV6: u8 = 58;
/// Next header: no next header.
pub const NEXT_NONE: u8 = 59;
/// Next header: Destination Options.
pub const NEXT_DEST_OPTIONS: u8 = 60;
/// Most extension headers the walk follows before giving up on a packet.
pub const MAX_EXTENSION_HEADERS: usize = 16;

/// The IPv6 fixed header (40 bytes). Jumbograms (payload length 0 with a Jumbo Payload
/// option) are not supported: their payload length reads as 0.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Always 6.
    #[header(bits = 4, expect = 6)]
    pub version: u8,
    /// DSCP and ECN.
    #[header(bits = 8)]
    pub traffic_class: u8,
    /// Flow label.
    #[header(bits = 20)]
    pub flow_label: u32,
    /// Bytes after this header (extension headers and upper layer).
    #[header(total_len = "value + 40", fill = "payload_len")]
    pub payload_len: u16,
    /// The first extension header or the upper-layer protocol.
    #[header(next)]
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

/// The first two bytes every extension header but Fragment shares; its length is
/// `(hdr_ext_len + 1) * 8` bytes (Authentication: `(hdr_ext_len + 2) * 4`).
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6ExtensionHeader {
    /// The header after this one.
    #[header(next)]
    pub next_header: u8,
    /// Length in 8-byte units, not counting the first 8 bytes.
    pub hdr_ext_len: u8,
}

/// The fixed part of a Routing header (RFC 8200 §4.4); type-specific data follows.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6RoutingHeader {
    /// The header after this one.
    #[header(next)]
    pub next_header: u8,
    /// Length in 8-byte units, not counting the first 8 bytes.
    pub hdr_ext_len: u8,
    /// Routing type (2: Mobile IPv6, 4: Segment Routing).
    pub routing_type: u8,
    /// Route segments still to visit.
    pub segments_left: u8,
}

/// A Fragment header (RFC 8200 §4.5), 8 bytes.
#[derive(Header, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6FragmentHeader {
    /// The header of the fragmentable part.
    #[header(next)]
    pub next_header: u8,
    /// Reserved.
    pub reserved: u8,
    /// Offset of this fragment's data in 8-byte units.
    #[header(bits = 13)]
    pub frag_offset: u16,
    /// Reserved.
    #[header(bits = 2)]
    pub res: u8,
    /// More fragments follow.
    #[header(bits = 1)]
    pub more: u8,
    /// Identification, shared by the fragments of one packet.
    pub ident: u32,
}

/// Which extension header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionKind {
    /// Hop-by-Hop Options (only right after the fixed header).
    HopByHop,
    /// Routing, with its type and segments left.
    Routing {
        /// Routing type.
        routing_type: u8,
        /// Segments left.
        segments_left: u8,
    },
    /// Fragment.
    Fragment {
        /// Byte offset of this fragment's data.
        offset: usize,
        /// More fragments follow.
        more: bool,
        /// Identification.
        ident: u32,
    },
    /// Destination Options.
    DestinationOptions,
    /// Authentication Header (RFC 4302).
    Authentication,
}

/// One extension header found by [`Ipv6Packet::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Which one.
    pub kind: ExtensionKind,
    /// Its offset from the start of the IPv6 packet.
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
}

/// Why an IPv6 packet's headers could not be walked; [`Self::reason`] is a drop reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Error {
    /// The fixed header is bad.
    Header(HeaderError),
    /// An extension header runs past the payload.
    TruncatedExtension,
    /// A Hop-by-Hop Options header not right after the fixed header.
    MisplacedHopByHop,
    /// More than [`MAX_EXTENSION_HEADERS`] extension headers.
    TooManyExtensions,
}

impl Ipv6Error {
    /// A short static description, usable as a counted drop reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Ipv6Error::Header(e) => e.reason(),
            Ipv6Error::TruncatedExtension => "truncated IPv6 extension header",
            Ipv6Error::MisplacedHopByHop => "IPv6 hop-by-hop header not first",
            Ipv6Error::TooManyExtensions => "too many IPv6 extension headers",
        }
    }
}

/// At most this many extension headers, kept inline.
type ExtensionList = [Option<Extension>; MAX_EXTENSION_HEADERS];

/// An IPv6 packet whose extension headers were walked up to the upper layer.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<'a> {
    /// The fixed header.
    pub header: Ipv6Header,
    /// The packet, as far as the payload length says (link padding left out).
    bytes: &'a [u8],
    extensions: ExtensionList,
    count: usize,
    /// The upper-layer protocol (or [`NEXT_NONE`], [`NEXT_ESP`], or the protocol of a
    /// non-first fragment's fragmentable part).
    pub upper_protocol: u8,
    /// Offset of the upper-layer data from the start of the packet.
    pub upper_offset: usize,
}

impl<'a> Ipv6Packet<'a> {
    /// Parses the fixed header and walks the extension headers until an upper-layer
    /// protocol, "no next header", ESP, or a non-first fragment (whose data is not a
    /// header). Every length is checked against the payload; errors never panic.
    pub fn parse(packet: &'a [u8]) -> Result<Self, Ipv6Error> {
        let view = Ipv6HeaderView::parse(packet).map_err(Ipv6Error::Header)?;
        let end = view.header_and_payload_len();
        let header = view.to_owned();
        let bytes = &packet[..end];
        let mut extensions: ExtensionList = [None; MAX_EXTENSION_HEADERS];
        let mut count = 0;
        let mut next = header.next_header;
        let mut at = Ipv6Header::LEN;
        loop {
            let rest = &bytes[at..];
            let (kind, len, following) = match next {
                NEXT_HOP_BY_HOP | NEXT_DEST_OPTIONS => {
                    if next == NEXT_HOP_BY_HOP && at != Ipv6Header::LEN {
                        return Err(Ipv6Error::MisplacedHopByHop);
                    }
                    let ext = Ipv6ExtensionHeaderView::parse(rest)
                        .map_err(|_| Ipv6Error::TruncatedExtension)?;
                    let kind = if next == NEXT_HOP_BY_HOP {
                        ExtensionKind::HopByHop
                    } else {
                        ExtensionKind::DestinationOptions
                    };
                    (
                        kind,
                        (usize::from(ext.hdr_ext_len()) + 1) * 8,
                        ext.next_header(),
                    )
                }
                NEXT_ROUTING => {
                    let ext = Ipv6RoutingHeaderView::parse(rest)
                        .map_err(|_| Ipv6Error::TruncatedExtension)?;
                    (
                        ExtensionKind::Routing {
                            routing_type: ext.routing_type(),
                            segments_left: ext.segments_left(),
                        },
                        (usize::from(ext.hdr_ext_len()) + 1) * 8,
                        ext.next_header(),
                    )
                }
                NEXT_FRAGMENT => {
                    let ext = Ipv6FragmentHeaderView::parse(rest)
                        .map_err(|_| Ipv6Error::TruncatedExtension)?;
                    (
                        ExtensionKind::Fragment {
                            offset: usize::from(ext.frag_offset()) * 8,
                            more: ext.more() != 0,
                            ident: ext.ident(),
                        },
                        Ipv6FragmentHeader::LEN,
                        ext.next_header(),
                    )
                }
                NEXT_AUTH => {
                    let ext = Ipv6ExtensionHeaderView::parse(rest)
                        .map_err(|_| Ipv6Error::TruncatedExtension)?;
                    (
                        ExtensionKind::Authentication,
                        (usize::from(ext.hdr_ext_len()) + 2) * 4,
                        ext.next_header(),
                    )
                }
                _ => break,
            };
            if len > rest.len() {
                return Err(Ipv6Error::TruncatedExtension);
            }
            if count == MAX_EXTENSION_HEADERS {
                return Err(Ipv6Error::TooManyExtensions);
            }
            extensions[count] = Some(Extension {
                kind,
                offset: at,
                len,
            });
            count += 1;
            at += len;
            next = following;
            if let ExtensionKind::Fragment { offset, .. } = kind
                && offset != 0
            {
                break;
            }
        }
        Ok(Ipv6Packet {
            header,
            bytes,
            extensions,
            count,
            upper_protocol: next,
            upper_offset: at,
        })
    }

    /// The extension headers, in order.
    pub fn extensions(&self) -> impl Iterator<Item = Extension> + '_ {
        self.extensions[..self.count].iter().flatten().copied()
    }

    /// The bytes of an extension header (its first two bytes included).
    pub fn extension_bytes(&self, ext: &Extension) -> &'a [u8] {
        &self.bytes[ext.offset..ext.offset + ext.len]
    }

    /// The Fragment header's fields, if the packet is a fragment.
    pub fn fragment(&self) -> Option<ExtensionKind> {
        self.extensions()
            .map(|e| e.kind)
            .find(|k| matches!(k, ExtensionKind::Fragment { .. }))
    }

    /// The upper-layer data (header and payload of TCP, UDP, ICMPv6, ...).
    pub fn upper_layer(&self) -> &'a [u8] {
        &self.bytes[self.upper_offset..]
    }

    /// The destination the upper-layer checksum covers (RFC 8200 §8.1): the final one.
    /// With a Routing header of type 0, 2 or 3 whose segments are not all visited, that
    /// is its last address; with a Segment Routing Header (type 4), its first segment;
    /// otherwise the header's destination.
    pub fn final_destination(&self) -> [u8; 16] {
        for ext in self.extensions() {
            if let ExtensionKind::Routing {
                routing_type,
                segments_left,
            } = ext.kind
                && segments_left > 0
            {
                let data = self.extension_bytes(&ext);
                let at = match routing_type {
                    0 | 2 | 3 if data.len() >= 24 => Some(data.len() - 16),
                    4 if data.len() >= 24 => Some(8),
                    _ => None,
                };
                if let Some(at) = at {
                    let mut addr = [0u8; 16];
                    addr.copy_from_slice(&data[at..at + 16]);
                    return addr;
                }
            }
        }
        self.header.dst
    }

    /// The pseudo-header for the upper layer's checksum.
    pub fn pseudo_header(&self) -> PseudoHeader {
        PseudoHeader::V6 {
            src: self.header.src,
            dst: self.final_destination(),
            next_header: self.upper_protocol,
        }
    }
}
