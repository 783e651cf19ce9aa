//! Property tests of every derived header: `parse(emit(x)) == x`, and truncated or
//! corrupted input returns an error, never panics. Plus the 802.1Q tag, bit-field
//! packing, checked setters and the RFC 1624 incremental checksum.

use proptest::prelude::*;
use vipe_protocols::wire::arp::ArpPacketView;
use vipe_protocols::wire::ethernet::{EthernetHeaderView, VlanTagView};
use vipe_protocols::wire::icmp::IcmpHeaderView;
use vipe_protocols::wire::ipv4::Ipv4HeaderView;
use vipe_protocols::wire::tcp::TcpHeaderView;
use vipe_protocols::wire::udp::UdpHeaderView;
use vipe_protocols::wire::{
    ArpPacket, EthernetHeader, IcmpHeader, Ipv4Header, TcpHeader, UdpHeader, VlanTag,
};
use vipe_rt::{Header, HeaderErrorKind, Options, checksum};

fn options(max_words: usize) -> impl Strategy<Value = Options> {
    prop::collection::vec(any::<u8>(), 0..=max_words)
        .prop_flat_map(|words| prop::collection::vec(any::<u8>(), words.len() * 4))
        .prop_map(|bytes| Options::from_slice(&bytes).expect("at most 40 bytes"))
}

prop_compose! {
    fn ipv4()(tos: u8, ident: u16, flags in 0u8..8, frag_offset in 0u16..8192, ttl: u8,
              protocol: u8, src: [u8; 4], dst: [u8; 4], options in options(10)) -> Ipv4Header {
        Ipv4Header {
            version: 4,
            ihl: ((20 + options.len()) / 4) as u8,
            tos, total_len: 0, ident, flags, frag_offset, ttl, protocol, checksum: 0, src, dst, options,
        }
    }
}

prop_compose! {
    fn tcp()(src_port: u16, dst_port: u16, seq: u32, ack: u32, reserved in 0u8..16, flags: u8,
             window: u16, checksum: u16, urgent: u16, options in options(10)) -> TcpHeader {
        TcpHeader {
            src_port, dst_port, seq, ack,
            data_offset: ((20 + options.len()) / 4) as u8,
            reserved, flags, window, checksum, urgent, options,
        }
    }
}

/// Emits `h` in front of `payload`, parses it back.
fn round_trip<H: Header + Clone + PartialEq + std::fmt::Debug>(
    h: &H,
    payload: &[u8],
) -> (H, Vec<u8>) {
    let mut buf = vec![0u8; h.header_len() + payload.len()];
    buf[h.header_len()..].copy_from_slice(payload);
    let len = h.emit(&mut buf).expect("emit");
    assert_eq!(len, h.header_len());
    (H::parse_owned(&buf).expect("parse back"), buf)
}

proptest! {
    #[test]
    fn ethernet_round_trips(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let h = EthernetHeader { dst, src, ethertype };
        prop_assert_eq!(round_trip(&h, &payload).0, h);
    }

    #[test]
    fn vlan_round_trips(pcp in 0u8..8, dei in 0u8..2, vid in 0u16..4096, ethertype: u16) {
        let h = VlanTag { pcp, dei, vid, ethertype };
        prop_assert_eq!(round_trip(&h, &[]).0, h);
    }

    #[test]
    fn arp_round_trips(oper in 1u16..=2, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) {
        let h = ArpPacket { htype: 1, ptype: 0x0800, hlen: 6, plen: 4, oper, sha, spa, tha, tpa };
        prop_assert_eq!(round_trip(&h, &[]).0, h);
    }

    #[test]
    fn ipv4_round_trips_with_lengths_and_checksum_filled(h in ipv4(), payload in prop::collection::vec(any::<u8>(), 0..100)) {
        let (back, buf) = round_trip(&h, &payload);
        let view = Ipv4HeaderView::parse(&buf[..]).unwrap();
        prop_assert!(view.verify_checksum());
        prop_assert_eq!(view.payload(), &payload[..]);
        let expected = Ipv4Header {
            total_len: (h.header_len() + payload.len()) as u16,
            checksum: back.checksum,
            ..h
        };
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn icmp_round_trips_with_checksum_over_the_payload(icmp_type: u8, code: u8, rest: [u8; 4], payload in prop::collection::vec(any::<u8>(), 0..100)) {
        let h = IcmpHeader { icmp_type, code, checksum: 0, rest };
        let (back, buf) = round_trip(&h, &payload);
        prop_assert!(IcmpHeaderView::parse(&buf[..]).unwrap().verify_checksum());
        prop_assert_eq!(checksum::checksum(&buf), 0);
        prop_assert_eq!(IcmpHeader { checksum: back.checksum, ..h }, back);
    }

    #[test]
    fn udp_round_trips(src_port: u16, dst_port: u16, checksum: u16, payload in prop::collection::vec(any::<u8>(), 0..100)) {
        let h = UdpHeader { src_port, dst_port, length: 0, checksum };
        let (back, _) = round_trip(&h, &payload);
        prop_assert_eq!(back, UdpHeader { length: (8 + payload.len()) as u16, ..h });
    }

    #[test]
    fn tcp_round_trips(h in tcp(), payload in prop::collection::vec(any::<u8>(), 0..100)) {
        prop_assert_eq!(round_trip(&h, &payload).0, h);
    }

    /// Whatever the bytes, parsing returns a value or an error; every accessor of a
    /// parsed view stays in bounds.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(v) = EthernetHeaderView::parse(&bytes[..]) { let _ = (v.to_owned(), v.payload().len()); }
        if let Ok(v) = VlanTagView::parse(&bytes[..]) { let _ = v.to_owned(); }
        if let Ok(v) = ArpPacketView::parse(&bytes[..]) { let _ = v.to_owned(); }
        if let Ok(v) = Ipv4HeaderView::parse(&bytes[..]) {
            let _ = (v.to_owned(), v.options().len(), v.payload().len(), v.verify_checksum());
        }
        if let Ok(v) = IcmpHeaderView::parse(&bytes[..]) { let _ = (v.to_owned(), v.verify_checksum()); }
        if let Ok(v) = UdpHeaderView::parse(&bytes[..]) { let _ = (v.to_owned(), v.payload().len()); }
        if let Ok(v) = TcpHeaderView::parse(&bytes[..]) { let _ = (v.to_owned(), v.options().len()); }
    }

    /// Every truncation of a valid IPv4 packet is an error, not a panic.
    #[test]
    fn truncated_ipv4_is_an_error(h in ipv4(), payload in prop::collection::vec(any::<u8>(), 1..40), cut in 0usize..200) {
        let (_, buf) = round_trip(&h, &payload);
        let cut = cut % buf.len();
        prop_assert!(Ipv4HeaderView::parse(&buf[..cut]).is_err());
    }
}

