//! A UDP socket address in a fixed-size wire form, as the overlay protocols carry node
//! entries: a family byte (4 or 6), 16 address bytes (IPv4 stored IPv4-mapped) and the
//! port.

use core::net::{IpAddr, Ipv6Addr, SocketAddr};

/// `addr` as (family, address bytes).
pub fn encode(addr: SocketAddr) -> (u8, [u8; 16]) {
    match addr.ip() {
        IpAddr::V4(v4) => (4, v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => (6, v6.octets()),
    }
}

/// The address a (family, address bytes, port) triple names; `None` for an unknown
/// family, a family-4 address that is not IPv4-mapped, the unspecified address or port 0.
pub fn decode(family: u8, addr: [u8; 16], port: u16) -> Option<SocketAddr> {
    let v6 = Ipv6Addr::from(addr);
    let ip = match family {
        4 => IpAddr::V4(v6.to_ipv4_mapped()?),
        6 => IpAddr::V6(v6),
        _ => return None,
    };
    (port != 0 && !ip.is_unspecified()).then(|| SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for text in ["10.0.0.1:4000", "[2001:db8::1]:5000"] {
            let a: SocketAddr = text.parse().unwrap();
            let (family, bytes) = encode(a);
            assert_eq!(decode(family, bytes, a.port()), Some(a));
        }
        let (_, v4) = encode("10.0.0.1:1".parse().unwrap());
        assert_eq!(decode(5, v4, 1), None);
        assert_eq!(decode(4, v4, 0), None);
        assert_eq!(decode(4, [0; 16], 1), None, "not IPv4-mapped");
        assert_eq!(decode(6, [0; 16], 1), None, "unspecified");
    }
}
