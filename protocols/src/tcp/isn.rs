//! Initial sequence numbers (RFC 6528): ISN = M + F(localip, localport, remoteip,
//! remoteport, secretkey), M a 4-microsecond clock and F a keyed hash — here
//! SipHash-2-4 with a 128-bit secret drawn once per TCP instance from the platform RNG.
//! Connections to different peers get unpredictable, unrelated ISNs; a reused 4-tuple
//! gets an ISN that moves forward with the clock.

use core::net::SocketAddrV4;

use vipe_rt::Instant;

use super::seq::SeqNumber;

/// Generates RFC 6528 initial sequence numbers from a secret key.
#[derive(Clone, Debug)]
pub struct IsnGenerator {
    key: [u64; 2],
}

impl IsnGenerator {
    /// A generator with the 128-bit `key` (draw it from `cx.rng()`).
    pub fn new(key: [u64; 2]) -> Self {
        IsnGenerator { key }
    }

    /// The ISN for a connection between `local` and `remote` opened at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNumber {
        let mut msg = [0u8; 12];
        msg[..4].copy_from_slice(&local.ip().octets());
        msg[4..6].copy_from_slice(&local.port().to_be_bytes());
        msg[6..10].copy_from_slice(&remote.ip().octets());
        msg[10..12].copy_from_slice(&remote.port().to_be_bytes());
        let f = siphash24(self.key, &msg) as u32;
        let m = (now.as_nanos() / 4_000) as u32;
        SeqNumber(m.wrapping_add(f))
    }
}

fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 (Aumasson and Bernstein) of `msg` under `key`.
pub fn siphash24(key: [u64; 2], msg: &[u8]) -> u64 {
    let mut v = [
        key[0] ^ 0x736f_6d65_7073_6575,
        key[1] ^ 0x646f_7261_6e64_6f6d,
        key[0] ^ 0x6c79_6765_6e65_7261,
        key[1] ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        v[3] ^= m;
        sipround(&mut v);
        sipround(&mut v);
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    last[7] = msg.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    sipround(&mut v);
    sipround(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn siphash_reference_vector() {
        // The paper's test vector: key 00..0f, message 00..0e.
        let key = [
            u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]),
            u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]),
        ];
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(key, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn isn_moves_with_the_clock_and_differs_by_tuple() {
        let g = IsnGenerator::new([1, 2]);
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1000);
        let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);
        let c = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 80);
        let t0 = g.isn(Instant::ZERO, a, b);
        let t1 = g.isn(Instant::from_millis(1), a, b);
        assert_eq!(t1.diff(t0), 250);
        assert_ne!(g.isn(Instant::ZERO, a, c), t0);
        assert_ne!(IsnGenerator::new([1, 3]).isn(Instant::ZERO, a, b), t0);
    }
}
