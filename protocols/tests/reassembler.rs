//! The IPv4 reassembler on its own, without a node: in order, out of order, exact
//! duplicates, overlaps, disagreeing ends, timeouts, memory and datagram limits, and the
//! Linux kernel's real fragments from the shared capture.

use std::path::PathBuf;

use vipe_protocols::ipv4::reassembly::{
    FragmentKey, Insert, Reassembled, Reassembler, ReassemblyConfig,
};
use vipe_protocols::wire::Ipv4Header;
use vipe_protocols::wire::ipv4::{FLAG_MF, Ipv4HeaderView, PROTO_ICMP, PROTO_UDP};
use vipe_rt::{Duration, Header, Instant, Options, checksum};

const SRC: [u8; 4] = [10, 0, 0, 1];
const DST: [u8; 4] = [10, 0, 0, 2];

/// One fragment of datagram `ident`: `data` at byte `offset`.
fn fragment(ident: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let h = Ipv4Header {
        version: 4,
        ihl: 5,
        tos: 0,
        total_len: 0,
        ident,
        flags: if more { FLAG_MF } else { 0 },
        frag_offset: (offset / 8) as u16,
        ttl: 64,
        protocol: PROTO_UDP,
        checksum: 0,
        src: SRC,
        dst: DST,
        options: Options::EMPTY,
    };
    let mut buf = vec![0u8; 20 + data.len()];
    buf[20..].copy_from_slice(data);
    h.emit(&mut buf).unwrap();
    buf
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// `payload` cut into fragments of `size` bytes (a multiple of 8).
fn cut(ident: u16, payload: &[u8], size: usize) -> Vec<Vec<u8>> {
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| fragment(ident, i * size, (i + 1) * size < payload.len(), chunk))
        .collect()
}

fn key(ident: u16) -> FragmentKey {
    FragmentKey {
        src: SRC,
        dst: DST,
        protocol: PROTO_UDP,
        ident,
    }
}

