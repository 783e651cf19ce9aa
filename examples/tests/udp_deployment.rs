//! The deployment path: VIPE nodes on real UDP sockets. Two processes talk over loopback
//! (`udp_peer --listen` in a child process, a pinger node here); IPv6 sockets, batched
//! reads and writes, and datagrams the kernel refuses.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};

use vipe_examples::overlay::{DatagramEcho, DatagramEchoPort, DatagramPing, DatagramPingPort};
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

/// Thirty-two datagrams already waiting on an IPv6 socket are read in one `recvmmsg`
/// batch and echoed in one `sendmmsg` batch, byte for byte; datagrams up to 65 000 bytes
/// come back whole (no buffer cuts them short), those longer than a packet's tailroom too.
#[test]
fn ipv6_datagrams_are_read_and_echoed_in_batches_and_whole() {
    let mut node = Node::new(NodeId(1));
    let dev = node.add_device("udp6", DeviceKind::Datagram);
    let echo = node.add(DatagramEcho::default());
    node.attach(dev, echo.port(DatagramEchoPort::Net)).unwrap();
    let server = UdpSocket::bind("[::1]:0").expect("IPv6 loopback");
    let server_addr = server.local_addr().unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_udp(dev, server).unwrap();

    let client = UdpSocket::bind("[::1]:0").unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let payload =
        |i: usize, len: usize| -> Vec<u8> { (0..len).map(|j| (i * 31 + j * 7) as u8).collect() };
    let small: Vec<Vec<u8>> = (0..32).map(|i| payload(i, 1 + i * 45)).collect();
    for d in &small {
        client.send_to(d, server_addr).unwrap();
    }
    platform
        .run(Some(std::time::Duration::from_secs(10)), |n| {
            n.protocol(echo).is_some_and(|e| e.answered == 32)
        })
        .unwrap();
    let stats = platform.stats().clone();
    assert_eq!(stats.received, 32);
    assert_eq!(stats.sent, 32);
    assert!(
        stats.read_batches <= 2,
        "32 waiting datagrams took {} reads",
        stats.read_batches
    );
    let mut buf = vec![0; 70_000];
    for d in &small {
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(from, server_addr);
        assert_eq!(&buf[..n], &d[..]);
    }

    // Around the end of a packet's tailroom (a 2048-byte pool buffer behind 64 bytes of
    // headroom: 1984), where the rest of a datagram lands in the slot's overflow buffer.
    for (i, len) in [0usize, 1983, 1984, 1985, 2100, 9000, 65_000]
        .into_iter()
        .enumerate()
    {
        let d = payload(100 + i, len);
        client.send_to(&d, server_addr).unwrap();
        platform
            .run(Some(std::time::Duration::from_secs(10)), |n| {
                n.protocol(echo)
                    .is_some_and(|e| e.answered == 33 + i as u64)
            })
            .unwrap();
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(n, len);
        assert_eq!(&buf[..n], &d[..]);
    }
    assert_eq!(platform.stats().send_errors, 0);
    assert_eq!(platform.stats().receive_errors, 0);
}

/// Sends one batch mixing good datagrams with ones the kernel refuses.
#[protocol]
struct Sprayer {
    good: SocketAddr,
}

#[protocol]
impl Sprayer {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let wrong_family: SocketAddr = "[2001:db8::1]:9".parse().unwrap();
        let port_zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        for (body, dst) in [
            (&b"first"[..], Some(self.good)),
            (
                b"to an IPv6 address from an IPv4 socket",
                Some(wrong_family),
            ),
            (b"nowhere", None),
            (b"to port zero", Some(port_zero)),
            (b"second", Some(self.good)),
        ] {
            let mut pkt = cx.alloc();
            pkt.put_slice(body);
            pkt.meta_mut().dst = dst;
            cx.send(SprayerPort::Net, pkt);
        }
    }

    #[on_packet(port = "net")]
    fn ignore(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        cx.drop_packet(pkt, "not expecting anything");
    }
}

/// Datagrams the kernel refuses (wrong address family, port zero) or that name no
/// destination are counted as send errors and dropped; the ones around them in the same
/// batch still go, and the loop carries on.
#[test]
fn refused_datagrams_are_counted_and_the_rest_of_the_batch_still_goes() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut node = Node::new(NodeId(1));
    let dev = node.add_device("udp", DeviceKind::Datagram);
    let sprayer = node.add(Sprayer {
        good: peer.local_addr().unwrap(),
    });
    node.attach(dev, sprayer.port(SprayerPort::Net)).unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform
        .add_udp(dev, UdpSocket::bind("127.0.0.1:0").unwrap())
        .unwrap();
    platform
        .run(Some(std::time::Duration::from_millis(100)), |_| false)
        .unwrap();
    assert_eq!(platform.stats().sent, 2);
    assert_eq!(platform.stats().send_errors, 3);
    let mut buf = [0; 64];
    for expected in [&b"first"[..], b"second"] {
        let n = peer.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], expected);
    }
}

/// A node device is bound to one socket: binding it again is refused, saying so.
#[test]
fn binding_a_device_twice_is_refused() {
    let mut node = Node::new(NodeId(1));
    let dev = node.add_device("udp", DeviceKind::Datagram);
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform
        .add_udp(dev, UdpSocket::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let err = platform
        .add_udp(dev, UdpSocket::bind("127.0.0.1:0").unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("already bound"), "{err}");
}
