//! Segmentation and checksum offload carried in a packet (the `sk_buff`'s `gso_size`,
//! `gso_type` and `CHECKSUM_PARTIAL`).
//!
//! A platform whose device hands over large TCP or UDP segments (a Linux TAP with
//! `IFF_VNET_HDR` and TSO/USO enabled) marks them with an [`Offload`] in
//! [`PacketMeta::offload`](crate::PacketMeta::offload): the packet is one IP datagram of up
//! to 64 KB whose payload stands for several segments of `gso_size` bytes, and its
//! transport checksum may be only partial (the pseudo-header's sum, to be completed over
//! the transport header and payload). Layers that only move such a packet (Ethernet, an
//! IPv4 router) forward it whole; a layer that needs ordinary packets — a protocol that
//! reads the payload, an egress whose MTU or device cannot take the large packet — calls
//! [`segment`] or [`complete_checksum`], or [`for_each_ordinary`] for both.
//!
//! Software segmentation does what a NIC's TSO does: every segment gets a copy of the
//! headers in front of the transport payload (link header included); IPv4 total length,
//! identification (the first segment's plus its index) and header checksum, IPv6 payload
//! length; TCP sequence numbers advanced by the payload before it, FIN and PSH only on
//! the last segment and CWR only on the first; UDP length; and a full transport checksum.

use crate::checksum;
use crate::packet::{Packet, PacketPool};

/// What segmentation a packet's payload is due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GsoKind {
    /// None: an ordinary packet.
    #[default]
    None,
    /// TCP over IPv4 or IPv6 (TSO): cut into segments of `gso_size` payload bytes.
    Tcp,
    /// UDP over IPv4 or IPv6 (USO, `UDP_SEGMENT`): cut into datagrams of `gso_size`
    /// payload bytes each.
    Udp,
}

/// Offload state carried with a packet. Positions are counted from the start of the
/// packet's buffer (where [`Packet::headroom`] counts the data start from), so they stay
/// right while layers push and pull headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// Segmentation due, if any.
    pub gso: GsoKind,
    /// Transport payload bytes per segment (the MSS for TCP).
    pub gso_size: u16,
    /// The transport checksum holds only the pseudo-header sum: complete it over the
    /// bytes from `csum_start` to the end and store it at `csum_start + csum_offset`.
    pub csum_partial: bool,
    /// Buffer position of the transport header (where checksumming starts).
    pub csum_start: u32,
    /// Offset of the checksum field from `csum_start` (16 for TCP, 6 for UDP).
    pub csum_offset: u16,
    /// Buffer position of the network (IP) header.
    pub net_start: u32,
}

impl Offload {
    /// Whether the packet needs anything done before it is an ordinary packet.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.csum_partial || self.gso != GsoKind::None
    }
}

/// Why a packet's offload could not be carried out; the packet is dropped and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoError {
    /// The offload positions point outside the packet.
    BadOffsets,
    /// The headers are not IPv4/IPv6 with TCP or UDP right after, as the offload says.
    BadHeaders,
    /// A segment size of zero.
    ZeroSize,
}

impl GsoError {
    /// A static reason, for counted drops.
    pub fn reason(&self) -> &'static str {
        match self {
            GsoError::BadOffsets => "offload positions outside the packet",
            GsoError::BadHeaders => "offload on a packet that is not TCP or UDP over IP",
            GsoError::ZeroSize => "segmentation offload with a zero segment size",
        }
    }
}

impl core::fmt::Display for GsoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.reason())
    }
}

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Where the headers of an offloaded packet sit, relative to its data.
struct Layout {
    /// Network header start.
    l3: usize,
    /// Network header length.
    l3_len: usize,
    /// IP version (4 or 6).
    version: u8,
    /// Transport protocol.
    protocol: u8,
    /// Transport header start.
    l4: usize,
    /// Transport header length.
    l4_len: usize,
}