fn complete(outcome: Insert) -> Reassembled {
    match outcome {
        Insert::Complete(_, whole) => whole,
        other => panic!("expected a whole datagram, got {other:?}"),
    }
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

#[test]
fn in_order_fragments_make_the_datagram() {
    let data = payload(3000);
    let frags = cut(1, &data, 1480);
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    assert!(matches!(
        r.insert(t(0), &frags[0], ()),
        Insert::Pending { started: true, deadline, .. } if deadline == t(30_000)
    ));
    assert!(matches!(
        r.insert(t(1), &frags[1], ()),
        Insert::Pending { started: false, .. }
    ));
    assert_eq!(r.bytes_held(), 2960);
    let whole = complete(r.insert(t(2), &frags[2], ()));
    assert_eq!(whole.payload, data);
    assert_eq!((whole.header.flags, whole.header.frag_offset), (0, 0));
    let bytes = whole.to_bytes().unwrap();
    let view = Ipv4HeaderView::parse(&bytes[..]).unwrap();
    assert!(view.verify_checksum());
    assert_eq!(usize::from(view.total_len()), 3020);
    assert!(r.is_empty());
    assert_eq!(r.bytes_held(), 0);
}

#[test]
fn out_of_order_fragments_make_the_same_datagram() {
    let data = payload(4000);
    let mut frags = cut(2, &data, 504);
    assert_eq!(frags.len(), 8);
    frags.reverse();
    frags.swap(2, 5);
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    let (last, rest) = frags.split_last().unwrap();
    for f in rest {
        assert!(matches!(r.insert(t(0), f, ()), Insert::Pending { .. }));
    }
    assert_eq!(complete(r.insert(t(0), last, ())).payload, data);
    assert!(r.is_empty());
}

#[test]
fn a_whole_datagram_passes_straight_through() {
    let frag = fragment(3, 0, false, b"not fragmented");
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    let whole = complete(r.insert(t(0), &frag, ()));
    assert_eq!(whole.to_bytes().unwrap(), frag);
}

#[test]
fn an_exact_duplicate_is_dropped_and_the_datagram_still_completes() {
    let data = payload(2000);
    let frags = cut(4, &data, 1000);
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    r.insert(t(0), &frags[0], ());
    assert_eq!(
        r.insert(t(0), &frags[0], ()),
        Insert::Dropped("duplicate fragment")
    );
    assert_eq!(r.bytes_held(), 1000);
    assert_eq!(complete(r.insert(t(0), &frags[1], ())).payload, data);
}

#[test]
fn overlapping_fragments_discard_the_whole_datagram() {
    let data = payload(3000);
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    r.insert(t(0), &fragment(5, 0, true, &data[..1000]), ());
    r.insert(t(0), &fragment(5, 2000, false, &data[2000..]), ());
    // Starts inside the first piece.
    assert_eq!(
        r.insert(t(0), &fragment(5, 992, true, &data[992..2000]), ()),
        Insert::Dropped("overlapping fragments")
    );
    assert!(r.is_empty(), "the datagram is gone");
    assert_eq!(r.bytes_held(), 0);
    // Ends inside a later piece; also at the same offset with other bytes.
    r.insert(t(0), &fragment(6, 1000, true, &data[1000..2000]), ());
    assert_eq!(
        r.insert(t(0), &fragment(6, 0, true, &data[..1008]), ()),
        Insert::Dropped("overlapping fragments")
    );
    r.insert(t(0), &fragment(7, 0, true, &data[..1000]), ());
    assert_eq!(
        r.insert(t(0), &fragment(7, 0, true, &data[8..1008]), ()),
        Insert::Dropped("overlapping fragments")
    );
    assert!(r.is_empty());
}

#[test]
fn fragments_that_disagree_on_the_end_discard_the_datagram() {
    let data = payload(3000);
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    r.insert(t(0), &fragment(8, 0, true, &data[..1000]), ());
    r.insert(t(0), &fragment(8, 2000, false, &data[2000..]), ());
    assert_eq!(
        r.insert(t(0), &fragment(8, 1000, false, &data[1000..1600]), ()),
        Insert::Dropped("fragments disagree on the datagram's end")
    );
    assert!(r.is_empty());
    // Data past a known end.
    r.insert(t(0), &fragment(9, 1000, false, &data[1000..2000]), ());
    assert_eq!(
        r.insert(t(0), &fragment(9, 2000, true, &data[2000..2800]), ()),
        Insert::Dropped("fragments disagree on the datagram's end")
    );
}

#[test]
fn malformed_fragments_are_refused_with_a_reason() {
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    assert_eq!(
        r.insert(t(0), &fragment(10, 0, true, &[1; 12]), ()),
        Insert::Dropped("fragment length not a multiple of 8")
    );
    assert_eq!(
        r.insert(t(0), &fragment(10, 65_528, false, &[1; 16]), ()),
        Insert::Dropped("fragment beyond 65535 bytes")
    );
    let mut bad = fragment(10, 0, true, &[1; 16]);
    bad[0] = 0x55;
    assert_eq!(
        r.insert(t(0), &bad, ()),
        Insert::Dropped("unexpected header field value")
    );
    assert_eq!(
        r.insert(t(0), &bad[..10], ()),
        Insert::Dropped("truncated header")
    );
    assert!(r.is_empty());
}

#[test]
fn incomplete_datagrams_time_out_with_what_an_icmp_error_needs() {
    let data = payload(3000);
    let frags = cut(11, &data, 1480);
    let config = ReassemblyConfig {
        timeout: Duration::from_secs(5),
        ..ReassemblyConfig::default()
    };
    let mut r: Reassembler<u8> = Reassembler::new(config);
    r.insert(t(0), &frags[0], 3);
    r.insert(t(1_000), &fragment(12, 8, false, &[0; 8]), 4);
    assert_eq!(r.next_deadline(), Some(t(5_000)));
    assert!(r.expire(t(4_999)).is_empty());
    let gone = r.expire(t(5_000));
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].key, key(11));
    assert_eq!(gone[0].tag, 3);
    // As much as an ICMP error quotes: 548 bytes, within 576 in all (RFC 1812).
    assert_eq!(
        gone[0].first_quote,
        frags[0][..vipe_protocols::wire::icmp::MAX_ERROR_QUOTE].to_vec()
    );
    assert_eq!(gone[0].first_header.unwrap().ident, 11);
    assert_eq!(r.len(), 1);
    let gone = r.expire(t(6_000));
    assert_eq!(gone[0].first_header, None, "its first fragment never came");
    assert!(r.is_empty() && r.bytes_held() == 0);
    // A late fragment starts over.
    assert!(matches!(
        r.insert(t(7_000), &frags[1], 0),
        Insert::Pending { started: true, .. }
    ));
}

