//! TCP options (RFC 9293 section 3.2): maximum segment size, window scale (RFC 7323),
//! SACK-permitted and SACK blocks (RFC 2018), timestamps (RFC 7323). Parsing is strict
//! about lengths: an option that runs past the header, or a known option with the wrong
//! length, is an error and the segment is dropped (RFC 9293 MUST-7).

use super::seq::SeqNumber;

/// End of option list.
pub const KIND_EOL: u8 = 0;
/// No operation (padding).
pub const KIND_NOP: u8 = 1;
/// Maximum segment size.
pub const KIND_MSS: u8 = 2;
/// Window scale.
pub const KIND_WSCALE: u8 = 3;
/// SACK permitted.
pub const KIND_SACK_PERMITTED: u8 = 4;
/// SACK blocks.
pub const KIND_SACK: u8 = 5;
/// Timestamps.
pub const KIND_TIMESTAMPS: u8 = 8;

/// Most SACK blocks a segment can carry (four without timestamps, three with).
pub const MAX_SACK_BLOCKS: usize = 4;
/// Largest window shift (RFC 7323 section 2.3).
pub const MAX_WSCALE: u8 = 14;

/// Why a segment's options were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionsError {
    /// An option's length byte is missing or runs past the header.
    PastHeader,
    /// A known option has a length other than its own (e.g. MSS not 4 bytes).
    BadLength,
}

/// A SACK block: the bytes `[left, right)` were received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: SeqNumber,
    /// Sequence number just after the block.
    pub right: SeqNumber,
}

/// The options of one segment, decoded. Unknown options are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size the sender can receive (SYN only).
    pub mss: Option<u16>,
    /// Window shift the sender applies to its windows (SYN only).
    pub window_scale: Option<u8>,
    /// The sender can receive SACK blocks (SYN only).
    pub sack_permitted: bool,
    /// Timestamps: (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks, `sack_count` of them used.
    pub sack: [SackBlock; MAX_SACK_BLOCKS],
    /// How many of `sack` are present.
    pub sack_count: u8,
}

impl TcpOptions {
    /// The SACK blocks present.
    pub fn sack_blocks(&self) -> &[SackBlock] {
        &self.sack[..usize::from(self.sack_count)]
    }

    /// Appends a SACK block; returns false if four are already present.
    pub fn push_sack(&mut self, block: SackBlock) -> bool {
        let n = usize::from(self.sack_count);
        if n >= MAX_SACK_BLOCKS {
            return false;
        }
        self.sack[n] = block;
        self.sack_count += 1;
        true
    }

    /// Decodes `bytes`, the options area of a header.
    pub fn parse(bytes: &[u8]) -> Result<TcpOptions, OptionsError> {
        let mut out = TcpOptions::default();
        let mut i = 0;
        while i < bytes.len() {
            let kind = bytes[i];
            match kind {
                KIND_EOL => break,
                KIND_NOP => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*bytes.get(i + 1).ok_or(OptionsError::PastHeader)?);
            if len < 2 || i + len > bytes.len() {
                return Err(OptionsError::PastHeader);
            }
            let body = &bytes[i + 2..i + len];
            match kind {
                KIND_MSS => {
                    let b: [u8; 2] = body.try_into().map_err(|_| OptionsError::BadLength)?;
                    out.mss = Some(u16::from_be_bytes(b));
                }
                KIND_WSCALE => {
                    let [shift] = body else {
                        return Err(OptionsError::BadLength);
                    };
                    // RFC 7323 section 2.3: a shift above 14 is used as 14.
                    out.window_scale = Some((*shift).min(MAX_WSCALE));
                }
                KIND_SACK_PERMITTED => {
                    if !body.is_empty() {
                        return Err(OptionsError::BadLength);
                    }
                    out.sack_permitted = true;
                }
                KIND_TIMESTAMPS => {
                    if body.len() != 8 {
                        return Err(OptionsError::BadLength);
                    }
                    let val = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let ecr = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    out.timestamps = Some((val, ecr));
                }
                KIND_SACK => {
                    if body.is_empty()
                        || !body.len().is_multiple_of(8)
                        || body.len() / 8 > MAX_SACK_BLOCKS
                    {
                        return Err(OptionsError::BadLength);
                    }
                    for chunk in body.chunks_exact(8) {
                        let left = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                        let right = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
                        out.push_sack(SackBlock {
                            left: SeqNumber(left),
                            right: SeqNumber(right),
                        });
                    }
                }
                _ => {} // unknown options are ignored (MUST-6)
            }
            i += len;
        }
        Ok(out)
    }

