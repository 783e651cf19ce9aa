//! Repeated entries in derived headers (a RIPv2 message and its route entries; TCP SACK
//! blocks) and emitting a header verbatim (length and checksum fields as received).
//!
//! The RIP message is written out byte by byte from RFC 2453 §4, checked against
//! Wireshark's RIP dissector (tshark), parsed, and re-emitted byte for byte.

use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use vipe_protocols::wire::ipv4::Ipv4HeaderView;
use vipe_protocols::wire::ipv6::{Ipv6Packet, NEXT_TCP};
use vipe_protocols::wire::rip::{
    AFI_IPV4, COMMAND_RESPONSE, MAX_ENTRIES, RipEntry, RipEntryView, RipMessage, RipMessageView,
};
use vipe_protocols::wire::tcp::{SackBlock, SackOption, SackOptionView, TcpHeaderView};
use vipe_protocols::wire::udp::UdpHeaderView;
use vipe_protocols::wire::{Ipv4Header, TcpHeader};
use vipe_rt::{Entries, Header, HeaderErrorKind, Options};

/// A RIPv2 response with three routes, as RFC 2453 §4 lays it out.
#[rustfmt::skip]
const RIP_RESPONSE: [u8; 64] = [
    2, 2, 0, 0,                       // response, version 2, must be zero
    0, 2, 0, 0,                       // AFI 2 (IPv4), route tag 0
    10, 1, 0, 0,                      // 10.1.0.0
    255, 255, 0, 0,                   // /16
    0, 0, 0, 0,                       // next hop: the sender
    0, 0, 0, 1,                       // metric 1
    0, 2, 0, 7,                       // AFI 2, route tag 7
    192, 168, 5, 0,                   // 192.168.5.0
    255, 255, 255, 0,                 // /24
    10, 0, 0, 254,                    // next hop 10.0.0.254
    0, 0, 0, 3,                       // metric 3
    0, 2, 0, 0,                       // AFI 2, tag 0
    172, 16, 0, 0,                    // 172.16.0.0
    255, 240, 0, 0,                   // /12
    0, 0, 0, 0,                       // via the sender
    0, 0, 0, 16,                      // metric 16: unreachable
];

fn entry(addr: [u8; 4], mask: [u8; 4], next_hop: [u8; 4], route_tag: u16, metric: u32) -> RipEntry {
    RipEntry {
        afi: AFI_IPV4,
        route_tag,
        addr,
        mask,
        next_hop,
        metric,
    }
}

#[test]
fn a_ripv2_message_parses_into_its_entries_and_re_emits_byte_for_byte() {
    let view = RipMessageView::parse(&RIP_RESPONSE[..]).unwrap();
    assert_eq!(view.command(), COMMAND_RESPONSE);
    assert_eq!(view.entries_count(), 3);
    assert_eq!(view.header_len(), 64);
    assert!(view.payload().is_empty());
    let routes: Vec<RipEntry> = view.entries().collect();
    assert_eq!(
        routes,
        [
            entry([10, 1, 0, 0], [255, 255, 0, 0], [0; 4], 0, 1),
            entry([192, 168, 5, 0], [255, 255, 255, 0], [10, 0, 0, 254], 7, 3),
            entry([172, 16, 0, 0], [255, 240, 0, 0], [0; 4], 0, 16),
        ]
    );
    // Zero-copy, entry by entry, through the entry's own view.
    let second = RipEntryView::parse(&view.entries_bytes()[20..40]).unwrap();
    assert_eq!(second.next_hop(), [10, 0, 0, 254]);

    let owned = RipMessage::parse_owned(&RIP_RESPONSE).unwrap();
    assert_eq!(owned.entries.as_slice(), routes.as_slice());
    assert_eq!(owned.header_len(), 64);
    let mut out = [0u8; 64];
    assert_eq!(owned.emit(&mut out), Ok(64));
    assert_eq!(out, RIP_RESPONSE);
    let mut verbatim = [0u8; 64];
    assert_eq!(owned.emit_verbatim(&mut verbatim), Ok(64));
    assert_eq!(verbatim, RIP_RESPONSE);

    // Built from values: the same bytes.
    let built = RipMessage {
        command: COMMAND_RESPONSE,
        version: 2,
        zero: 0,
        entries: Entries::from_iter_bounded(routes).unwrap(),
    };
    assert_eq!(built, owned);
    let mut pkt = vipe_rt::Packet::from_slice(&[]);
    built.push_onto(&mut pkt).unwrap();
    assert_eq!(pkt.data(), &RIP_RESPONSE[..]);
}