fn relative(pkt: &Packet, position: u32) -> Result<usize, GsoError> {
    (position as usize)
        .checked_sub(pkt.headroom())
        .filter(|&p| p < pkt.len())
        .ok_or(GsoError::BadOffsets)
}

fn layout(pkt: &Packet) -> Result<Layout, GsoError> {
    let offload = pkt.meta().offload;
    let data = pkt.data();
    let l3 = relative(pkt, offload.net_start)?;
    let version = data[l3] >> 4;
    let (l3_len, protocol) = match version {
        4 => {
            let ihl = usize::from(data[l3] & 0x0f) * 4;
            let protocol = *data.get(l3 + 9).ok_or(GsoError::BadHeaders)?;
            (ihl, protocol)
        }
        // Extension headers are not followed: the kernel hands TSO6 segments with the
        // transport header right after the fixed header.
        6 => (40, *data.get(l3 + 6).ok_or(GsoError::BadHeaders)?),
        _ => return Err(GsoError::BadHeaders),
    };
    let l4 = l3 + l3_len;
    if (version == 4 && l3_len < 20) || l4 > data.len() {
        return Err(GsoError::BadHeaders);
    }
    if offload.csum_partial && relative(pkt, offload.csum_start)? != l4 {
        return Err(GsoError::BadHeaders);
    }
    let l4_len = match protocol {
        PROTO_TCP => usize::from(*data.get(l4 + 12).ok_or(GsoError::BadHeaders)? >> 4) * 4,
        PROTO_UDP => 8,
        _ => return Err(GsoError::BadHeaders),
    };
    if l4_len < 8 || l4 + l4_len > data.len() {
        return Err(GsoError::BadHeaders);
    }
    Ok(Layout {
        l3,
        l3_len,
        version,
        protocol,
        l4,
        l4_len,
    })
}

/// The length of the largest segment's network datagram (IP header, transport header,
/// `gso_size` payload bytes): what must fit the egress MTU for the packet to leave whole.
/// For a packet without segmentation offload, its length from the network header.
pub fn segment_len(pkt: &Packet) -> Result<usize, GsoError> {
    let offload = pkt.meta().offload;
    let l = layout(pkt)?;
    let whole = pkt.len() - l.l3;
    if offload.gso == GsoKind::None {
        return Ok(whole);
    }
    Ok((l.l3_len + l.l4_len + usize::from(offload.gso_size)).min(whole))
}

/// The transport checksum over `data[l4..]` of a datagram whose IP header is at `l3`.
fn transport_checksum(data: &[u8], l: &Layout) -> u16 {
    let len = data.len() - l.l4;
    let mut sum = checksum::add(0, &data[l.l4..]);
    if l.version == 4 {
        sum = checksum::add(sum, &data[l.l3 + 12..l.l3 + 20]);
    } else {
        sum = checksum::add(sum, &data[l.l3 + 8..l.l3 + 40]);
    }
    sum += u64::from(l.protocol) + len as u64;
    let c = !checksum::fold(sum);
    if l.protocol == PROTO_UDP && c == 0 {
        0xffff
    } else {
        c
    }
}

/// Completes a partial transport checksum (does nothing if it is not partial): sums the
/// bytes from `csum_start` to the end, over the pseudo-header sum already in the field.
pub fn complete_checksum(pkt: &mut Packet) -> Result<(), GsoError> {
    let offload = pkt.meta().offload;
    if !offload.csum_partial {
        return Ok(());
    }
    let start = relative(pkt, offload.csum_start)?;
    let field = start + usize::from(offload.csum_offset);
    if field + 2 > pkt.len() {
        return Err(GsoError::BadOffsets);
    }
    let data = pkt.data_mut();
    let mut c = !checksum::fold(checksum::add(0, &data[start..]));
    // UDP's "no checksum" is zero: a computed zero goes out as all ones (RFC 768).
    if offload.csum_offset == 6 && c == 0 {
        c = 0xffff;
    }
    data[field..field + 2].copy_from_slice(&c.to_be_bytes());
    pkt.meta_mut().offload.csum_partial = false;
    Ok(())
}

