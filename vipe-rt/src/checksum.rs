//! The Internet checksum (RFC 1071), its incremental update (RFC 1624), and the
//! pseudo-header sums UDP and TCP need.
//!
//! Sums are kept as a `u32`/`u64` accumulator of 16-bit big-endian words and folded at the
//! end, so several pieces (a pseudo-header, a header, a payload) can be summed separately
//! and combined. A piece of odd length is padded with a zero byte, as the RFC says for the
//! end of the data; so only the last piece may have odd length.

/// Adds the 16-bit big-endian words of `data` to `sum` (a trailing odd byte is padded
/// with zero).
///
/// The ones'-complement sum does not depend on byte order (RFC 1071 §2(B)): the bytes
/// are summed as native-endian 64-bit words, each split into its two 32-bit halves, into
/// four 64-bit accumulators (no byte swaps, no carries to track, a loop the compiler
/// unrolls and vectorizes), folded to 16 bits, and swapped into big-endian word order
/// once. 2^31 words of headroom per accumulator: fine for any buffer.
#[inline]
pub fn add(sum: u64, data: &[u8]) -> u64 {
    let mut blocks = data.chunks_exact(32);
    let mut acc = [0u64; 4];
    for block in &mut blocks {
        for (i, a) in acc.iter_mut().enumerate() {
            let b = &block[8 * i..8 * i + 8];
            let w = u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            *a += (w & 0xffff_ffff) + (w >> 32);
        }
    }
    let mut native: u64 = acc.iter().sum();
    let mut chunks = blocks.remainder().chunks_exact(4);
    for chunk in &mut chunks {
        native += u64::from(u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for pair in &mut rest {
        native += u64::from(u16::from_ne_bytes([pair[0], pair[1]]));
    }
    let folded = fold(native);
    let be = if cfg!(target_endian = "little") {
        folded.swap_bytes()
    } else {
        folded
    };
    let mut sum = sum + u64::from(be);
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Folds an accumulator into a 16-bit ones'-complement sum (not yet complemented).
#[inline]
pub fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum field value for `data`: the complement of its ones'-complement sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(add(0, data))
}

/// The checksum of several pieces as if they were one buffer (all but the last must have
/// even length).
#[inline]
pub fn checksum_of(pieces: &[&[u8]]) -> u16 {
    !fold(pieces.iter().fold(0, |sum, piece| add(sum, piece)))
}

/// Whether `data`, with its checksum field in place, verifies (sums to all ones).
#[inline]
pub fn verify(data: &[u8]) -> bool {
    fold(add(0, data)) == 0xffff
}

/// RFC 1624, equation 3: the new checksum after a 16-bit word of the covered data
/// changed from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u64::from(!checksum) + u64::from(!old) + u64::from(new);
    !fold(sum)
}

/// RFC 1624 for a run of covered bytes that changed from `old` to `new` (same length,
/// starting at an even offset of the covered data).
#[inline]
pub fn update_bytes(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    // ~old summed is the ones'-complement subtraction of old.
    let sum = u64::from(!checksum) + u64::from(!fold(add(0, old))) + u64::from(fold(add(0, new)));
    !fold(sum)
}

/// The sum of the IPv4 pseudo-header for UDP and TCP (RFC 768, RFC 793).
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u64 {
    let sum = add(add(0, &src), &dst);
    sum + u64::from(protocol) + u64::from(length)
}

/// The sum of the IPv6 pseudo-header for UDP, TCP and ICMPv6 (RFC 8200 §8.1): source
/// and destination addresses, the upper-layer packet length as 32 bits, and the
/// upper-layer protocol (the last next-header value, after any extension headers).
#[inline]
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, length: u32) -> u64 {
    let sum = add(add(0, &src), &dst);
    sum + u64::from(length >> 16) + u64::from(length & 0xffff) + u64::from(next_header)
}