#[test]
fn wireshark_reads_the_same_routes_from_the_rip_bytes() {
    // Ethernet, IPv4 and UDP to port 520 around the message, into a pcap for tshark.
    let udp_len = 8 + RIP_RESPONSE.len();
    let mut ip = vec![0u8; 20 + udp_len];
    ip[20..22].copy_from_slice(&520u16.to_be_bytes());
    ip[22..24].copy_from_slice(&520u16.to_be_bytes());
    ip[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
    ip[28..].copy_from_slice(&RIP_RESPONSE);
    let header = Ipv4Header {
        version: 4,
        ihl: 5,
        tos: 0,
        total_len: 0,
        ident: 1,
        flags: 0,
        frag_offset: 0,
        ttl: 1,
        protocol: 17,
        checksum: 0,
        src: [10, 0, 0, 1],
        dst: [224, 0, 0, 9],
        options: Options::EMPTY,
    };
    header.emit(&mut ip).unwrap();
    let mut frame = vec![0x01, 0x00, 0x5e, 0, 0, 9, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend_from_slice(&ip);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("rip-{}.pcap", std::process::id()));
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = pcap_file::pcap::PcapWriter::new(file).unwrap();
        writer
            .write_packet(&pcap_file::pcap::PcapPacket::new(
                std::time::Duration::ZERO,
                frame.len() as u32,
                &frame,
            ))
            .unwrap();
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields"])
        .args(["-e", "rip.command", "-e", "rip.version", "-e", "rip.ip"])
        .args([
            "-e",
            "rip.netmask",
            "-e",
            "rip.next_hop",
            "-e",
            "rip.metric",
        ])
        .args(["-e", "rip.route_tag"])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is needed to cross-check RIP ({e}); install it: apt-get install tshark")
        });
    std::fs::remove_file(&path).ok();
    assert!(out.status.success());
    let fields = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = fields.trim_end().split('\t').collect();
    let view = RipMessageView::parse(&RIP_RESPONSE[..]).unwrap();
    let join = |f: &dyn Fn(&RipEntry) -> String| {
        view.entries().map(|e| f(&e)).collect::<Vec<_>>().join(",")
    };
    let dotted = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_string();
    assert_eq!(
        fields,
        [
            view.command().to_string(),
            view.version().to_string(),
            join(&|e| dotted(e.addr)),
            join(&|e| dotted(e.mask)),
            join(&|e| dotted(e.next_hop)),
            join(&|e| e.metric.to_string()),
            join(&|e| e.route_tag.to_string()),
        ]
    );
}

#[test]
fn bad_rip_messages_are_refused_with_a_reason() {
    // Not a whole number of entries.
    let err = RipMessage::parse_owned(&RIP_RESPONSE[..60]).unwrap_err();
    assert_eq!(
        err.kind,
        HeaderErrorKind::RaggedEntries {
            len: 56,
            entry_len: 20
        }
    );
    assert_eq!(err.reason(), "header entries not a whole number");
    // 26 entries.
    let mut big = RIP_RESPONSE[..4].to_vec();
    for _ in 0..26 {
        big.extend_from_slice(&RIP_RESPONSE[4..24]);
    }
    let err = RipMessage::parse_owned(&big).unwrap_err();
    assert_eq!(
        (err.field, err.kind),
        (
            "entries",
            HeaderErrorKind::TooManyEntries { count: 26, max: 25 }
        )
    );
    assert_eq!(
        RipMessage::parse_owned(&big[..4 + 25 * 20])
            .unwrap()
            .entries
            .len(),
        MAX_ENTRIES
    );
    // Version 1 is not version 2; no entries at all is fine.
    let mut v1 = RIP_RESPONSE;
    v1[1] = 1;
    assert!(matches!(
        RipMessage::parse_owned(&v1).unwrap_err().kind,
        HeaderErrorKind::Unexpected {
            expected: 2,
            found: 1
        }
    ));
    assert!(
        RipMessage::parse_owned(&RIP_RESPONSE[..4])
            .unwrap()
            .entries
            .is_empty()
    );
    // Emitting more than 25 is refused; the list itself refuses a 26th.
    let mut list: Entries<RipEntry, MAX_ENTRIES> = Entries::new();
    for _ in 0..MAX_ENTRIES {
        list.push(RipEntry::default()).unwrap();
    }
    assert!(list.push(RipEntry::default()).is_err());
}

