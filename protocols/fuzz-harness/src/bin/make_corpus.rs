//! Builds the seed corpora of the stateful fuzz targets from a real capture: writes
//! `protocols/fuzz/corpus/<target>/seed-*` (sequences of frames in the harness's record
//! format, see the `vipe_fuzz_harness` docs), one file per kind of frame and one per
//! window of consecutive frames, with the capture's own timing.
//!
//! `cargo run -p vipe-fuzz-harness --bin make_corpus [PCAP] [OUT_DIR]`
//! (defaults: `../shared/captures/linux-kernel.pcap` and `protocols/fuzz/corpus`, from
//! the repository root).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use pcap_file::pcap::PcapReader;
use vipe_fuzz_harness::Frame;

/// A captured frame and the milliseconds since the previous one.
struct Captured {
    gap_ms: u64,
    bytes: Vec<u8>,
}

/// What kind of frame it is, to keep a few of each: EtherType, IP protocol, whether a
/// fragment, a length class.
fn kind(b: &[u8]) -> (u16, u8, bool, usize) {
    let ethertype = b
        .get(12..14)
        .map_or(0, |t| u16::from_be_bytes([t[0], t[1]]));
    let (proto, frag) = if ethertype == 0x0800 && b.len() >= 34 {
        (b[23], u16::from_be_bytes([b[20], b[21]]) & 0x3fff != 0)
    } else {
        (0, false)
    };
    (ethertype, proto, frag, b.len() / 500)
}

fn ip_of(frame: &[u8]) -> Option<&[u8]> {
    (frame.len() >= 34 && frame[12..14] == [8, 0]).then(|| &frame[14..])
}

fn write(dir: &Path, name: &str, frames: &[Frame]) {
    let mut out = Vec::new();
    for f in frames {
        f.encode(&mut out);
    }
    fs::write(dir.join(name), out).expect("writing a seed");
}

/// Seeds for one target: each chosen frame alone, then windows of 12 frames.
fn seeds(dir: PathBuf, picked: &[Frame]) -> usize {
    fs::create_dir_all(&dir).expect("corpus directory");
    for (i, f) in picked.iter().enumerate() {
        write(&dir, &format!("seed-frame-{i:03}"), std::slice::from_ref(f));
    }
    let mut n = picked.len();
    for (i, w) in picked.windows(12).step_by(6).enumerate() {
        write(&dir, &format!("seed-window-{i:03}"), w);
        n += 1;
    }
    write(&dir, "seed-all", picked);
    n + 1
}

fn frame(repair: bool, gap_ms: u64, selector: u8, bytes: &[u8]) -> Frame {
    Frame {
        repair,
        advance_ms: gap_ms,
        selector,
        bytes: bytes.to_vec(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pcap = args
        .next()
        .unwrap_or_else(|| "../shared/captures/linux-kernel.pcap".into());
    let out = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "protocols/fuzz/corpus".into()),
    );
    let file = fs::File::open(&pcap).unwrap_or_else(|e| panic!("{pcap}: {e}"));
    let mut reader = PcapReader::new(file).expect("a pcap file");
    let mut all = Vec::new();
    let mut last = None;
    let mut seen: BTreeMap<(u16, u8, bool, usize), usize> = BTreeMap::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.expect("a readable packet");
        let gap = last.map_or(0, |l| (pkt.timestamp.saturating_sub(l)).as_millis() as u64);
        last = Some(pkt.timestamp);
        let count = seen.entry(kind(&pkt.data)).or_insert(0);
        *count += 1;
        // A few of each kind (the 200 kB download alone is ~140 full-size frames).
        if *count <= 4 {
            all.push(Captured {
                gap_ms: gap,
                bytes: pkt.data.into_owned(),
            });
        }
    }
    let from_peer = |c: &&Captured| c.bytes.get(6..12) == Some(&[2, 0, 0, 0, 0, 1][..]);
    let mut total = 0;
    let eth: Vec<Frame> = all
        .iter()
        .map(|c| frame(false, c.gap_ms, 0, &c.bytes))
        .collect();
    total += seeds(out.join("ethernet_input"), &eth);
    total += seeds(out.join("host_stack"), &eth);
    let mut routed: Vec<Frame> = all
        .iter()
        .map(|c| frame(false, c.gap_ms, 0, &c.bytes))
        .collect();
    // The same frames once more, forwarded: to the router's MAC, to 10.0.1.x, repaired.
    routed.extend(
        all.iter()
            .filter(from_peer)
            .map(|c| frame(true, c.gap_ms, 3, &c.bytes)),
    );
    total += seeds(out.join("router_stack"), &routed);
    let arp: Vec<Frame> = all
        .iter()
        .filter_map(|c| match c.bytes.get(12..14) {
            Some([8, 6]) => Some(frame(false, c.gap_ms, 0, &c.bytes[14..])),
            Some([8, 0]) => Some(frame(false, c.gap_ms, 8, &c.bytes[14..])),
            _ => None,
        })
        .collect();
    total += seeds(out.join("arp_input"), &arp);
    let ip: Vec<Frame> = all
        .iter()
        .filter_map(|c| ip_of(&c.bytes).map(|ip| frame(false, c.gap_ms, 0, ip)))
        .collect();
    total += seeds(out.join("ipv4_input"), &ip);
    let udp: Vec<Frame> = all
        .iter()
        .filter_map(|c| {
            let ip = ip_of(&c.bytes)?;
            let header_len = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
            match ip[9] {
                17 if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff == 0 => {
                    Some(frame(true, c.gap_ms, 0, &ip[header_len..total]))
                }
                // An ICMP error (port unreachable) about a UDP datagram.
                1 if ip.get(header_len) == Some(&3) => {
                    Some(frame(false, c.gap_ms, 8, &ip[header_len..total]))
                }
                _ => None,
            }
        })
        .collect();
    total += seeds(out.join("udp_input"), &udp);
    println!(
        "{total} seed files from {} chosen frames of {pcap}",
        all.len()
    );
}