/// The pseudo-header an upper-layer checksum covers, for either IP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PseudoHeader {
    /// IPv4 (RFC 768, RFC 9293): addresses and the protocol number.
    V4 {
        /// Source address.
        src: [u8; 4],
        /// Destination address.
        dst: [u8; 4],
        /// IP protocol number (6 TCP, 17 UDP).
        protocol: u8,
    },
    /// IPv6 (RFC 8200 §8.1): addresses and the upper-layer protocol.
    V6 {
        /// Source address.
        src: [u8; 16],
        /// Final destination address (the last one of a routing header).
        dst: [u8; 16],
        /// Upper-layer protocol (6 TCP, 17 UDP, 58 ICMPv6).
        next_header: u8,
    },
}

impl PseudoHeader {
    /// The pseudo-header's sum for an upper-layer packet of `length` bytes, to add to
    /// the sum of the packet itself.
    #[inline]
    pub fn sum(&self, length: usize) -> u64 {
        match *self {
            PseudoHeader::V4 { src, dst, protocol } => {
                pseudo_header_v4(src, dst, protocol, length as u16)
            }
            PseudoHeader::V6 {
                src,
                dst,
                next_header,
            } => pseudo_header_v6(src, dst, next_header, length as u32),
        }
    }

    /// Whether this is an IPv6 pseudo-header.
    #[inline]
    pub fn is_v6(&self) -> bool {
        matches!(self, PseudoHeader::V6 { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_lengths_pad_with_zero_and_pieces_combine() {
        let data = [0x12, 0x34, 0x56, 0x78, 0x9a];
        assert_eq!(
            fold(add(0, &data)),
            fold(add(0, &[0x12, 0x34, 0x56, 0x78, 0x9a, 0x00]))
        );
        assert_eq!(checksum_of(&[&data[..2], &data[2..]]), checksum(&data));
        let long: alloc::vec::Vec<u8> = (0..=255u8).cycle().take(1501).collect();
        let slow = long
            .chunks(2)
            .map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0)))
            .sum::<u64>();
        assert_eq!(fold(add(0, &long)), fold(slow));
    }

    /// The word-at-a-time sum agrees with a plain big-endian 16-bit sum for every length
    /// and alignment, including all-ones data (the sum's 0 / 0xFFFF cases).
    #[test]
    fn wide_sum_matches_the_plain_sum() {
        let reference = |sum: u64, data: &[u8]| {
            sum + data
                .chunks(2)
                .map(|c| u64::from(c[0]) << 8 | u64::from(*c.get(1).unwrap_or(&0)))
                .sum::<u64>()
        };
        let mut x: u32 = 12345;
        let random: alloc::vec::Vec<u8> = (0..2100)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let ones = alloc::vec![0xffu8; 2100];
        let zeros = alloc::vec![0u8; 2100];
        for data in [&random, &ones, &zeros] {
            for start in 0..8 {
                for len in (0..80).chain([1459, 1460, 1461, 2000]) {
                    let piece = &data[start..start + len];
                    for sum in [0, 0xffff, 0x1_2345] {
                        assert_eq!(
                            fold(add(sum, piece)),
                            fold(reference(sum, piece)),
                            "start {start} len {len} sum {sum:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        // A real IPv4 header (from the Linux capture), TTL 64 → 63.
        let mut header = [
            0x45, 0x00, 0x00, 0x54, 0x5c, 0x4b, 0x40, 0x00, 0x40, 0x01, 0xca, 0x5b, 0x0a, 0x00,
            0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
        ];
        assert!(verify(&header));
        let old = u16::from_be_bytes([header[8], header[9]]);
        header[8] -= 1;
        let new = u16::from_be_bytes([header[8], header[9]]);
        let updated = update(u16::from_be_bytes([header[10], header[11]]), old, new);
        header[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, checksum(&header));
        let bytes = update_bytes(0xca5b, &[0x40, 0x01], &[0x3f, 0x01]);
        assert_eq!(bytes, updated);
    }
}
