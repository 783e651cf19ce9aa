//! Wire formats: each header is a plain struct in wire order with `#[derive(Header)]`,
//! which generates its zero-copy view, validating parse, emit and checksums.

pub mod arp;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod udp;

pub use arp::ArpPacket;
pub use ethernet::{EthernetHeader, VlanTag};
pub use icmp::IcmpHeader;
pub use ipv4::Ipv4Header;
pub use tcp::TcpHeader;
pub use udp::UdpHeader;