/// A SACK option with two blocks (RFC 2018 §3).
#[rustfmt::skip]
const SACK: [u8; 18] = [
    5, 18,
    0x00, 0x00, 0x10, 0x00,  0x00, 0x00, 0x20, 0x00,
    0x00, 0x00, 0x30, 0x00,  0x00, 0x00, 0x38, 0x00,
];

#[test]
fn sack_blocks_parse_by_the_options_length_and_re_emit() {
    let view = SackOptionView::parse(&SACK[..]).unwrap();
    let blocks: Vec<SackBlock> = view.blocks().collect();
    assert_eq!(
        blocks,
        [
            SackBlock {
                left: 0x1000,
                right: 0x2000
            },
            SackBlock {
                left: 0x3000,
                right: 0x3800
            }
        ]
    );
    // Trailing bytes (the next option) are the payload, not blocks.
    let mut longer = SACK.to_vec();
    longer.extend_from_slice(&[1, 1, 8, 10]);
    let view = SackOptionView::parse(&longer[..]).unwrap();
    assert_eq!(
        (view.blocks_count(), view.payload()),
        (2, &[1, 1, 8, 10][..])
    );
    // Re-emitted from values, the length is filled in.
    let option = SackOption {
        kind: 5,
        len: 0,
        blocks: Entries::from_iter_bounded(blocks).unwrap(),
    };
    let mut out = [0u8; 18];
    assert_eq!(option.emit(&mut out), Ok(18));
    assert_eq!(out, SACK);
    // A length that is not 2 + 8n, or more than 4 blocks, is refused.
    let mut ragged = longer.clone();
    ragged[1] = 14;
    assert!(matches!(
        SackOption::parse_owned(&ragged).unwrap_err().kind,
        HeaderErrorKind::RaggedEntries {
            len: 12,
            entry_len: 8
        }
    ));
    let mut five = vec![5, 42];
    five.extend(std::iter::repeat_n(0, 40));
    assert!(matches!(
        SackOption::parse_owned(&five).unwrap_err().kind,
        HeaderErrorKind::OutOfRange {
            max: 34,
            found: 42,
            ..
        }
    ));
    let mut past = SACK;
    past[1] = 26;
    assert!(matches!(
        SackOption::parse_owned(&past).unwrap_err().kind,
        HeaderErrorKind::BadLength { declared: 26, .. }
    ));
}

/// The options of a TCP header, as (kind, bytes) pairs (RFC 9293 §3.2).
fn tcp_options(options: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = usize::from(*options.get(i + 1).unwrap_or(&0)).max(2);
                let Some(bytes) = options.get(i..i + len) else {
                    break;
                };
                out.push((kind, bytes));
                i += len;
            }
        }
    }
    out
}

#[test]
fn the_kernels_sack_blocks_parse_as_tshark_reads_them_and_re_emit() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ipv6-kernel.pcap");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut ours = Vec::new();
    let mut n = 0;
    while let Some(packet) = reader.next_packet() {
        let frame = packet.unwrap().data;
        n += 1;
        if frame.len() <= 14 || frame[12..14] != [0x86, 0xdd] {
            continue;
        }
        let ip = Ipv6Packet::parse(&frame[14..]).unwrap();
        if ip.upper_protocol != NEXT_TCP {
            continue;
        }
        let tcp = TcpHeaderView::parse(ip.upper_layer()).unwrap();
        for (kind, bytes) in tcp_options(tcp.options()) {
            if kind != 5 {
                continue;
            }
            let sack = SackOption::parse_owned(bytes).unwrap();
            assert_eq!(usize::from(sack.len), bytes.len());
            let mut out = vec![0u8; bytes.len()];
            sack.emit(&mut out).unwrap();
            assert_eq!(
                out, bytes,
                "frame {n}: the SACK option re-emits byte for byte"
            );
            let join = |f: fn(&SackBlock) -> u32| {
                sack.blocks
                    .iter()
                    .map(|b| f(b).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            ours.push(format!("{n}\t{}\t{}", join(|b| b.left), join(|b| b.right)));
        }
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-o", "tcp.relative_sequence_numbers:FALSE"])
        .args(["-Y", "tcp.options.sack_le", "-T", "fields"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "tcp.options.sack_le",
            "-e",
            "tcp.options.sack_re",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is needed to cross-check SACK ({e}); install it: apt-get install tshark")
        });
    assert!(out.status.success());
    let theirs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        ours.len() >= 5,
        "the lossy connection's ACKs carry SACK blocks: {ours:?}"
    );
    assert!(
        ours.iter().any(|l| l.matches(',').count() >= 2),
        "some carry three blocks"
    );
    assert_eq!(ours, theirs);
}

proptest! {
    #[test]
    fn rip_messages_round_trip(command in 1u8..=2, routes in prop::collection::vec(
        (any::<u16>(), any::<u16>(), any::<[u8; 4]>(), any::<[u8; 4]>(), any::<[u8; 4]>(), any::<u32>()),
        0..=MAX_ENTRIES,
    )) {
        let entries = routes.into_iter().map(|(afi, route_tag, addr, mask, next_hop, metric)| RipEntry {
            afi, route_tag, addr, mask, next_hop, metric,
        });
        let message = RipMessage { command, version: 2, zero: 0, entries: Entries::from_iter_bounded(entries).unwrap() };
        let mut buf = vec![0u8; message.header_len()];
        message.emit(&mut buf).unwrap();
        prop_assert_eq!(RipMessage::parse_owned(&buf).unwrap(), message);
    }

    #[test]
    fn any_bytes_parse_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = RipMessage::parse_owned(&bytes);
        let _ = SackOption::parse_owned(&bytes);
    }
}

