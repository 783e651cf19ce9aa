//! A TCP segment as the socket sees it: decoded header fields and options, without the
//! payload (which is passed alongside as a byte slice). Parsing from wire bytes checks
//! the header length, the checksum over the IPv4 pseudo-header, the options and the flag
//! combination; every refusal has a named reason.

use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use vipe_rt::checksum;

use super::options::{OptionsError, TcpOptions};
use super::seq::SeqNumber;
use crate::wire::ipv4::PROTO_TCP;
use crate::wire::tcp::{ACK, FIN, PSH, RST, SYN, TcpHeaderView};

/// ECE flag (RFC 3168; not used, passed through).
pub const ECE: u8 = 0x40;
/// CWR flag (RFC 3168; not used, passed through).
pub const CWR: u8 = 0x80;
/// URG flag.
pub const URG: u8 = 0x20;

/// The header of one segment, decoded.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first octet (of the SYN, if set).
    pub seq: SeqNumber,
    /// Acknowledgement number (meaningful with ACK).
    pub ack: SeqNumber,
    /// Flag bits, `crate::wire::tcp::{FIN, SYN, RST, PSH, ACK}` and the rest.
    pub flags: u8,
    /// The window field as sent (not yet scaled).
    pub window: u16,
    /// Urgent pointer (meaningful with URG).
    pub urgent: u16,
    /// Decoded options.
    pub options: TcpOptions,
}

impl Segment {
    /// Whether all bits of `flag` are set.
    #[inline]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// Sequence space the segment occupies with `payload_len` bytes (SYN and FIN count).
    #[inline]
    pub fn seq_len(&self, payload_len: usize) -> usize {
        payload_len + usize::from(self.has(SYN)) + usize::from(self.has(FIN))
    }

    /// Header length with options, in bytes.
    pub fn header_len(&self) -> usize {
        20 + self.options.encoded_len()
    }

    /// Writes header and options into the front of `out`, which holds the payload after
    /// [`Self::header_len`] bytes, and fills the checksum for `src` → `dst`.
    pub fn emit(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut [u8]) {
        let pseudo = self.emit_header(src, dst, out);
        let sum = !checksum::fold(checksum::add(pseudo, out));
        out[16..18].copy_from_slice(&sum.to_be_bytes());
    }

    /// Like [`emit`](Self::emit), but leaves a partial checksum for an offload to
    /// complete (`CHECKSUM_PARTIAL`, [`vipe_rt::gso::Offload::csum_partial`]): the
    /// field holds the folded pseudo-header sum (over `out`'s whole length), not
    /// complemented, and the payload is not summed.
    pub fn emit_partial(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut [u8]) {
        let pseudo = self.emit_header(src, dst, out);
        out[16..18].copy_from_slice(&checksum::fold(pseudo).to_be_bytes());
    }

