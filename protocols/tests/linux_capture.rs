//! Every frame of a real Linux-kernel capture (`../shared/captures/linux-kernel.pcap`)
//! parses at every layer we implement, every checksum verifies, and emitting each header
//! from its owned representation reproduces the frame byte for byte.

use std::path::PathBuf;

use vipe_protocols::wire::arp::ArpPacketView;
use vipe_protocols::wire::ethernet::{
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN,
};
use vipe_protocols::wire::ethernet::{EthernetHeaderView, VlanTagView};
use vipe_protocols::wire::icmp::IcmpHeaderView;
use vipe_protocols::wire::ipv4::Ipv4HeaderView;
use vipe_protocols::wire::ipv4::{FLAG_MF, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use vipe_protocols::wire::tcp::TcpHeaderView;
use vipe_protocols::wire::udp::UdpHeaderView;
use vipe_protocols::wire::{
    ArpPacket, EthernetHeader, IcmpHeader, Ipv4Header, TcpHeader, UdpHeader, VlanTag,
};
use vipe_rt::Header;
use vipe_rt::checksum;

fn capture_frames() -> Vec<Vec<u8>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures/linux-kernel.pcap");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "the real capture is expected at {} (the shared/ folder beside the repository): {e}",
            path.display()
        )
    });
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        frames.push(packet.expect("a readable packet").data.into_owned());
    }
    frames
}

#[derive(Default, Debug)]
struct Census {
    frames: usize,
    arp: usize,
    ipv4: usize,
    ipv6_opaque: usize,
    vlan: usize,
    fragments: usize,
    icmp: usize,
    udp: usize,
    tcp: usize,
    with_ip_options: usize,
}

/// Emits `header` over the front of `region` and checks it reproduces `original`.
fn assert_reemits<H: Header + std::fmt::Debug>(
    header: &H,
    region: &mut [u8],
    original: &[u8],
    what: &str,
    n: usize,
) {
    let len = header
        .emit(region)
        .unwrap_or_else(|e| panic!("frame {n}: emitting {what}: {e}"));
    assert_eq!(
        &region[..len],
        &original[..len],
        "frame {n}: {what} re-emitted differently: {header:?}"
    );
}

