//! The deployment path: two VIPE nodes in two processes talk over real UDP sockets on
//! loopback (`udp_peer --listen` in a child process, a pinger node here).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};

use vipe_examples::overlay::{DatagramPing, DatagramPingPort};
use vipe_platforms::linux::LinuxPlatform;
use vipe_rt::prelude::*;

#[test]
fn two_processes_exchange_datagrams_over_udp() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_udp_peer"))
        .args(["--listen", "127.0.0.1:0", "--seconds", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("udp_peer starts");
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .trim_start_matches("listening on ")
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"));

    let mut node = Node::new(NodeId(1));
    let dev = node.add_device("udp", DeviceKind::Datagram);
    let ping = node.add(DatagramPing::new(addr, 20, Duration::from_millis(5)));
    node.attach(dev, ping.port(DatagramPingPort::Net)).unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform
        .add_udp(dev, UdpSocket::bind("127.0.0.1:0").unwrap())
        .unwrap();
    platform
        .run(Some(std::time::Duration::from_secs(10)), |n| {
            n.protocol(ping).is_some_and(|p| p.answered() == 20)
        })
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let p = platform.node().protocol(ping).unwrap();
    assert_eq!(p.answered(), 20, "{:?}", p.rtts);
    assert!(
        p.rtts
            .iter()
            .flatten()
            .all(|rtt| *rtt < Duration::from_secs(1))
    );
}