#[test]
fn vlan_tag_bits_are_msb_first() {
    // PCP 5, DEI 1, VID 0x123: 101 1 0001 0010 0011 = 0xb123.
    let tag = VlanTag {
        pcp: 5,
        dei: 1,
        vid: 0x123,
        ethertype: 0x0800,
    };
    let mut buf = [0u8; 4];
    tag.emit(&mut buf).unwrap();
    assert_eq!(buf, [0xb1, 0x23, 0x08, 0x00]);
}

#[test]
fn errors_name_the_field_and_the_reason() {
    let mut ip = [0u8; 20];
    ip[0] = 0x65; // version 6
    let err = Ipv4HeaderView::parse(&ip[..]).err().unwrap();
    assert_eq!((err.header, err.field), ("Ipv4Header", "version"));
    assert_eq!(
        err.kind,
        HeaderErrorKind::Unexpected {
            expected: 4,
            found: 6
        }
    );
    assert_eq!(err.to_string(), "Ipv4Header.version: expected 4, found 6");
    ip[0] = 0x44; // IHL 4 < 5
    let err = Ipv4HeaderView::parse(&ip[..]).err().unwrap();
    assert_eq!(err.field, "ihl");
    ip[0] = 0x46; // IHL 6: 24 bytes, buffer has 20
    let err = Ipv4HeaderView::parse(&ip[..]).err().unwrap();
    assert_eq!(
        err.kind,
        HeaderErrorKind::BadLength {
            declared: 24,
            min: 20,
            max: 20
        }
    );
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&100u16.to_be_bytes()); // total length past the buffer
    let err = Ipv4HeaderView::parse(&ip[..]).err().unwrap();
    assert_eq!(err.field, "total_len");
    assert_eq!(err.reason(), "inconsistent header length field");
    let err = EthernetHeaderView::parse(&[0u8; 13][..]).err().unwrap();
    assert_eq!(
        err.kind,
        HeaderErrorKind::Truncated {
            needed: 14,
            available: 13
        }
    );
}

#[test]
fn checked_setters_refuse_values_wider_than_the_field() {
    let mut buf = [0u8; 4];
    let mut tag = VlanTagView::parse(&mut buf[..]).unwrap();
    assert!(tag.try_set_vid(4095).is_ok());
    let err = tag.try_set_vid(4096).unwrap_err();
    assert_eq!(
        err.kind,
        HeaderErrorKind::TooWide {
            bits: 12,
            value: 4096
        }
    );
    assert_eq!(tag.vid(), 4095, "a refused value changes nothing");
    tag.set_vid(0x1001); // unchecked: bits beyond the width are dropped
    assert_eq!(tag.vid(), 0x001);
    assert_eq!(tag.pcp(), 0, "neighbouring bit fields are untouched");
    let bad = VlanTag {
        pcp: 9,
        dei: 0,
        vid: 0,
        ethertype: 0,
    };
    assert_eq!(bad.emit(&mut [0u8; 4]).unwrap_err().field, "pcp");
}

#[test]
fn ttl_decrement_updates_the_checksum_incrementally() {
    let h = Ipv4Header {
        version: 4,
        ihl: 5,
        tos: 0,
        total_len: 0,
        ident: 0x5c4b,
        flags: 0b010,
        frag_offset: 0,
        ttl: 64,
        protocol: 1,
        checksum: 0,
        src: [10, 0, 0, 1],
        dst: [10, 0, 0, 2],
        options: Options::EMPTY,
    };
    let mut buf = vec![0u8; 84];
    h.emit(&mut buf).unwrap();
    let mut view = Ipv4HeaderView::parse(&mut buf[..]).unwrap();
    assert_eq!(
        view.checksum(),
        0xca5b,
        "the checksum the Linux kernel wrote for this header"
    );
    for ttl in (1..64).rev() {
        view.set_ttl_update_checksum(ttl);
        assert!(view.verify_checksum(), "ttl {ttl}");
    }
    let incremental = view.checksum();
    view.fill_checksum();
    assert_eq!(incremental, view.checksum());
}
