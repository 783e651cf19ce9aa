//! The ns-3 side: the example's node and the peers it needs, as VIPE nodes inside ns-3
//! 3.37, on CSMA channels (ns-3's Ethernet model). Captures come from ns-3's own pcap
//! tracing.

use vipe_platforms::ns3::{ChannelId, CsmaConfig, NetDeviceId, Ns3World};
use vipe_protocols::ipv4::Interface;
use vipe_rt::prelude::*;

use super::{HostRole, PlatformOptions};

/// The segment every example link is: 100 Mb/s, 1 ms, like the simulator's links.
fn segment() -> CsmaConfig {
    CsmaConfig::default().delay(Duration::from_millis(1))
}

/// A MAC for the ns-3 device under a VIPE device (the VIPE Ethernet protocol sends from
/// its own MAC; captures are promiscuous, so they show every frame either way).
fn device_mac(node: NodeId, index: usize) -> [u8; 6] {
    [0x02, 0x4e, 0x53, node.0 as u8, 0, index as u8]
}

fn capture(
    world: &mut Ns3World,
    options: &PlatformOptions,
    dev: NetDeviceId,
    name: &str,
) -> Result<(), String> {
    if let Some(dir) = &options.pcap_dir {
        world
            .capture(dev, dir.join(format!("{name}.pcap")))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn attach(
    world: &mut Ns3World,
    node: NodeId,
    channel: ChannelId,
    mac: [u8; 6],
) -> Result<(DeviceId, NetDeviceId), String> {
    let dev = world
        .attach_csma(node, channel, mac)
        .map_err(|e| e.to_string())?;
    Ok((dev.device, dev.net_device))
}

fn run(world: &mut Ns3World, options: &PlatformOptions) -> Result<(), String> {
    let end = Instant::ZERO + options.duration.into();
    world.run_until(end).map_err(|e| e.to_string())?;
    world.stop();
    Ok(())
}

/// Runs the host built by `build` for `local`, beside a twin built by the same `build`
/// for `peer`, both VIPE nodes in ns-3 on one CSMA segment. Returns the local node and
/// what `build` returned for it.
pub fn run_host<T>(
    options: &PlatformOptions,
    local: HostRole,
    peer: HostRole,
    build: impl Fn(&mut Node, DeviceId, &HostRole) -> Result<T, String>,
) -> Result<(Node, T), String> {
    let mut world = Ns3World::new(options.seed).map_err(|e| e.to_string())?;
    let (a, b) = (world.add_node(), world.add_node());
    let lan = world.csma_channel(segment()).map_err(|e| e.to_string())?;
    let (dev_a, net_a) = attach(&mut world, a, lan, local.mac)?;
    let (dev_b, net_b) = attach(&mut world, b, lan, peer.mac)?;
    capture(&mut world, options, net_a, "local")?;
    capture(&mut world, options, net_b, "peer")?;
    let out = build(world.node_mut(a).expect("node a"), dev_a, &local)?;
    build(world.node_mut(b).expect("node b"), dev_b, &peer)?;
    run(&mut world, options)?;
    let node = world.into_nodes().swap_remove(a.0 as usize);
    Ok((node, out))
}

/// Runs the router built by `build` (one frame device per interface, each on its own
/// CSMA segment) between VIPE hosts in ns-3, one per interface, each built by `host`
/// for its role. Returns the router node, what `build` returned, and the hosts' nodes
/// with what `host` returned for them.
#[allow(clippy::type_complexity)]
pub fn run_router<T, H>(
    options: &PlatformOptions,
    interfaces: &[Interface],
    hosts: &[HostRole],
    build: impl Fn(&mut Node, &[DeviceId]) -> Result<T, String>,
    host: impl Fn(&mut Node, DeviceId, &HostRole) -> Result<H, String>,
) -> Result<(Node, T, Vec<(Node, H)>), String> {
    super::check_one_host_per_interface(interfaces, hosts)?;
    let mut world = Ns3World::new(options.seed).map_err(|e| e.to_string())?;
    let r = world.add_node();
    let mut devices = Vec::new();
    let mut host_nodes = Vec::new();
    for (i, role) in hosts.iter().enumerate() {
        let h = world.add_node();
        let lan = world.csma_channel(segment()).map_err(|e| e.to_string())?;
        let (dev_r, net_r) = attach(&mut world, r, lan, device_mac(r, i))?;
        let (dev_h, _) = attach(&mut world, h, lan, role.mac)?;
        capture(&mut world, options, net_r, &format!("router-if{i}"))?;
        devices.push(dev_r);
        host_nodes.push((h, dev_h, *role));
    }
    let out = build(world.node_mut(r).expect("router"), &devices)?;
    let mut host_out = Vec::new();
    for (h, dev, role) in &host_nodes {
        host_out.push(host(world.node_mut(*h).expect("host"), *dev, role)?);
    }
    run(&mut world, options)?;
    let mut nodes: Vec<Option<Node>> = world.into_nodes().into_iter().map(Some).collect();
    let mut take = |id: NodeId| nodes[id.0 as usize].take().expect("node exists");
    let router = take(r);
    let hosts = host_nodes
        .iter()
        .zip(host_out)
        .map(|((h, ..), out)| (take(*h), out))
        .collect();
    Ok((router, out, hosts))
}
