//! VIPE's IPv4 reassembles the Linux kernel's fragments from the real capture to their
//! true lengths: the 4000-byte ping (ICMP message of 4008 bytes, both directions) and
//! the 3000-byte UDP datagram (UDP length 3008), with valid checksums.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use vipe_protocols::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port};
use vipe_protocols::wire::icmp::IcmpHeaderView;
use vipe_protocols::wire::ipv4::{Ipv4HeaderView, PROTO_ICMP, PROTO_UDP};
use vipe_protocols::wire::udp::UdpHeaderView;
use vipe_rt::checksum;
use vipe_rt::prelude::*;

/// What IPv4 delivered: protocol, bytes, source and destination.
type Delivery = (u8, Vec<u8>, Option<SocketAddr>, Option<SocketAddr>);

/// Records what IPv4 delivers upward.
#[protocol]
#[derive(Default)]
struct Recorder {
    got: Vec<Delivery>,
}

#[protocol(ports(icmp, udp))]
impl Recorder {
    #[on_packet(port = "icmp")]
    fn icmp(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        self.got.push((
            PROTO_ICMP,
            pkt.data().to_vec(),
            pkt.meta().src,
            pkt.meta().dst,
        ));
    }

    #[on_packet(port = "udp")]
    fn udp(&mut self, _cx: &mut Cx<Self>, pkt: Packet) {
        self.got.push((
            PROTO_UDP,
            pkt.data().to_vec(),
            pkt.meta().src,
            pkt.meta().dst,
        ));
    }
}

fn ip_packets() -> Vec<Vec<u8>> {
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

/// Feeds every IPv4 packet of the capture addressed to `me` into a VIPE IPv4 host.
fn receive_all(me: Ipv4Addr) -> Vec<Delivery> {
    let mut node = Node::new(NodeId(1));
    let ip = node.add(Ipv4::new(Ipv4Config::host(
        Interface {
            addr: me,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    )));
    let rec = node.add(Recorder::default());
    let dev = node.add_device("veth", DeviceKind::Frame);
    node.attach(dev, ip.port(Ipv4Port::Lower(0))).unwrap();
    node.connect(
        ip.port(Ipv4Port::Upper(PROTO_ICMP)),
        rec.port(RecorderPort::Icmp),
    )
    .unwrap();
    node.connect(
        ip.port(Ipv4Port::Upper(PROTO_UDP)),
        rec.port(RecorderPort::Udp),
    )
    .unwrap();
    node.start(Instant::ZERO);
    for (i, packet) in ip_packets().into_iter().enumerate() {
        let dst = Ipv4HeaderView::parse(&packet[..]).unwrap().dst();
        if Ipv4Addr::from(dst) == me {
            node.handle_input(
                Instant::from_millis(i as u64),
                dev,
                Packet::from_slice(&packet),
            );
        }
    }
    assert!(node.faults().is_empty());
    assert_eq!(
        node.protocol(ip).unwrap().reassemblies(),
        0,
        "nothing left half-reassembled"
    );
    node.protocol(rec).unwrap().got.clone()
}

fn pseudo_ok(src: Option<SocketAddr>, dst: Option<SocketAddr>, proto: u8, bytes: &[u8]) -> bool {
    let (Some(SocketAddr::V4(s)), Some(SocketAddr::V4(d))) = (src, dst) else {
        return false;
    };
    let sum =
        checksum::pseudo_header_v4(s.ip().octets(), d.ip().octets(), proto, bytes.len() as u16);
    checksum::fold(checksum::add(sum, bytes)) == 0xffff
}

#[test]
fn the_kernels_fragments_reassemble_to_their_true_lengths() {
    let to_2 = receive_all(Ipv4Addr::new(10, 0, 0, 2));
    let big_ping = to_2
        .iter()
        .find(|(p, b, ..)| *p == PROTO_ICMP && b.len() > 1500)
        .expect("the 4000-byte ping");
    assert_eq!(big_ping.1.len(), 4008, "ICMP header + 4000 bytes of data");
    let icmp = IcmpHeaderView::parse(&big_ping.1[..]).unwrap();
    assert!(
        icmp.verify_checksum(),
        "the reassembled echo request's checksum verifies"
    );
    assert_eq!(icmp.icmp_type(), 8);
    let udp = to_2
        .iter()
        .find(|(p, b, ..)| *p == PROTO_UDP && b.len() > 1500)
        .expect("the 3000-byte datagram");
    assert_eq!(udp.1.len(), 3008);
    assert_eq!(UdpHeaderView::parse(&udp.1[..]).unwrap().length(), 3008);
    assert!(
        pseudo_ok(udp.2, udp.3, PROTO_UDP, &udp.1),
        "UDP checksum over the reassembled datagram"
    );
    assert_eq!(
        udp.2.map(|a| a.ip()),
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );

    let to_1 = receive_all(Ipv4Addr::new(10, 0, 0, 1));
    let reply = to_1
        .iter()
        .find(|(p, b, ..)| *p == PROTO_ICMP && b.len() > 1500)
        .expect("the 4000-byte reply");
    assert_eq!(reply.1.len(), 4008);
    let icmp = IcmpHeaderView::parse(&reply.1[..]).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(icmp.icmp_type(), 0);
    assert_eq!(
        icmp.payload(),
        &big_ping.1[8..],
        "the reply echoes the request's data"
    );
}
