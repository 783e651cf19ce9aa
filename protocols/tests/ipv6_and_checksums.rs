//! IPv6 and transport checksums against frames the Linux kernel sent: the shared
//! capture (MLD reports with Hop-by-Hop options, neighbour discovery, echo) and
//! `tests/data/ipv6-kernel.pcap` (made by `scripts/make-ipv6-capture`: UDP plain,
//! fragmented, with Destination Options, with Hop-by-Hop and Destination Options, with a
//! Segment Routing Header; a TCP connection).
//!
//! - the extension-header walk finds, frame by frame, the chain tshark decodes;
//! - UDP, TCP (and ICMPv6) checksums verify through the views given the IPv4 or IPv6
//!   pseudo-header, for every such frame, and fail once any one bit is flipped;
//! - the fragmented UDP datagram's checksum verifies over its reassembled bytes;
//! - malformed IPv6 input is refused with a reason, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use vipe_protocols::wire::ipv4::{FLAG_MF, Ipv4HeaderView, PROTO_TCP, PROTO_UDP};
use vipe_protocols::wire::ipv6::{
    ExtensionKind, Ipv6Error, Ipv6Packet, NEXT_DEST_OPTIONS, NEXT_ICMPV6, NEXT_TCP, NEXT_UDP,
};
use vipe_protocols::wire::tcp::TcpHeaderView;
use vipe_protocols::wire::udp::UdpHeaderView;
use vipe_rt::checksum::{self, PseudoHeader};

fn shared_capture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures/linux-kernel.pcap")
}

fn ipv6_capture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ipv6-kernel.pcap")
}

fn frames(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet() {
        out.push(packet.expect("a readable packet").data.into_owned());
    }
    out
}

/// (frame number, IP packet) of every frame with this EtherType.
fn packets(path: &Path, ethertype: u16) -> Vec<(usize, Vec<u8>)> {
    frames(path)
        .into_iter()
        .enumerate()
        .filter(|(_, f)| f.len() > 14 && f[12..14] == ethertype.to_be_bytes())
        .map(|(i, f)| (i + 1, f[14..].to_vec()))
        .collect()
}

/// tshark's view of each IPv6 frame: the next-header values of the fixed header and of
/// each kind of extension header, tab-separated as `tshark -T fields` prints them.
fn tshark_chains(path: &Path) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(path)
        .args(["-Y", "ipv6", "-T", "fields"])
        .args(["-e", "frame.number", "-e", "ipv6.nxt", "-e", "ipv6.hopopts.nxt"])
        .args(["-e", "ipv6.routing.nxt", "-e", "ipv6.fraghdr.nxt", "-e", "ipv6.dstopts.nxt"])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is needed to cross-check the IPv6 walk ({e}); install it: apt-get install tshark")
        });
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The same line from our walk.
fn our_chain(n: usize, p: &Ipv6Packet) -> String {
    let mut kinds: [Vec<String>; 4] = Default::default();
    for ext in p.extensions() {
        let slot = match ext.kind {
            ExtensionKind::HopByHop => 0,
            ExtensionKind::Routing { .. } => 1,
            ExtensionKind::Fragment { .. } => 2,
            ExtensionKind::DestinationOptions => 3,
            ExtensionKind::Authentication => continue,
        };
        kinds[slot].push(p.extension_bytes(&ext)[0].to_string());
    }
    let mut line = format!("{n}\t{}", p.header.next_header);
    for k in &kinds {
        line.push('\t');
        line.push_str(&k.join(","));
    }
    line
}

#[test]
fn every_ipv6_frame_walks_to_the_chain_tshark_decodes() {
    let mut kinds_seen = std::collections::HashSet::new();
    for path in [shared_capture(), ipv6_capture()] {
        let ours: Vec<String> = packets(&path, 0x86dd)
            .iter()
            .map(|(n, ip)| {
                let p = Ipv6Packet::parse(ip)
                    .unwrap_or_else(|e| panic!("{}: frame {n}: {e:?}", path.display()));
                for ext in p.extensions() {
                    kinds_seen.insert(std::mem::discriminant(&ext.kind));
                }
                our_chain(*n, &p)
            })
            .collect();
        assert_eq!(ours, tshark_chains(&path), "{}", path.display());
    }
    assert_eq!(
        kinds_seen.len(),
        4,
        "hop-by-hop, routing, fragment and destination options were all walked"
    );
}