#[test]
fn memory_and_datagram_limits_hold() {
    let config = ReassemblyConfig {
        max_bytes: 4000,
        max_datagrams: 3,
        ..ReassemblyConfig::default()
    };
    let mut r: Reassembler = Reassembler::new(config);
    let data = payload(1480);
    for ident in 0..2 {
        assert!(matches!(
            r.insert(t(0), &fragment(ident, 0, true, &data), ()),
            Insert::Pending { .. }
        ));
    }
    assert_eq!(
        r.insert(t(0), &fragment(2, 0, true, &data), ()),
        Insert::Dropped("reassembly memory full")
    );
    assert_eq!(r.bytes_held(), 2960);
    r.insert(t(0), &fragment(3, 0, true, &data[..8]), ());
    assert_eq!(
        r.insert(t(0), &fragment(4, 0, true, &data[..8]), ()),
        Insert::Dropped("too many datagrams in reassembly")
    );
    assert_eq!(r.len(), 3);
    // Completing one frees its room.
    complete(r.insert(t(0), &fragment(0, 1480, false, &data[..100]), ()));
    assert_eq!(r.bytes_held(), 1488);
    assert!(matches!(
        r.insert(t(0), &fragment(4, 0, true, &data), ()),
        Insert::Pending { .. }
    ));
}

#[test]
fn the_kernels_fragments_from_the_capture_reassemble_with_valid_checksums() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures/linux-kernel.pcap");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut r: Reassembler = Reassembler::new(ReassemblyConfig::default());
    let mut whole = Vec::new();
    let mut ms = 0;
    while let Some(packet) = reader.next_packet() {
        let frame = packet.unwrap().data;
        if frame.len() <= 14 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = Ipv4HeaderView::parse(&frame[14..]).unwrap();
        if ip.flags() & FLAG_MF == 0 && ip.frag_offset() == 0 {
            continue;
        }
        ms += 1;
        let end = 14 + ip.header_len() + ip.payload().len();
        match r.insert(t(ms), &frame[14..end], ()) {
            Insert::Complete(key, datagram) => whole.push((key, datagram)),
            Insert::Pending { .. } => {}
            Insert::Dropped(reason) => panic!("a kernel fragment was dropped: {reason}"),
        }
    }
    assert!(r.is_empty());
    let mut lengths: Vec<(u8, usize)> = whole
        .iter()
        .map(|(k, d)| (k.protocol, d.payload.len()))
        .collect();
    lengths.sort();
    assert_eq!(
        lengths,
        [(PROTO_ICMP, 4008), (PROTO_ICMP, 4008), (PROTO_UDP, 3008)]
    );
    for (key, d) in &whole {
        let ok = if key.protocol == PROTO_ICMP {
            checksum::verify(&d.payload)
        } else {
            let pseudo = checksum::pseudo_header_v4(key.src, key.dst, PROTO_UDP, 3008);
            checksum::fold(checksum::add(pseudo, &d.payload)) == 0xffff
        };
        assert!(ok, "{key:?}: the reassembled payload's checksum verifies");
    }
}