fn capture_ipv4() -> Vec<Vec<u8>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures/linux-kernel.pcap");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let data = packet.unwrap().data;
        if data.len() > 14 && data[12..14] == [0x08, 0x00] {
            out.push(data[14..].to_vec());
        }
    }
    out
}

#[test]
fn emit_verbatim_keeps_the_checksum_and_lengths_as_received_and_emit_recomputes_them() {
    let mut checked = 0;
    for ip in capture_ipv4() {
        let view = Ipv4HeaderView::parse(&ip[..]).unwrap();
        let len = view.header_and_payload_len();
        let mut received = ip[..len].to_vec();
        // A bit of the header checksum flipped in transit: parse still reads it.
        received[11] ^= 0x04;
        let header = Ipv4Header::parse_owned(&received).unwrap();
        let mut out = received.clone();
        out[..header.header_len()].fill(0);
        assert_eq!(header.emit_verbatim(&mut out), Ok(header.header_len()));
        assert_eq!(out, received, "verbatim: the bad checksum as received");
        assert!(!Ipv4HeaderView::parse(&out[..]).unwrap().verify_checksum());
        header.emit(&mut out).unwrap();
        assert_eq!(out, &ip[..len], "emit: the checksum recomputed");
        checked += 1;
    }
    assert!(checked > 200);

    // A TCP header keeps its (pseudo-header) checksum either way; a UDP header's
    // length field is kept as held by verbatim and filled by emit.
    let ip = capture_ipv4()
        .into_iter()
        .find(|ip| ip[9] == 17 && ip[6] & 0x3f == 0 && ip[7] == 0)
        .unwrap();
    let v = Ipv4HeaderView::parse(&ip[..]).unwrap();
    let udp = v.payload().to_vec();
    let mut header = vipe_protocols::wire::UdpHeader::parse_owned(&udp).unwrap();
    header.length = 9;
    let mut out = udp.clone();
    header.emit_verbatim(&mut out).unwrap();
    assert_eq!(
        UdpHeaderView::parse(&out[..]).map(|v| v.length()).ok(),
        Some(9)
    );
    header.emit(&mut out).unwrap();
    assert_eq!(out, udp);
    let tcp_ip = capture_ipv4().into_iter().find(|ip| ip[9] == 6).unwrap();
    let v = Ipv4HeaderView::parse(&tcp_ip[..]).unwrap();
    let tcp = TcpHeader::parse_owned(v.payload()).unwrap();
    let mut out = v.payload().to_vec();
    tcp.emit_verbatim(&mut out).unwrap();
    assert_eq!(out, v.payload());
    assert_eq!(
        TcpHeaderView::parse(&out[..]).unwrap().checksum(),
        tcp.checksum
    );
    // Values too wide for their fields are still refused.
    let wide = Ipv4Header {
        flags: 9,
        ..Ipv4Header::parse_owned(&ip).unwrap()
    };
    assert!(matches!(
        wide.emit_verbatim(&mut out).unwrap_err().kind,
        HeaderErrorKind::TooWide { bits: 3, value: 9 }
    ));
}
