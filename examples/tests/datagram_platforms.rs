//! One datagram protocol, three platforms: the `overlay` pinger and echo, set up by the
//! same calls, run on the simulator's underlay and on Linux UDP sockets here, and inside
//! ns-3 on its UDP sockets in `ns3_stacks::datagram_protocols_run_on_ns3_udp_sockets`
//! (feature `ns3`). Only the platform's device binding differs.

use vipe_examples::overlay::{add_echo, add_pinger};
use vipe_platforms::sim::{PathConfig, Simulator};
use vipe_rt::prelude::*;

#[test]
fn the_datagram_example_runs_on_the_simulated_underlay() {
    let mut sim = Simulator::new(3);
    sim.set_underlay(PathConfig::new("const:5ms".parse().unwrap()))
        .unwrap();
    let (a, b) = (sim.add_node(), sim.add_node());
    let dev_a = sim.add_datagram_device(a, 4000).unwrap();
    let dev_b = sim.add_datagram_device(b, 7).unwrap();
    let ping = add_pinger(
        sim.node_mut(a).unwrap(),
        dev_a.device,
        dev_b.addr,
        10,
        Duration::from_millis(20),
    )
    .unwrap();
    let echo = add_echo(sim.node_mut(b).unwrap(), dev_b.device).unwrap();
    sim.run_until(Instant::from_secs(1));
    let p = sim.node(a).unwrap().protocol(ping).unwrap();
    assert_eq!(p.answered(), 10);
    assert!(p.rtts.iter().all(|r| *r == Some(Duration::from_millis(10))));
    assert_eq!(sim.node(b).unwrap().protocol(echo).unwrap().answered, 10);
}

#[cfg(target_os = "linux")]
#[test]
fn the_datagram_example_runs_on_linux_udp_sockets() {
    use std::net::UdpSocket;
    use vipe_platforms::linux::LinuxPlatform;

    // Two VIPE nodes, each on its own UDP socket over loopback, in two platform loops
    // on two threads (a node and its platform stay on one thread).
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let echo_thread = std::thread::spawn(move || {
        let mut node = Node::new(NodeId(1));
        let dev = node.add_device("udp", DeviceKind::Datagram);
        let echo = add_echo(&mut node, dev).unwrap();
        let mut platform = LinuxPlatform::new(node).unwrap();
        platform.add_udp(dev, server).unwrap();
        platform
            .run(Some(std::time::Duration::from_secs(10)), |n| {
                n.protocol(echo).is_some_and(|e| e.answered == 10)
            })
            .unwrap();
        platform.node().protocol(echo).unwrap().answered
    });
    let mut node = Node::new(NodeId(0));
    let dev = node.add_device("udp", DeviceKind::Datagram);
    let ping = add_pinger(&mut node, dev, server_addr, 10, Duration::from_millis(20)).unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform
        .add_udp(dev, UdpSocket::bind("127.0.0.1:0").unwrap())
        .unwrap();
    platform
        .run(Some(std::time::Duration::from_secs(10)), |n| {
            n.protocol(ping).is_some_and(|p| p.answered() == 10)
        })
        .unwrap();
    assert_eq!(platform.node().protocol(ping).unwrap().answered(), 10);
    assert_eq!(echo_thread.join().unwrap(), 10);
}