/// Cuts a packet carrying segmentation offload into ordinary packets from `pool`, in
/// order, handing each to `out` (see the module documentation for what each gets). A
/// packet without segmentation offload gives one segment with a complete checksum.
/// Returns the number of segments.
pub fn segment(
    pkt: &Packet,
    pool: &PacketPool,
    mut out: impl FnMut(Packet),
) -> Result<usize, GsoError> {
    let offload = pkt.meta().offload;
    let l = layout(pkt)?;
    let size = match offload.gso {
        GsoKind::None => usize::MAX,
        _ if offload.gso_size == 0 => return Err(GsoError::ZeroSize),
        _ => usize::from(offload.gso_size),
    };
    let data = pkt.data();
    let headers = l.l4 + l.l4_len;
    let payload = &data[headers..];
    let count = payload.len().div_ceil(size).max(1);
    let (seq, flags) = if l.protocol == PROTO_TCP {
        (
            u32::from_be_bytes([
                data[l.l4 + 4],
                data[l.l4 + 5],
                data[l.l4 + 6],
                data[l.l4 + 7],
            ]),
            data[l.l4 + 13],
        )
    } else {
        (0, 0)
    };
    let ident = if l.version == 4 {
        u16::from_be_bytes([data[l.l3 + 4], data[l.l3 + 5]])
    } else {
        0
    };
    let mut meta = *pkt.meta();
    meta.offload = Offload::default();
    for i in 0..count {
        let start = (i * size).min(payload.len());
        let chunk = &payload[start..(start + size).min(payload.len())];
        let last = i + 1 == count;
        let mut seg = pool.alloc_with_headroom(pkt.headroom());
        seg.put_slice(&data[..headers]);
        seg.put_slice(chunk);
        *seg.meta_mut() = meta;
        let s = seg.data_mut();
        let l4_total = l.l4_len + chunk.len();
        if l.version == 4 {
            let total = (l.l3_len + l4_total) as u16;
            s[l.l3 + 2..l.l3 + 4].copy_from_slice(&total.to_be_bytes());
            let id = ident.wrapping_add(i as u16);
            s[l.l3 + 4..l.l3 + 6].copy_from_slice(&id.to_be_bytes());
            s[l.l3 + 10..l.l3 + 12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&s[l.l3..l.l3 + l.l3_len]);
            s[l.l3 + 10..l.l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            s[l.l3 + 4..l.l3 + 6].copy_from_slice(&(l4_total as u16).to_be_bytes());
        }
        let field = if l.protocol == PROTO_TCP {
            let seq = seq.wrapping_add(start as u32);
            s[l.l4 + 4..l.l4 + 8].copy_from_slice(&seq.to_be_bytes());
            let mut f = flags;
            if !last {
                f &= !(TCP_FIN | TCP_PSH);
            }
            if i > 0 {
                f &= !TCP_CWR;
            }
            s[l.l4 + 13] = f;
            l.l4 + 16
        } else {
            s[l.l4 + 4..l.l4 + 6].copy_from_slice(&(l4_total as u16).to_be_bytes());
            l.l4 + 6
        };
        s[field..field + 2].copy_from_slice(&[0, 0]);
        let c = transport_checksum(s, &l);
        s[field..field + 2].copy_from_slice(&c.to_be_bytes());
        out(seg);
    }
    Ok(count)
}

/// Hands `out` ordinary packets for `pkt`: the packet itself if it carries no offload,
/// with its checksum completed if that is all it carries, else its segments.
pub fn for_each_ordinary(
    mut pkt: Packet,
    pool: &PacketPool,
    mut out: impl FnMut(Packet),
) -> Result<(), (Packet, GsoError)> {
    let offload = pkt.meta().offload;
    if offload.gso == GsoKind::None {
        if let Err(e) = complete_checksum(&mut pkt) {
            return Err((pkt, e));
        }
        out(pkt);
        return Ok(());
    }
    match segment(&pkt, pool, &mut out) {
        Ok(_) => Ok(()),
        Err(e) => Err((pkt, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// An Ethernet frame with IPv4 (id 0x1000, DF) and TCP (seq 1000, PSH|ACK|FIN|CWR),
    /// `payload` bytes, partial checksum and TSO with `mss`.
    fn tso_frame(pool: &PacketPool, payload: usize, mss: u16, flags: u8) -> Packet {
        let mut pkt = pool.alloc_with_headroom(64);
        let mut eth = [0u8; 14];
        eth[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        pkt.put_slice(&eth);
        let total = (20 + 32 + payload) as u16;
        let mut ip = [
            0x45, 0, 0, 0, 0x10, 0x00, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let c = checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        pkt.put_slice(&ip);
        let mut tcp = [0u8; 32];
        tcp[0..2].copy_from_slice(&5001u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
        tcp[12] = 8 << 4;
        tcp[13] = flags;
        tcp[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        // The pseudo-header sum, uncomplemented, as the kernel leaves it.
        let pseudo = checksum::fold(checksum::pseudo_header_v4(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            6,
            (32 + payload) as u16,
        ));
        tcp[16..18].copy_from_slice(&pseudo.to_be_bytes());
        pkt.put_slice(&tcp);
        for i in 0..payload {
            pkt.put_slice(&[(i % 251) as u8]);
        }
        let base = pkt.headroom() as u32;
        pkt.meta_mut().offload = Offload {
            gso: GsoKind::Tcp,
            gso_size: mss,
            csum_partial: true,
            csum_start: base + 34,
            csum_offset: 16,
            net_start: base + 14,
        };
        pkt
    }

    fn verify_tcp(seg: &[u8]) -> bool {
        let ip = &seg[14..34];
        let tcp = &seg[34..];
        checksum::verify(ip)
            && checksum::fold(checksum::add(
                checksum::pseudo_header_v4(
                    ip[12..16].try_into().unwrap(),
                    ip[16..20].try_into().unwrap(),
                    6,
                    tcp.len() as u16,
                ),
                tcp,
            )) == 0xffff
    }

    #[test]
    fn tso_segments_carry_ids_sequence_numbers_flags_and_checksums() {
        let pool = PacketPool::default();
        let flags = 0x80 | 0x10 | 0x08 | 0x01; // CWR ACK PSH FIN
        let pkt = tso_frame(&pool, 3000, 1448, flags);
        assert_eq!(segment_len(&pkt), Ok(20 + 32 + 1448));
        let mut segs = Vec::new();
        assert_eq!(segment(&pkt, &pool, |s| segs.push(s)), Ok(3));
        let lens: Vec<usize> = segs.iter().map(|s| s.len()).collect();
        assert_eq!(lens, [66 + 1448, 66 + 1448, 66 + 104]);
        let mut payload = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            let d = seg.data();
            assert!(!seg.meta().offload.is_active());
            assert!(verify_tcp(d), "segment {i} checksums");
            assert_eq!(
                u16::from_be_bytes([d[16], d[17]]) as usize,
                d.len() - 14,
                "total length"
            );
            assert_eq!(u16::from_be_bytes([d[18], d[19]]), 0x1000 + i as u16);
            let seq = u32::from_be_bytes([d[38], d[39], d[40], d[41]]);
            assert_eq!(seq, 1000 + 1448 * i as u32);
            let f = d[47];
            assert_eq!(f & 0x80 != 0, i == 0, "CWR only on the first");
            assert_eq!(f & 0x09 != 0, i == 2, "PSH and FIN only on the last");
            assert_eq!(f & 0x10, 0x10, "ACK on all");
            assert_eq!(&d[54..66], &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
            payload.extend_from_slice(&d[66..]);
        }
        let expected: Vec<u8> = (0..3000).map(|i| (i % 251) as u8).collect();
        assert_eq!(payload, expected);
    }

    #[test]
    fn uso_datagrams_get_their_own_lengths_and_checksums() {
        let pool = PacketPool::default();
        let mut pkt = pool.alloc_with_headroom(64);
        let payload: Vec<u8> = (0..2500u32).map(|i| (i * 7) as u8).collect();
        let mut ip = [
            0x45, 0, 0, 0, 0x20, 0x00, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&((20 + 8 + payload.len()) as u16).to_be_bytes());
        let c = checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        pkt.put_slice(&ip);
        let mut udp = [0u8; 8];
        udp[0..2].copy_from_slice(&4000u16.to_be_bytes());
        udp[2..4].copy_from_slice(&53u16.to_be_bytes());
        pkt.put_slice(&udp);
        pkt.put_slice(&payload);
        let base = pkt.headroom() as u32;
        pkt.meta_mut().offload = Offload {
            gso: GsoKind::Udp,
            gso_size: 1000,
            csum_partial: true,
            csum_start: base + 20,
            csum_offset: 6,
            net_start: base,
        };
        let mut segs = Vec::new();
        assert_eq!(segment(&pkt, &pool, |s| segs.push(s)), Ok(3));
        let mut joined = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            let d = seg.data();
            let len = d.len() - 20;
            assert_eq!(len, 8 + [1000, 1000, 500][i]);
            assert_eq!(
                u16::from_be_bytes([d[24], d[25]]) as usize,
                len,
                "UDP length"
            );
            assert!(checksum::verify(&d[..20]));
            assert_eq!(u16::from_be_bytes([d[4], d[5]]), 0x2000 + i as u16);
            let sum = checksum::add(
                checksum::pseudo_header_v4([10, 0, 0, 1], [10, 0, 0, 2], 17, len as u16),
                &d[20..],
            );
            assert_eq!(checksum::fold(sum), 0xffff, "UDP checksum of datagram {i}");
            joined.extend_from_slice(&d[28..]);
        }
        assert_eq!(joined, payload);
    }

    #[test]
    fn a_partial_checksum_alone_is_completed_in_place() {
        let pool = PacketPool::default();
        let mut pkt = tso_frame(&pool, 500, 1448, 0x18);
        pkt.meta_mut().offload.gso = GsoKind::None;
        let mut out = Vec::new();
        for_each_ordinary(pkt, &pool, |p| out.push(p)).unwrap();
        assert_eq!(out.len(), 1);
        assert!(verify_tcp(out[0].data()));
        assert!(!out[0].meta().offload.is_active());
    }

    #[test]
    fn bad_offsets_and_headers_are_errors_not_panics() {
        let pool = PacketPool::default();
        let mut pkt = tso_frame(&pool, 100, 50, 0x10);
        pkt.meta_mut().offload.net_start = 10_000;
        assert_eq!(segment(&pkt, &pool, |_| {}), Err(GsoError::BadOffsets));
        let mut pkt = tso_frame(&pool, 100, 50, 0x10);
        pkt.data_mut()[14] = 0x55;
        assert_eq!(segment(&pkt, &pool, |_| {}), Err(GsoError::BadHeaders));
        let mut pkt = tso_frame(&pool, 100, 0, 0x10);
        pkt.meta_mut().offload.gso_size = 0;
        assert_eq!(segment(&pkt, &pool, |_| {}), Err(GsoError::ZeroSize));
        let mut short = pool.alloc_with_headroom(64);
        short.put_slice(&[0x45; 20]);
        let base = short.headroom() as u32;
        short.meta_mut().offload = Offload {
            gso: GsoKind::Udp,
            gso_size: 10,
            net_start: base,
            ..Offload::default()
        };
        assert!(segment(&short, &pool, |_| {}).is_err());
    }
}
