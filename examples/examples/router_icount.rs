//! Instructions per forwarded frame, counted by callgrind (`bench/router-icount.sh`):
//! `router_icount MODE N` pushes N copies of a 106-byte UDP frame through
//!
//! - `vipe`: a VIPE router node (`stack::router`: Ethernet + ARP per interface, IPv4 in
//!   router mode), from `handle_input` to `poll_transmit`;
//! - `hand`: the hand-written forwarder's per-frame work (`bench/tools` `tap_forward`:
//!   MAC filter, IPv4 checks with the header checksum, TTL decrement with the RFC 1624
//!   update, MAC rewrite);
//!
//! each frame copied into a pool packet first (as a read from a TAP would) and dropped
//! back after. The difference between two N gives the cost per frame, start-up excluded.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::Ipv4Addr;

use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::wire::{ArpPacket, EthernetHeader, Ipv4Header, UdpHeader};
use vipe_rt::prelude::*;
use vipe_rt::{Header, Options};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

fn iface(addr: Ipv4Addr) -> Interface {
    Interface {
        addr,
        prefix_len: 24,
        mtu: 1500,
    }
}

fn frame(eth: EthernetHeader, body: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut buf = vec![0u8; 14];
    body(&mut buf);
    eth.emit(&mut buf).unwrap();
    buf
}

fn udp_frame() -> Vec<u8> {
    frame(
        EthernetHeader {
            dst: mac(1),
            src: mac(0xa),
            ethertype: 0x0800,
        },
        |buf| {
            buf.resize(14 + 20 + 8 + 64, 0x5a);
            UdpHeader {
                src_port: 4000,
                dst_port: 5000,
                length: 0,
                checksum: 0,
            }
            .emit(&mut buf[34..])
            .unwrap();
            Ipv4Header {
                version: 4,
                ihl: 5,
                tos: 0,
                total_len: 0,
                ident: 1,
                flags: 0,
                frag_offset: 0,
                ttl: 64,
                protocol: 17,
                checksum: 0,
                src: A.octets(),
                dst: B.octets(),
                options: Options::EMPTY,
            }
            .emit(&mut buf[14..])
            .unwrap();
        },
    )
}

/// The router node, with B's MAC learnt.
fn router() -> (Node, DeviceId) {
    let mut node = Node::new(NodeId(0));
    let d0 = node.add_device("eth0", DeviceKind::Frame);
    let d1 = node.add_device("eth1", DeviceKind::Frame);
    stack::router(
        &mut node,
        &[(d0, mac(1), iface(R1)), (d1, mac(2), iface(R2))],
        vec![],
    )
    .unwrap();
    node.start(Instant::ZERO);
    let arp = frame(
        EthernetHeader {
            dst: mac(2),
            src: mac(0xb),
            ethertype: 0x0806,
        },
        |buf| {
            let reply = ArpPacket {
                htype: 1,
                ptype: 0x0800,
                hlen: 6,
                plen: 4,
                oper: 2,
                sha: mac(0xb),
                spa: B.octets(),
                tha: mac(2),
                tpa: R2.octets(),
            };
            buf.resize(14 + 28, 0);
            reply.emit(&mut buf[14..]).unwrap();
        },
    );
    node.handle_input(Instant::ZERO, d1, Packet::from_slice(&arp));
    while node.poll_transmit().is_some() {}
    (node, d0)
}

/// The hand-written forwarder's work on one frame (bench/tools tap_forward.rs).
#[inline(never)]
fn hand_forward(frame: &mut [u8], ours: [u8; 6], peer: [u8; 6], me: [u8; 6]) -> bool {
    if frame.len() < 14 + 20 || frame[..6] != ours {
        return false;
    }
    if frame[12..14] != [0x08, 0x00] {
        return false;
    }
    let ip = &mut frame[14..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[0] >> 4 != 4 || header_len < 20 || header_len > total || total > ip.len() {
        return false;
    }
    let mut sum = 0u32;
    for pair in ip[..header_len].chunks_exact(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if sum != 0xffff || ip[8] <= 1 {
        return false;
    }
    let old = u16::from_be_bytes([ip[8], ip[9]]);
    ip[8] -= 1;
    let new = u16::from_be_bytes([ip[8], ip[9]]);
    let checksum = u16::from_be_bytes([ip[10], ip[11]]);
    let mut s = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    frame[..6].copy_from_slice(&peer);
    frame[6..12].copy_from_slice(&me);
    true
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "vipe".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let udp = udp_frame();
    let (mut node, d0) = router();
    let mut forwarded = 0u64;
    match mode.as_str() {
        "vipe" => {
            for _ in 0..n {
                let mut pkt = node.pool().alloc_with_headroom(64);
                pkt.put_slice(black_box(&udp));
                node.handle_input(Instant::ZERO, d0, pkt);
                while let Some(out) = node.poll_transmit() {
                    forwarded += black_box(out.packet.len()) as u64 / 100;
                }
            }
        }
        "hand" => {
            let pool = node.pool().clone();
            for _ in 0..n {
                let mut pkt = pool.alloc_with_headroom(64);
                pkt.put_slice(black_box(&udp));
                if hand_forward(pkt.data_mut(), mac(1), mac(0xb), mac(2)) {
                    forwarded += black_box(pkt.len()) as u64 / 100;
                }
            }
        }
        _ => panic!("mode: vipe | hand"),
    }
    assert_eq!(forwarded, n, "every frame forwarded");
    println!("{mode}: {n} frames forwarded");
}