    /// Writes header and options with a zero checksum field; returns the pseudo-header
    /// sum for `src` → `dst` over `out`'s whole length.
    fn emit_header(&self, src: Ipv4Addr, dst: Ipv4Addr, out: &mut [u8]) -> u64 {
        let mut opts = [0u8; 40];
        let olen = self.options.emit(&mut opts);
        let hlen = 20 + olen;
        out[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        out[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        out[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        out[12] = ((hlen / 4) as u8) << 4;
        out[13] = self.flags;
        out[14..16].copy_from_slice(&self.window.to_be_bytes());
        out[16..18].copy_from_slice(&[0, 0]);
        out[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        out[20..hlen].copy_from_slice(&opts[..olen]);
        checksum::pseudo_header_v4(src.octets(), dst.octets(), PROTO_TCP, out.len() as u16)
    }

    /// The whole segment (header and `payload`) as bytes with its checksum.
    pub fn to_bytes(&self, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
        let hlen = self.header_len();
        let mut out = alloc::vec![0u8; hlen + payload.len()];
        out[hlen..].copy_from_slice(payload);
        self.emit(src, dst, &mut out);
        out
    }

    /// Parses `bytes` (header and payload) received from `src` for `dst`, returning the
    /// segment and the header length (the payload follows it).
    pub fn parse(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        bytes: &[u8],
    ) -> Result<(Segment, usize), SegmentError> {
        let view = TcpHeaderView::parse(bytes).map_err(|e| SegmentError::Header(e.reason()))?;
        if bytes.len() > usize::from(u16::MAX) {
            return Err(SegmentError::TooLong);
        }
        let pseudo =
            checksum::pseudo_header_v4(src.octets(), dst.octets(), PROTO_TCP, bytes.len() as u16);
        if checksum::fold(checksum::add(pseudo, bytes)) != 0xffff {
            return Err(SegmentError::BadChecksum);
        }
        let options = TcpOptions::parse(view.options()).map_err(SegmentError::Options)?;
        let seg = Segment {
            src_port: view.src_port(),
            dst_port: view.dst_port(),
            seq: SeqNumber(view.seq()),
            ack: SeqNumber(view.ack()),
            flags: view.flags(),
            window: view.window(),
            urgent: view.urgent(),
            options,
        };
        seg.check_flags()?;
        if seg.src_port == 0 || seg.dst_port == 0 {
            return Err(SegmentError::ZeroPort);
        }
        Ok((seg, view.header_len()))
    }

    /// Refuses flag combinations no TCP sends: SYN with FIN or RST, and segments with
    /// none of SYN, ACK, RST (a bare FIN or no flags: scans, not connections).
    pub fn check_flags(&self) -> Result<(), SegmentError> {
        let f = self.flags;
        if f & SYN != 0 && f & (FIN | RST) != 0 {
            return Err(SegmentError::ImpossibleFlags);
        }
        if f & (SYN | ACK | RST) == 0 {
            return Err(SegmentError::ImpossibleFlags);
        }
        Ok(())
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (PSH, 'P'), (ACK, '.')];
        write!(f, "{}>{} ", self.src_port, self.dst_port)?;
        for (bit, c) in names {
            if self.flags & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        write!(f, " seq {}", self.seq)?;
        if self.has(ACK) {
            write!(f, " ack {}", self.ack)?;
        }
        write!(f, " win {}", self.window)?;
        let o = &self.options;
        if let Some(m) = o.mss {
            write!(f, " mss {m}")?;
        }
        if let Some(w) = o.window_scale {
            write!(f, " wscale {w}")?;
        }
        if o.sack_permitted {
            write!(f, " sackOK")?;
        }
        if let Some((v, e)) = o.timestamps {
            write!(f, " TS val {v} ecr {e}")?;
        }
        for b in o.sack_blocks() {
            write!(f, " sack {}:{}", b.left, b.right)?;
        }
        Ok(())
    }
}

/// Why wire bytes were not accepted as a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentError {
    /// The fixed header did not parse (reason from the header layer).
    Header(&'static str),
    /// Longer than an IPv4 payload can be.
    TooLong,
    /// The checksum over pseudo-header, header and payload is wrong.
    BadChecksum,
    /// The options are malformed.
    Options(OptionsError),
    /// A flag combination no TCP sends.
    ImpossibleFlags,
    /// Port zero on either side.
    ZeroPort,
}

impl SegmentError {
    /// A short static description, used as the counted drop reason.
    pub fn reason(&self) -> &'static str {
        match self {
            SegmentError::Header(r) => r,
            SegmentError::TooLong => "TCP segment too long",
            SegmentError::BadChecksum => "bad TCP checksum",
            SegmentError::Options(OptionsError::PastHeader) => "TCP option past the header",
            SegmentError::Options(OptionsError::BadLength) => "TCP option with a bad length",
            SegmentError::ImpossibleFlags => "impossible TCP flags",
            SegmentError::ZeroPort => "TCP port zero",
        }
    }
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn syn() -> Segment {
        Segment {
            src_port: 1000,
            dst_port: 80,
            seq: SeqNumber(7),
            flags: SYN,
            window: 65535,
            options: TcpOptions {
                mss: Some(1460),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                window_scale: Some(7),
                ..TcpOptions::default()
            },
            ..Segment::default()
        }
    }

    #[test]
    fn round_trip_with_checksum() {
        let bytes = syn().to_bytes(A, B, b"hi");
        let (seg, hlen) = Segment::parse(A, B, &bytes).unwrap();
        assert_eq!(seg, syn());
        assert_eq!(&bytes[hlen..], b"hi");
        // The pseudo-header counts: other addresses fail the checksum.
        let c = Ipv4Addr::new(10, 0, 0, 3);
        assert_eq!(Segment::parse(A, c, &bytes), Err(SegmentError::BadChecksum));
    }

    #[test]
    fn refusals_are_named() {
        let mut bytes = syn().to_bytes(A, B, b"");
        bytes[30] ^= 1;
        assert_eq!(
            Segment::parse(A, B, &bytes).unwrap_err().reason(),
            "bad TCP checksum"
        );
        let bad = Segment {
            flags: SYN | FIN,
            ..syn()
        };
        assert_eq!(
            Segment::parse(A, B, &bad.to_bytes(A, B, b"")),
            Err(SegmentError::ImpossibleFlags)
        );
        assert!(Segment::parse(A, B, &[0u8; 10]).is_err());
    }
}
