//! Wire formats: each header is a plain struct in wire order with `#[derive(Header)]`,
//! which generates its zero-copy view, validating parse, emit and checksums.

pub mod arp;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod rip;
pub mod sockaddr;
pub mod tcp;
pub mod udp;

pub use arp::ArpPacket;
pub use ethernet::{EthernetHeader, VlanTag};
pub use icmp::IcmpHeader;
pub use ipv4::Ipv4Header;
pub use ipv6::{Ipv6Header, Ipv6Packet};
pub use rip::{RipEntry, RipMessage};
pub use tcp::TcpHeader;
pub use udp::UdpHeader;