    /// Bytes these options take when emitted (a multiple of four).
    pub fn encoded_len(&self) -> usize {
        self.emit(&mut [0u8; 40])
    }

    /// Writes the options in the layout Linux uses (MSS, SACK-permitted + timestamps,
    /// NOP + window scale, NOP NOP + SACK), padded with NOPs to a multiple of four.
    /// Returns the bytes written. SACK blocks that do not fit in the 40 option bytes
    /// are left out (the first blocks are the most recent, RFC 2018 section 4).
    pub fn emit(&self, out: &mut [u8; 40]) -> usize {
        let mut i = 0;
        let mut put = |bytes: &[u8], i: &mut usize| {
            out[*i..*i + bytes.len()].copy_from_slice(bytes);
            *i += bytes.len();
        };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            put(&[KIND_MSS, 4, m[0], m[1]], &mut i);
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some(_)) => put(&[KIND_SACK_PERMITTED, 2], &mut i),
            (true, None) => put(&[KIND_NOP, KIND_NOP, KIND_SACK_PERMITTED, 2], &mut i),
            (false, Some(_)) => put(&[KIND_NOP, KIND_NOP], &mut i),
            (false, None) => {}
        }
        if let Some((val, ecr)) = self.timestamps {
            put(&[KIND_TIMESTAMPS, 10], &mut i);
            put(&val.to_be_bytes(), &mut i);
            put(&ecr.to_be_bytes(), &mut i);
        }
        if let Some(shift) = self.window_scale {
            put(&[KIND_NOP, KIND_WSCALE, 3, shift], &mut i);
        }
        let n = usize::from(self.sack_count).min(40usize.saturating_sub(i + 4) / 8);
        if n > 0 {
            put(&[KIND_NOP, KIND_NOP, KIND_SACK, (2 + 8 * n) as u8], &mut i);
            for b in &self.sack_blocks()[..n] {
                put(&b.left.0.to_be_bytes(), &mut i);
                put(&b.right.0.to_be_bytes(), &mut i);
            }
        }
        while i % 4 != 0 {
            put(&[KIND_NOP], &mut i);
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_options() {
        let mut o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1, 2)),
            ..TcpOptions::default()
        };
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        assert_eq!(n, 20);
        assert_eq!(TcpOptions::parse(&buf[..n]), Ok(o));
        o = TcpOptions {
            timestamps: Some((5, 6)),
            ..TcpOptions::default()
        };
        o.push_sack(SackBlock {
            left: SeqNumber(10),
            right: SeqNumber(20),
        });
        o.push_sack(SackBlock {
            left: SeqNumber(30),
            right: SeqNumber(40),
        });
        let n = o.emit(&mut buf);
        assert_eq!(n, 32);
        assert_eq!(TcpOptions::parse(&buf[..n]), Ok(o));
    }

    #[test]
    fn malformed_options_are_errors() {
        assert_eq!(TcpOptions::parse(&[2]), Err(OptionsError::PastHeader));
        assert_eq!(
            TcpOptions::parse(&[2, 8, 0, 0]),
            Err(OptionsError::PastHeader)
        );
        assert_eq!(TcpOptions::parse(&[99, 0]), Err(OptionsError::PastHeader));
        assert_eq!(
            TcpOptions::parse(&[2, 3, 0, 0]),
            Err(OptionsError::BadLength)
        );
        assert_eq!(
            TcpOptions::parse(&[5, 2, 0, 0]),
            Err(OptionsError::BadLength)
        );
        // Unknown options are skipped; EOL ends the list.
        let o = TcpOptions::parse(&[99, 3, 0, 1, 0, 2, 4, 0, 0]).unwrap();
        assert_eq!(o.mss, None);
        // A window shift above 14 is used as 14.
        let o = TcpOptions::parse(&[3, 3, 20, 0]).unwrap();
        assert_eq!(o.window_scale, Some(14));
    }
}