#[test]
fn the_kernels_extension_headers_are_where_the_capture_script_put_them() {
    let v6 = packets(&ipv6_capture(), 0x86dd);
    let by_payload = |needle: &[u8]| {
        v6.iter()
            .map(|(_, ip)| Ipv6Packet::parse(ip).unwrap())
            .find(|p| p.upper_layer().windows(needle.len()).any(|w| w == needle))
            .unwrap_or_else(|| panic!("no frame carries {:?}", String::from_utf8_lossy(needle)))
    };
    let dst = by_payload(b"with destination options");
    let kinds: Vec<ExtensionKind> = dst.extensions().map(|e| e.kind).collect();
    assert_eq!(kinds, [ExtensionKind::DestinationOptions]);
    assert_eq!((dst.upper_protocol, dst.upper_offset), (NEXT_UDP, 48));

    let both = by_payload(b"with hop-by-hop and destination options");
    let kinds: Vec<ExtensionKind> = both.extensions().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ExtensionKind::HopByHop, ExtensionKind::DestinationOptions]
    );
    assert_eq!(both.upper_offset, 56);

    let srh = by_payload(b"with a segment routing header");
    let kinds: Vec<ExtensionKind> = srh.extensions().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ExtensionKind::Routing {
            routing_type: 4,
            segments_left: 0
        }]
    );
    assert_eq!(srh.final_destination(), srh.header.dst);

    // The 3000-byte datagram: three fragments at 0, 1448, 2896; the first walks on to
    // UDP, the others stop at their Fragment header.
    let frags: Vec<Ipv6Packet> = v6
        .iter()
        .map(|(_, ip)| Ipv6Packet::parse(ip).unwrap())
        .filter(|p| p.fragment().is_some())
        .collect();
    let offsets: Vec<(usize, bool)> = frags
        .iter()
        .map(|p| match p.fragment() {
            Some(ExtensionKind::Fragment { offset, more, .. }) => (offset, more),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(offsets, [(0, true), (1448, true), (2896, false)]);
    assert!(frags.iter().all(|p| p.upper_protocol == NEXT_UDP));
}

/// Checks `upper` (a UDP or TCP packet) under `pseudo`, then that flipping any single bit
/// of it makes the check fail. Returns how many flips were tried.
fn verify_and_flip(protocol: u8, upper: &[u8], pseudo: &PseudoHeader, what: &str) -> usize {
    let ok = |bytes: &[u8]| match protocol {
        PROTO_UDP => UdpHeaderView::parse(bytes).is_ok_and(|v| v.checksum_ok(pseudo)),
        PROTO_TCP => TcpHeaderView::parse(bytes).is_ok_and(|v| v.verify_checksum_with(pseudo)),
        _ => unreachable!(),
    };
    assert!(ok(upper), "{what}: the kernel's checksum verifies");
    let mut flipped = upper.to_vec();
    let mut tried = 0;
    // Every bit of the first 64 bytes, then one bit every 61 bytes of the rest.
    let positions = (0..upper.len().min(64)).chain((64..upper.len()).step_by(61));
    for byte in positions {
        for bit in 0..8 {
            flipped[byte] ^= 1 << bit;
            assert!(!ok(&flipped), "{what}: bit {bit} of byte {byte} flipped");
            flipped[byte] ^= 1 << bit;
            tried += 1;
        }
    }
    tried
}

#[test]
fn udp_and_tcp_checksums_verify_over_ipv4_with_the_pseudo_header_and_fail_when_flipped() {
    let (mut udp, mut tcp) = (0, 0);
    for (n, ip) in packets(&shared_capture(), 0x0800) {
        let v = Ipv4HeaderView::parse(&ip[..]).unwrap();
        if v.flags() & FLAG_MF != 0 || v.frag_offset() != 0 {
            continue; // the transport checksum covers the reassembled datagram
        }
        let protocol = v.protocol();
        if protocol != PROTO_UDP && protocol != PROTO_TCP {
            continue;
        }
        let pseudo = PseudoHeader::V4 {
            src: v.src(),
            dst: v.dst(),
            protocol,
        };
        verify_and_flip(protocol, v.payload(), &pseudo, &format!("IPv4 frame {n}"));
        if protocol == PROTO_UDP {
            udp += 1;
        } else {
            tcp += 1;
        }
        // The same bytes under another pseudo-header fail: it counts.
        let other = PseudoHeader::V4 {
            src: v.dst(),
            dst: [10, 0, 0, 99],
            protocol,
        };
        let bad = match protocol {
            PROTO_UDP => UdpHeaderView::parse(v.payload())
                .unwrap()
                .verify_checksum_with(&other),
            _ => TcpHeaderView::parse(v.payload())
                .unwrap()
                .verify_checksum_with(&other),
        };
        assert!(
            !bad,
            "IPv4 frame {n}: another pseudo-header must not verify"
        );
    }
    assert!(
        udp >= 2 && tcp >= 200,
        "the capture's UDP ({udp}) and TCP ({tcp}) frames"
    );
}

#[test]
fn udp_tcp_and_icmpv6_checksums_verify_over_ipv6_with_the_pseudo_header_and_fail_when_flipped() {
    let (mut udp, mut tcp, mut icmp) = (0, 0, 0);
    for path in [shared_capture(), ipv6_capture()] {
        for (n, ip) in packets(&path, 0x86dd) {
            let p = Ipv6Packet::parse(&ip).unwrap();
            if p.fragment().is_some() {
                continue;
            }
            let pseudo = p.pseudo_header();
            let what = format!("{} frame {n}", path.display());
            match p.upper_protocol {
                NEXT_UDP => {
                    verify_and_flip(PROTO_UDP, p.upper_layer(), &pseudo, &what);
                    udp += 1;
                }
                NEXT_TCP => {
                    verify_and_flip(PROTO_TCP, p.upper_layer(), &pseudo, &what);
                    tcp += 1;
                }
                NEXT_ICMPV6 => {
                    let upper = p.upper_layer();
                    let sum = checksum::add(pseudo.sum(upper.len()), upper);
                    assert_eq!(checksum::fold(sum), 0xffff, "{what}: ICMPv6 checksum");
                    icmp += 1;
                }
                other => panic!("{what}: unexpected upper layer {other}"),
            }
        }
    }
    assert_eq!((udp, tcp), (4, 65), "UDP and TCP frames over IPv6");
    assert!(icmp >= 12, "ICMPv6 frames: {icmp}");
}

#[test]
fn the_fragmented_ipv6_datagrams_udp_checksum_verifies_over_its_reassembled_bytes() {
    let mut pieces: Vec<(usize, Vec<u8>, Option<PseudoHeader>)> = Vec::new();
    for (_, ip) in packets(&ipv6_capture(), 0x86dd) {
        let p = Ipv6Packet::parse(&ip).unwrap();
        if let Some(ExtensionKind::Fragment { offset, .. }) = p.fragment() {
            let pseudo = (offset == 0).then(|| p.pseudo_header());
            pieces.push((offset, p.upper_layer().to_vec(), pseudo));
        }
    }
    pieces.sort_by_key(|p| p.0);
    let mut whole = Vec::new();
    for (offset, data, _) in &pieces {
        assert_eq!(*offset, whole.len(), "no gap, no overlap");
        whole.extend_from_slice(data);
    }
    let pseudo = pieces[0]
        .2
        .expect("the first fragment gives the pseudo-header");
    let udp = UdpHeaderView::parse(&whole[..]).unwrap();
    assert_eq!(udp.length(), 3008);
    assert!(udp.verify_checksum_with(&pseudo));
    whole[2000] ^= 0x10;
    assert!(
        !UdpHeaderView::parse(&whole[..])
            .unwrap()
            .verify_checksum_with(&pseudo)
    );
}

#[test]
fn a_zero_udp_checksum_is_no_checksum_over_ipv4_and_an_error_over_ipv6() {
    let v6 = packets(&ipv6_capture(), 0x86dd);
    let (_, ip) = v6
        .iter()
        .find(|(_, ip)| {
            let p = Ipv6Packet::parse(ip).unwrap();
            p.upper_protocol == NEXT_UDP && p.extensions().next().is_none()
        })
        .unwrap();
    let p = Ipv6Packet::parse(ip).unwrap();
    let mut udp = p.upper_layer().to_vec();
    udp[6..8].copy_from_slice(&[0, 0]);
    let view = UdpHeaderView::parse(&udp[..]).unwrap();
    assert!(!view.checksum_ok(&p.pseudo_header()));
    let v4 = PseudoHeader::V4 {
        src: [10, 0, 0, 1],
        dst: [10, 0, 0, 2],
        protocol: PROTO_UDP,
    };
    assert!(view.checksum_ok(&v4));
    // Filling computes the checksum again, for either pseudo-header.
    let mut view = UdpHeaderView::parse(&mut udp[..]).unwrap();
    view.fill_checksum_with(&p.pseudo_header());
    assert_eq!(udp, p.upper_layer());
}

#[test]
fn a_routing_header_with_segments_left_moves_the_pseudo_headers_destination() {
    let v6 = packets(&ipv6_capture(), 0x86dd);
    let mut ip = v6
        .iter()
        .map(|(_, ip)| ip.clone())
        .find(|ip| {
            Ipv6Packet::parse(ip)
                .unwrap()
                .extensions()
                .any(|e| matches!(e.kind, ExtensionKind::Routing { .. }))
        })
        .unwrap();
    let segment: [u8; 16] = ip[48..64].try_into().unwrap();
    // In transit: one segment left, the header's destination is an intermediate node.
    ip[43] = 1;
    ip[24..40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    let p = Ipv6Packet::parse(&ip).unwrap();
    assert_eq!(p.final_destination(), segment);
    assert!(
        UdpHeaderView::parse(p.upper_layer())
            .unwrap()
            .verify_checksum_with(&p.pseudo_header()),
        "the checksum covers the final destination, not the header's"
    );
}

#[test]
fn malformed_ipv6_is_refused_with_a_reason_never_a_panic() {
    let v6 = packets(&ipv6_capture(), 0x86dd);
    let (_, both) = v6
        .iter()
        .find(|(_, ip)| Ipv6Packet::parse(ip).unwrap().extensions().count() == 2)
        .unwrap();
    // Every truncation of every frame: an error or a shorter packet, never a panic.
    for (_, ip) in &v6 {
        for len in 0..ip.len() {
            let _ = Ipv6Packet::parse(&ip[..len]);
        }
    }
    // An extension header longer than the payload.
    let mut long = both.clone();
    long[41] = 200;
    assert_eq!(
        Ipv6Packet::parse(&long).unwrap_err(),
        Ipv6Error::TruncatedExtension
    );
    // Hop-by-hop after destination options.
    let mut late = both.clone();
    late[6] = NEXT_DEST_OPTIONS;
    late[40] = 0;
    let err = Ipv6Packet::parse(&late).unwrap_err();
    assert_eq!(err, Ipv6Error::MisplacedHopByHop);
    assert_eq!(err.reason(), "IPv6 hop-by-hop header not first");
    // A chain of 17 destination options headers.
    let mut chain = both[..40].to_vec();
    chain[6] = NEXT_DEST_OPTIONS;
    for i in 0..17 {
        let next = if i == 16 { 59 } else { NEXT_DEST_OPTIONS };
        chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    let payload_len = (chain.len() - 40) as u16;
    chain[4..6].copy_from_slice(&payload_len.to_be_bytes());
    assert_eq!(
        Ipv6Packet::parse(&chain).unwrap_err(),
        Ipv6Error::TooManyExtensions
    );
    // A payload length beyond the buffer, and a version other than 6.
    let mut short = both.clone();
    short[4..6].copy_from_slice(&2000u16.to_be_bytes());
    assert!(matches!(
        Ipv6Packet::parse(&short),
        Err(Ipv6Error::Header(_))
    ));
    let mut v5 = both.clone();
    v5[0] = 0x50;
    assert_eq!(
        Ipv6Packet::parse(&v5).unwrap_err().reason(),
        "unexpected header field value"
    );
}
