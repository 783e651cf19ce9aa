//! Wiring helpers: a host's Ethernet/ARP/IPv4/ICMP/UDP(/TCP) stack, or a router's, inside a
//! node, on devices the platform provides. Platform-neutral: the same calls build the
//! stack in the simulator, on TAP devices or in ns-3.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use vipe_rt::WiringError;
use vipe_rt::prelude::*;

use crate::arp::{Arp, ArpConfig, ArpPort};
use crate::ethernet::{Ethernet, EthernetPort};
use crate::icmp::{Icmp, IcmpPort};
use crate::ipv4::{Interface, Ipv4, Ipv4Config, Ipv4Port, Route};
use crate::tcp::{Tcp, TcpPort, TcpProtocolConfig};
use crate::udp::{Udp, UdpPort};
use crate::wire::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// One Ethernet interface: its link layer and its ARP.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// Ethernet.
    pub ethernet: Handle<Ethernet>,
    /// ARP.
    pub arp: Handle<Arp>,
}

/// A host's protocol instances.
#[derive(Clone, Copy, Debug)]
pub struct HostStack {
    /// The interface.
    pub link: Link,
    /// IPv4.
    pub ipv4: Handle<Ipv4>,
    /// ICMP; applications connect to its `app` port.
    pub icmp: Handle<Icmp>,
    /// UDP; applications connect to its `app(port)` ports.
    pub udp: Handle<Udp>,
}

/// A router's protocol instances.
#[derive(Clone, Debug)]
pub struct RouterStack {
    /// Its interfaces, by index.
    pub links: Vec<Link>,
    /// IPv4 in forwarding mode.
    pub ipv4: Handle<Ipv4>,
    /// ICMP (answers pings to the router).
    pub icmp: Handle<Icmp>,
}

fn link(
    node: &mut Node,
    device: DeviceId,
    mac: [u8; 6],
    addr: Ipv4Addr,
    index: u8,
    ipv4: Handle<Ipv4>,
    notify_ip: bool,
) -> Result<Link, WiringError> {
    let ethernet = node.add_named(Ethernet::new(mac), &alloc::format!("eth{index}"));
    let mut config = ArpConfig::new(mac, alloc::vec![addr]);
    config.notify_ip = notify_ip;
    let arp = node.add_named(Arp::new(config), &alloc::format!("arp{index}"));
    node.attach(device, ethernet.port(EthernetPort::Lower))?;
    node.connect(
        ethernet.port(EthernetPort::Upper(ETHERTYPE_ARP)),
        arp.port(ArpPort::Arp),
    )?;
    // Received IPv4 frames go from Ethernet straight to IPv4's `link` port, and a
    // router's IPv4 sends what it forwards to a neighbour ARP has resolved back the same
    // way (`notify_ip`). Everything else IPv4 sends goes down through ARP, which resolves
    // the next hop and hands the frame to Ethernet's IPv4 port one way: what Ethernet
    // receives there goes to IPv4, not back to ARP.
    node.connect(
        ethernet.port(EthernetPort::Upper(ETHERTYPE_IPV4)),
        ipv4.port(Ipv4Port::Link(index)),
    )?;
    node.connect(arp.port(ArpPort::Ip), ipv4.port(Ipv4Port::Lower(index)))?;
    node.connect_one_way(
        arp.port(ArpPort::Link),
        ethernet.port(EthernetPort::Upper(ETHERTYPE_IPV4)),
    )?;
    Ok(Link { ethernet, arp })
}

/// Builds a host on `device`: Ethernet with `mac`, ARP, IPv4 with `iface` and a default
/// route via `gateway`, ICMP and UDP.
pub fn host(
    node: &mut Node,
    device: DeviceId,
    mac: [u8; 6],
    iface: Interface,
    gateway: Option<Ipv4Addr>,
) -> Result<HostStack, WiringError> {
    let ipv4 = node.add(Ipv4::new(Ipv4Config::host(iface, gateway)));
    let link = link(node, device, mac, iface.addr, 0, ipv4, false)?;
    let icmp = node.add(Icmp::new());
    let udp = node.add(Udp::new(iface.addr));
    node.connect(
        ipv4.port(Ipv4Port::Upper(PROTO_ICMP)),
        icmp.port(IcmpPort::Ip),
    )?;
    node.connect(ipv4.port(Ipv4Port::Upper(PROTO_UDP)), udp.port(UdpPort::Ip))?;
    node.connect(
        icmp.port(IcmpPort::Errors(PROTO_UDP)),
        udp.port(UdpPort::Icmp),
    )?;
    node.connect(udp.port(UdpPort::Reject), icmp.port(IcmpPort::Reject))?;
    Ok(HostStack {
        link,
        ipv4,
        icmp,
        udp,
    })
}

/// Adds TCP to a host built by [`host`]: IPv4's `upper(6)` to TCP's `ip`, ICMP's
/// `errors(6)` to TCP's `icmp`. Applications
/// connect to TCP's `app(id)` ports.
pub fn add_tcp(
    node: &mut Node,
    host: &HostStack,
    addr: Ipv4Addr,
    config: TcpProtocolConfig,
) -> Result<Handle<Tcp>, WiringError> {
    let tcp = node.add(Tcp::new(addr, config));
    node.connect(
        host.ipv4.port(Ipv4Port::Upper(PROTO_TCP)),
        tcp.port(TcpPort::Ip),
    )?;
    node.connect(
        host.icmp.port(IcmpPort::Errors(PROTO_TCP)),
        tcp.port(TcpPort::Icmp),
    )?;
    Ok(tcp)
}

/// Builds a router over `interfaces` (device, MAC, interface address) with extra `routes`.
pub fn router(
    node: &mut Node,
    interfaces: &[(DeviceId, [u8; 6], Interface)],
    routes: Vec<Route>,
) -> Result<RouterStack, WiringError> {
    let config = Ipv4Config::router(interfaces.iter().map(|(_, _, i)| *i).collect(), routes);
    let ipv4 = node.add(Ipv4::new(config));
    let mut links = Vec::new();
    for (index, (device, mac, iface)) in interfaces.iter().enumerate() {
        // ARP tells IPv4 its neighbours: forwarded datagrams to them skip ARP.
        links.push(link(
            node,
            *device,
            *mac,
            iface.addr,
            index as u8,
            ipv4,
            true,
        )?);
    }
    let icmp = node.add(Icmp::new());
    node.connect(
        ipv4.port(Ipv4Port::Upper(PROTO_ICMP)),
        icmp.port(IcmpPort::Ip),
    )?;
    Ok(RouterStack { links, ipv4, icmp })
}
