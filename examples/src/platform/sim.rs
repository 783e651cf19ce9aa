//! The simulator side: the example's node plus the simulated peers it needs.

use vipe_platforms::sim::{LinkConfig, Simulator};
use vipe_protocols::ipv4::Interface;
use vipe_rt::prelude::*;

use super::{HostRole, PlatformOptions};

fn sim_until(sim: &mut Simulator, options: &PlatformOptions) -> Result<(), String> {
    sim.run_until(Instant::ZERO + options.duration.into());
    sim.stop().map_err(|e| format!("writing captures: {e}"))
}

fn capture(
    sim: &mut Simulator,
    options: &PlatformOptions,
    node: NodeId,
    dev: DeviceId,
    name: &str,
) -> Result<(), String> {
    if let Some(dir) = &options.pcap_dir {
        sim.capture(node, dev, dir.join(format!("{name}.pcap")))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs the host built by `build` for `local`, beside a simulated twin built by the same
/// `build` for `peer`, over one simulated link. Returns the local node and what `build`
/// returned for it.
pub fn run_host<T>(
    options: &PlatformOptions,
    local: HostRole,
    peer: HostRole,
    build: impl Fn(&mut Node, DeviceId, &HostRole) -> Result<T, String>,
) -> Result<(Node, T), String> {
    let mut sim = Simulator::new(options.seed);
    let (a, b) = (sim.add_node(), sim.add_node());
    let link = sim
        .link(
            a,
            b,
            LinkConfig::default().latency(Duration::from_millis(1)),
        )
        .map_err(|e| e.to_string())?;
    capture(&mut sim, options, a, link.a.device, "local")?;
    capture(&mut sim, options, b, link.b.device, "peer")?;
    let out = build(sim.node_mut(a).expect("node a"), link.a.device, &local)?;
    build(sim.node_mut(b).expect("node b"), link.b.device, &peer)?;
    sim_until(&mut sim, options)?;
    Ok((take_node(&mut sim, a), out))
}

/// Runs the router built by `build` (one frame device per interface) between simulated
/// hosts, one per interface, each built by `host` for its role. Returns the router node,
/// what `build` returned, and the hosts' nodes with what `host` returned for them.
#[allow(clippy::type_complexity)]
pub fn run_router<T, H>(
    options: &PlatformOptions,
    interfaces: &[Interface],
    hosts: &[HostRole],
    build: impl Fn(&mut Node, &[DeviceId]) -> Result<T, String>,
    host: impl Fn(&mut Node, DeviceId, &HostRole) -> Result<H, String>,
) -> Result<(Node, T, Vec<(Node, H)>), String> {
    super::check_one_host_per_interface(interfaces, hosts)?;
    let mut sim = Simulator::new(options.seed);
    let r = sim.add_node();
    let mut devices = Vec::new();
    let mut host_nodes = Vec::new();
    for (i, role) in hosts.iter().enumerate() {
        let h = sim.add_node();
        let link = sim
            .link(
                r,
                h,
                LinkConfig::default().latency(Duration::from_millis(1)),
            )
            .map_err(|e| e.to_string())?;
        capture(
            &mut sim,
            options,
            r,
            link.a.device,
            &format!("router-if{i}"),
        )?;
        devices.push(link.a.device);
        host_nodes.push((h, link.b.device, *role));
    }
    let out = build(sim.node_mut(r).expect("router"), &devices)?;
    let mut host_out = Vec::new();
    for (h, dev, role) in &host_nodes {
        host_out.push(host(sim.node_mut(*h).expect("host"), *dev, role)?);
    }
    sim_until(&mut sim, options)?;
    let hosts = host_nodes
        .iter()
        .zip(host_out)
        .map(|((h, ..), out)| (take_node(&mut sim, *h), out))
        .collect();
    Ok((take_node(&mut sim, r), out, hosts))
}

/// Moves a node out of the finished simulation, for the caller to read results from.
fn take_node(sim: &mut Simulator, id: NodeId) -> Node {
    std::mem::replace(sim.node_mut(id).expect("node exists"), Node::new(id))
}