#[test]
fn every_frame_parses_verifies_and_reemits_byte_for_byte() {
    let frames = capture_frames();
    assert_eq!(
        frames.len(),
        253,
        "the capture's README promises 253 frames"
    );
    let mut census = Census::default();
    for (n, frame) in frames.iter().enumerate() {
        census.frames += 1;
        let mut copy = frame.clone();
        let eth =
            EthernetHeaderView::parse(&frame[..]).unwrap_or_else(|e| panic!("frame {n}: {e}"));
        assert_reemits(&eth.to_owned(), &mut copy, frame, "Ethernet", n);
        let mut ethertype = eth.ethertype();
        let mut offset = EthernetHeader::LEN;
        if ethertype == ETHERTYPE_VLAN {
            census.vlan += 1;
            let tag = VlanTagView::parse(&frame[offset..]).unwrap();
            ethertype = tag.ethertype();
            assert_reemits(
                &tag.to_owned(),
                &mut copy[offset..],
                &frame[offset..],
                "802.1Q",
                n,
            );
            offset += VlanTag::LEN;
        }
        let l3 = &frame[offset..];
        match ethertype {
            ETHERTYPE_ARP => {
                census.arp += 1;
                let arp = ArpPacketView::parse(l3).unwrap_or_else(|e| panic!("frame {n}: {e}"));
                assert_reemits(&arp.to_owned(), &mut copy[offset..], l3, "ARP", n);
                let _: ArpPacket = arp.to_owned();
            }
            ETHERTYPE_IPV6 => census.ipv6_opaque += 1,
            ETHERTYPE_IPV4 => {
                census.ipv4 += 1;
                let ip = Ipv4HeaderView::parse(l3).unwrap_or_else(|e| panic!("frame {n}: {e}"));
                assert!(ip.verify_checksum(), "frame {n}: IPv4 checksum");
                if !ip.options().is_empty() {
                    census.with_ip_options += 1;
                }
                let total = ip.header_len() + ip.payload().len();
                let owned: Ipv4Header = ip.to_owned();
                assert_reemits(
                    &owned,
                    &mut copy[offset..offset + total],
                    &l3[..total],
                    "IPv4",
                    n,
                );
                let fragment = ip.flags() & FLAG_MF != 0 || ip.frag_offset() != 0;
                let l4 = ip.payload();
                let l4_at = offset + ip.header_len();
                if fragment {
                    census.fragments += 1;
                }
                if fragment {
                    // The transport header's length and checksum cover the reassembled
                    // datagram; the reassembly tests check those.
                    assert_eq!(&copy, frame, "frame {n} re-emitted differently");
                    continue;
                }
                let pseudo = |len: usize| {
                    checksum::pseudo_header_v4(ip.src(), ip.dst(), ip.protocol(), len as u16)
                };
                match ip.protocol() {
                    PROTO_ICMP => {
                        census.icmp += 1;
                        let icmp =
                            IcmpHeaderView::parse(l4).unwrap_or_else(|e| panic!("frame {n}: {e}"));
                        assert!(icmp.verify_checksum(), "frame {n}: ICMP checksum");
                        assert_reemits(
                            &icmp.to_owned(),
                            &mut copy[l4_at..l4_at + l4.len()],
                            l4,
                            "ICMP",
                            n,
                        );
                    }
                    PROTO_UDP => {
                        census.udp += 1;
                        let udp =
                            UdpHeaderView::parse(l4).unwrap_or_else(|e| panic!("frame {n}: {e}"));
                        let sum = checksum::add(pseudo(l4.len()), l4);
                        assert_eq!(checksum::fold(sum), 0xffff, "frame {n}: UDP checksum");
                        assert_reemits(
                            &udp.to_owned(),
                            &mut copy[l4_at..l4_at + l4.len()],
                            l4,
                            "UDP",
                            n,
                        );
                    }
                    PROTO_TCP => {
                        census.tcp += 1;
                        let tcp =
                            TcpHeaderView::parse(l4).unwrap_or_else(|e| panic!("frame {n}: {e}"));
                        let sum = checksum::add(pseudo(l4.len()), l4);
                        assert_eq!(checksum::fold(sum), 0xffff, "frame {n}: TCP checksum");
                        let owned: TcpHeader = tcp.to_owned();
                        assert_reemits(&owned, &mut copy[l4_at..l4_at + l4.len()], l4, "TCP", n);
                    }
                    other => panic!("frame {n}: unexpected IP protocol {other}"),
                }
            }
            other => panic!("frame {n}: unexpected EtherType {other:#06x}"),
        }
        assert_eq!(&copy, frame, "frame {n} re-emitted differently");
    }
    eprintln!("{census:?}");
    assert!(
        census.arp >= 2 && census.icmp >= 4 && census.udp >= 2 && census.tcp > 100,
        "{census:?}"
    );
    assert!(
        census.fragments >= 5,
        "the 4000-byte ping and 3000-byte UDP datagram: {census:?}"
    );
    assert!(
        census.with_ip_options >= 1,
        "the record-route ping: {census:?}"
    );
}

#[test]
fn syn_options_are_carried_through() {
    let frames = capture_frames();
    let syn = frames
        .iter()
        .filter_map(|f| {
            let ip = Ipv4HeaderView::parse(&f[14..]).ok()?;
            (ip.protocol() == PROTO_TCP).then(|| {
                TcpHeaderView::parse(ip.payload())
                    .ok()
                    .map(|t| t.to_owned())
            })?
        })
        .find(|t| t.flags & vipe_protocols::wire::tcp::SYN != 0)
        .expect("a SYN");
    // MSS 1460 is the first option of a Linux SYN.
    assert_eq!(&syn.options.as_slice()[..4], &[2, 4, 0x05, 0xb4]);
    assert_eq!(
        syn.data_offset as usize * 4,
        TcpHeader::LEN + syn.options.len()
    );
    let _ = UdpHeader::LEN;
    let _ = IcmpHeader::LEN;
}
