//! The VIPE stack on a TAP device against the Linux kernel's own stack, in a network
//! namespace this test creates: kernel `ping` → VIPE host, VIPE pinger → kernel, 4000-byte
//! pings both ways (fragmentation and reassembly against the kernel's), and a UDP echo
//! answering a kernel-side client. Needs root (CI runs as root); elsewhere it says so
//! loudly and skips.
//!
//! Each test runs twice: with plain TAP devices, and with TAP offloads (virtio-net header,
//! checksum, TSO/USO), where the kernel hands VIPE partial checksums and 64 KB TCP
//! segments; the router tests also mix an offloaded ingress with a plain egress (software
//! segmentation in the platform).
#![cfg(target_os = "linux")]

use std::net::Ipv4Addr;
use std::process::{Child, Stdio};
use std::time::Duration as StdDuration;

use vipe_platforms::linux::{LinuxPlatform, TapDevice, TapOffloads};
use vipe_protocols::apps::{Pinger, PingerConfig, PingerPort, UdpEcho, UdpEchoPort};
use vipe_protocols::icmp::IcmpPort;
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::udp::UdpPort;
use vipe_rt::prelude::*;

mod support;
use support::{Netns, is_root, kernel_side, sh};

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const VIPE: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// Whether to skip: true, after saying so loudly, when not running as root.
fn skip_unless_root() -> bool {
    if is_root() {
        return false;
    }
    eprintln!(
        "\n!!! SKIPPED: linux_interop needs root (TAP devices, network namespaces). Run as root; CI does. !!!\n"
    );
    true
}

fn run_until_exit(platform: &mut LinuxPlatform, child: Child) -> String {
    run_until_all_exit(platform, vec![child]).remove(0)
}

/// Runs the platform until every child has exited (20 s at most); returns their output.
/// The loop sleeps while nothing happens on its devices, so it runs in 50 ms slices to
/// notice a child that exits quietly.
fn run_until_all_exit(platform: &mut LinuxPlatform, mut children: Vec<Child>) -> Vec<String> {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    let mut all_exited = || {
        children
            .iter_mut()
            .all(|c| c.try_wait().ok().flatten().is_some())
    };
    while !all_exited() && std::time::Instant::now() < deadline {
        platform
            .run(Some(StdDuration::from_millis(50)), |_| false)
            .unwrap();
    }
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "kernel-side command failed: {text}");
            text
        })
        .collect()
}

/// Opens a TAP device, with every offload when `offload`.
fn open_tap(name: &str, offload: bool) -> TapDevice {
    let tap = if offload {
        TapDevice::open_with_offloads(name, TapOffloads::ALL)
    } else {
        TapDevice::open(name)
    };
    let tap = tap.expect("a TAP device");
    assert_eq!(tap.offloads().is_some(), offload);
    tap
}

/// Pings `addr` from `ns` twice with each payload size in `sizes`; every one answered.
fn ping_sizes(platform: &mut LinuxPlatform, ns: &Netns, addr: &str, sizes: &[usize]) {
    for size in sizes {
        let size_text = size.to_string();
        let ping = ns
            .exec(&[
                "ping", "-c", "2", "-i", "0.2", "-s", &size_text, "-W", "2", addr,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = run_until_exit(platform, ping);
        assert!(
            out.contains("2 received") && out.contains(&format!("{} bytes from {addr}", size + 8)),
            "{size}-byte pings: {out}"
        );
    }
}

/// A VIPE host (Ethernet, ARP, IPv4 /24, ICMP, UDP) on `dev`, with a UDP echo on port 7.
fn host_with_udp_echo(
    node: &mut Node,
    dev: DeviceId,
    mac: [u8; 6],
    addr: Ipv4Addr,
) -> (stack::HostStack, Handle<UdpEcho>) {
    let iface = Interface {
        addr,
        prefix_len: 24,
        mtu: 1500,
    };
    let host = stack::host(node, dev, mac, iface, None).unwrap();
    let echo = node.add(UdpEcho::default());
    node.connect(host.udp.port(UdpPort::App(7)), echo.port(UdpEchoPort::Udp))
        .unwrap();
    (host, echo)
}

#[test]
fn the_kernel_and_a_vipe_host_ping_and_echo_each_other_over_tap() {
    host_pings_and_echoes(false);
}

#[test]
fn the_kernel_and_a_vipe_host_ping_and_echo_each_other_over_tap_with_offloads() {
    host_pings_and_echoes(true);
}

fn host_pings_and_echoes(offload: bool) {
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-tap{}-{id}", u8::from(offload)));
    let tap_name = format!("vtap{}{id}", u8::from(offload));
    let tap = open_tap(&tap_name, offload);
    kernel_side(&ns, &tap_name, "10.77.0.1/24", None);

    let mut node = Node::new(NodeId(1));
    let dev = node.add_device(&tap_name, DeviceKind::Frame);
    let (host, _echo) = host_with_udp_echo(&mut node, dev, [0x02, 0, 0, 0, 0x77, 0x02], VIPE);
    let pinger = node.add(Pinger::new(PingerConfig {
        target: KERNEL,
        count: 3,
        interval: StdDuration::from_millis(200).into(),
        payload: 4000,
        ident: 0x7777,
    }));
    node.connect(host.icmp.port(IcmpPort::App), pinger.port(PingerPort::Icmp))
        .unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_tap(dev, tap).unwrap();

    // Kernel → VIPE: pings of several sizes (4000 and 20000 bytes fragmented by the
    // kernel, reassembled by VIPE; the replies fragmented by VIPE, reassembled by the
    // kernel).
    ping_sizes(&mut platform, &ns, "10.77.0.2", &[56, 1472, 4000, 20000]);

    // Kernel UDP client → VIPE UDP echo.
    let script = "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); \
                  s.sendto(b'hello vipe'*300,('10.77.0.2',7)); d,a=s.recvfrom(65535); \
                  sys.exit(0 if d==b'hello vipe'*300 else 1)";
    let udp = ns
        .exec(&["python3", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    run_until_exit(&mut platform, udp);
    let udp_drops = platform.node().stats().drops_for("bad UDP checksum");
    assert_eq!(
        udp_drops, 0,
        "the kernel's (partial) UDP checksums complete"
    );

    // VIPE → kernel: the pinger's 4000-byte echo requests.
    platform
        .run(Some(StdDuration::from_secs(5)), |node| {
            node.protocol(pinger).is_some_and(|p| p.replies() == 3)
        })
        .unwrap();
    let p = platform.node().protocol(pinger).unwrap();
    assert_eq!(
        p.replies(),
        3,
        "VIPE's pings to the kernel: {:?}",
        p.outcomes
    );
    assert!(platform.node().faults().is_empty());
    assert_eq!(platform.stats().send_errors, 0);
    assert_eq!(platform.stats().offload_errors, 0);
}

/// Two namespaces whose kernels route through a VIPE IPv4 router on two TAP devices:
/// kernel-to-kernel pings of several sizes, and a 10 MB TCP transfer each way (kernel
/// TCP at both ends) with equal SHA-256 at both ends.
#[test]
fn two_kernels_route_through_a_vipe_router() {
    route_through_router(false, false);
}

/// The same with offloads on both TAPs: the kernel's 64 KB TCP segments cross whole.
#[test]
fn two_kernels_route_through_a_vipe_router_with_offloads() {
    route_through_router(true, true);
}

/// Offloads on the first TAP only: what arrives there as 64 KB segments leaves the
/// plain second TAP as ordinary segments cut by the platform.
#[test]
fn two_kernels_route_through_a_vipe_router_offloaded_to_plain() {
    route_through_router(true, false);
}

/// A 10 MB TCP transfer from `from` to `to_addr` (listening in `to`) on `port`; the
/// bytes and SHA-256 are equal at both ends.
fn tcp_transfer(platform: &mut LinuxPlatform, from: &Netns, to: &Netns, to_addr: &str, port: u16) {
    let server = format!(
        "import socket,hashlib; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); \
                  s.bind(('{to_addr}',{port})); s.listen(1); s.settimeout(15); c,_=s.accept(); c.settimeout(15); h=hashlib.sha256(); n=0\n\
while True:\n    d=c.recv(65536)\n    if not d: break\n    h.update(d); n+=len(d)\n\
print(n, h.hexdigest())"
    );
    let client = format!(
        "import socket,hashlib,random,time; r=random.Random({port}); data=r.randbytes(10*1024*1024); \
                  time.sleep(0.3); s=socket.create_connection(('{to_addr}',{port}),timeout=15); s.sendall(data); s.close(); \
                  print(len(data), hashlib.sha256(data).hexdigest())"
    );
    let server = to
        .exec(&["python3", "-c", &server])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = from
        .exec(&["python3", "-c", &client])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let outs = run_until_all_exit(platform, vec![server, client]);
    assert_eq!(
        outs[0].trim(),
        outs[1].trim(),
        "bytes and SHA-256 at both ends"
    );
    assert!(outs[0].starts_with("10485760 "), "{}", outs[0]);
}

fn route_through_router(offload1: bool, offload2: bool) {
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let tag = format!("{}{}", u8::from(offload1), u8::from(offload2));
    let (ns1, ns2) = (
        Netns::new(&format!("vipe-r1{tag}-{id}")),
        Netns::new(&format!("vipe-r2{tag}-{id}")),
    );
    let (tap1, tap2) = (format!("vra{tag}{id}"), format!("vrb{tag}{id}"));
    let (t1, t2) = (open_tap(&tap1, offload1), open_tap(&tap2, offload2));
    kernel_side(&ns1, &tap1, "10.78.1.1/24", Some("10.78.1.2"));
    kernel_side(&ns2, &tap2, "10.78.2.1/24", Some("10.78.2.2"));

    let mut node = Node::new(NodeId(1));
    let (d1, d2) = (
        node.add_device(&tap1, DeviceKind::Frame),
        node.add_device(&tap2, DeviceKind::Frame),
    );
    let iface = |a: [u8; 4]| Interface {
        addr: Ipv4Addr::from(a),
        prefix_len: 24,
        mtu: 1500,
    };
    stack::router(
        &mut node,
        &[
            (d1, [2, 0, 0, 0, 0x78, 1], iface([10, 78, 1, 2])),
            (d2, [2, 0, 0, 0, 0x78, 2], iface([10, 78, 2, 2])),
        ],
        vec![],
    )
    .unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_tap(d1, t1).unwrap();
    platform.add_tap(d2, t2).unwrap();

    let ping = ns1
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.78.2.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_until_exit(&mut platform, ping);
    assert!(
        out.contains("3 received") && out.contains("ttl=63"),
        "one hop through VIPE: {out}"
    );
    ping_sizes(&mut platform, &ns1, "10.78.2.1", &[1472, 4000]);
    ping_sizes(&mut platform, &ns2, "10.78.1.1", &[56, 20000]);

    tcp_transfer(&mut platform, &ns1, &ns2, "10.78.2.1", 5001);
    tcp_transfer(&mut platform, &ns2, &ns1, "10.78.1.1", 5002);
    let forwarded: u64 = platform.node().stats().counter_total("datagrams forwarded");
    let stats = platform.stats().clone();
    eprintln!("offloads {tag}: forwarded {forwarded} datagrams; {stats:?}");
    assert!(platform.node().faults().is_empty());
    assert_eq!(stats.offload_errors, 0);
    assert_eq!(stats.send_errors, 0);
    if !offload1 && !offload2 {
        assert!(
            forwarded > 14000,
            "20 MB is more than 14000 full segments: {forwarded}"
        );
        assert_eq!(stats.gso_received, 0);
    } else {
        assert!(
            stats.gso_received > 0,
            "the kernel handed over large segments"
        );
    }
    // Forwarded whole where the egress takes them, cut by the platform where it does not.
    assert_eq!(
        stats.software_segmented > 0,
        offload1 != offload2,
        "{stats:?}"
    );
    assert_eq!(
        platform
            .node()
            .stats()
            .counter_total("offloaded datagrams segmented"),
        0,
        "segments of 1448 bytes fit the 1500-byte MTU: nothing for IPv4 to cut"
    );
}

/// Malformed frames written by the kernel side (a raw `AF_PACKET` socket in the
/// namespace) reach VIPE over the TAP device: each is dropped with its own counted reason
/// by the layer that catches it, nothing faults, and the host still answers pings after.
#[test]
fn malformed_frames_from_the_kernel_side_are_dropped_with_counted_reasons() {
    garbage_flood(false);
}

#[test]
fn malformed_frames_from_the_kernel_side_are_dropped_with_counted_reasons_with_offloads() {
    garbage_flood(true);
}

fn garbage_flood(offload: bool) {
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-bad{}-{id}", u8::from(offload)));
    let tap_name = format!("vbad{}{id}", u8::from(offload));
    let tap = open_tap(&tap_name, offload);
    // No IPv6 on the kernel side, so its own chatter (router solicitations, MLD) does not
    // blur the counts below: every drop is one of ours.
    for conf in ["all", "default"] {
        let key = format!("net.ipv6.conf.{conf}.disable_ipv6=1");
        let out = ns.exec(&["sysctl", "-w", &key]).output().unwrap();
        assert!(out.status.success(), "{key}: {out:?}");
    }
    kernel_side(&ns, &tap_name, "10.79.0.1/24", None);

    let mut node = Node::new(NodeId(1));
    let dev = node.add_device(&tap_name, DeviceKind::Frame);
    let (host, echo) = host_with_udp_echo(
        &mut node,
        dev,
        [0x02, 0, 0, 0, 0x79, 0x02],
        Ipv4Addr::new(10, 79, 0, 2),
    );
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_tap(dev, tap).unwrap();

    // Each frame is wrong in one way; all go to VIPE's MAC (but one), from the kernel's.
    let script = format!(
        r#"
import socket, struct
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip(payload, proto, ihl=5, version=4, total=None, good=True):
    total = 20 + len(payload) if total is None else total
    h = struct.pack('!BBHHHBBH4s4s', version << 4 | ihl, 0, total, 1, 0, 64, proto, 0,
                    socket.inet_aton('10.79.0.1'), socket.inet_aton('10.79.0.2'))
    c = csum(h) if good else csum(h) ^ 0x5555
    return h[:10] + struct.pack('!H', c) + h[12:] + payload
vipe = bytes.fromhex('020000007902')
me = bytes.fromhex(open('/sys/class/net/{tap_name}/address').read().strip().replace(':', ''))
eth = lambda t, dst=vipe: dst + me + struct.pack('!H', t)
icmp = struct.pack('!BBHHH', 8, 0, 0x1234, 1, 1) + b'x' * 16
udp = struct.pack('!HHHH', 4000, 7, 8 + 4, 0x4242) + b'oops'
frames = [
    eth(0x0800),                                  # IPv4 with no header at all
    eth(0x0800) + ip(b'y' * 8, 17, good=False),   # bad IPv4 checksum
    eth(0x0800) + ip(b'y' * 8, 17, ihl=4),        # header length below 5 words
    eth(0x0800) + ip(b'y' * 8, 17, total=1000),   # total length beyond the frame
    eth(0x0800) + ip(b'y' * 8, 17, version=6),    # version 6 under EtherType IPv4
    eth(0x0806) + b'\x00\x01\x08\x00\x06',        # ARP cut short
    eth(0x0800) + ip(icmp, 1),                    # ICMP echo with a wrong checksum
    eth(0x0800) + ip(udp, 17),                    # UDP with a wrong checksum
    eth(0x88b5) + b'z' * 46,                      # an EtherType nobody handles
    eth(0x0800, dst=bytes.fromhex('02aabbccddee')) + ip(b'y' * 8, 17),  # not our MAC
]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('{tap_name}', 0))
for f in frames:
    s.send(f)
"#
    );
    let send = ns
        .exec(&["python3", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    run_until_exit(&mut platform, send);
    // Let the last frames arrive, then check that the host still works.
    platform
        .run(Some(StdDuration::from_millis(300)), |_| false)
        .unwrap();
    let ping = ns
        .exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.79.0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_until_exit(&mut platform, ping);
    assert!(out.contains("2 received"), "{out}");

    let stats = platform.node().stats();
    let drops = |instance: vipe_rt::InstanceId, reason: &str| {
        stats
            .drops
            .get(&(Some(instance), reason))
            .copied()
            .unwrap_or(0)
    };
    let ipv4 = host.ipv4.id();
    let ethernet = host.link.ethernet.id();
    let expected = [
        (ipv4, "truncated header", 1),
        (ipv4, "bad IPv4 checksum", 1),
        (ipv4, "header field out of range", 1),
        (ipv4, "inconsistent header length field", 1),
        (ipv4, "unexpected header field value", 1),
        (host.link.arp.id(), "truncated header", 1),
        (host.icmp.id(), "bad ICMP checksum", 1),
        (host.udp.id(), "bad UDP checksum", 1),
        (ethernet, "not addressed to this interface", 1),
        (ethernet, "no protocol for this EtherType", 1),
    ];
    for (instance, reason, count) in expected {
        assert_eq!(
            drops(instance, reason),
            count,
            "{reason:?} at {instance:?}; all drops: {:?}",
            stats.drops
        );
    }
    assert_eq!(
        stats.drops.values().sum::<u64>(),
        expected.len() as u64,
        "a drop nobody expected: {:?}",
        stats.drops
    );
    assert!(platform.node().faults().is_empty());
    assert_eq!(platform.stats().receive_errors, 0);
    assert_eq!(
        platform.node().protocol(echo).unwrap().echoed,
        0,
        "a datagram with a bad checksum was echoed"
    );
}

/// A VIPE TCP host downloads 8 MB from a kernel HTTP server over a TAP with offloads: the
/// kernel hands over 64 KB TCP segments with partial checksums, which IPv4 cuts into
/// ordinary segments before TCP (which knows nothing of offloads) sees them. Bytes and
/// SHA-256 equal.
#[test]
fn a_vipe_tcp_host_downloads_from_the_kernel_over_a_tap_with_offloads() {
    use vipe_examples::tcphost::{self, TcpHostConfig};
    use vipe_protocols::apps::FetchOutcome;
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-tso-{id}"));
    let tap_name = format!("vtso{id}");
    let tap = open_tap(&tap_name, true);
    kernel_side(&ns, &tap_name, "10.76.0.1/24", None);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("offload-download");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let body: Vec<u8> = (0..8 << 17)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    std::fs::write(dir.join("www/big.bin"), &body).unwrap();
    let out = dir.join("vipe.out");
    let mut config = TcpHostConfig::new(Ipv4Addr::new(10, 76, 0, 2), 24);
    config.fetch = Some("http://10.76.0.1:8000/big.bin".into());
    config.out = Some(out.clone());
    let mut server = ns
        .exec(&[
            "python3",
            "-m",
            "http.server",
            "8000",
            "--bind",
            "10.76.0.1",
            "--directory",
            dir.join("www").to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = std::time::Instant::now() + StdDuration::from_secs(10);
    while std::time::Instant::now() < ready {
        let probe = ns
            .exec(&["sh", "-c", "ss -ltn | grep -q ':8000'"])
            .status()
            .unwrap();
        if probe.success() {
            break;
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
    let mut node = Node::new(NodeId(1));
    let dev = node.add_device(&tap_name, DeviceKind::Frame);
    let host = tcphost::build(&mut node, dev, &config).unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_tap(dev, tap).unwrap();
    platform
        .run(Some(StdDuration::from_secs(60)), |node| {
            host.outcome(node).is_some()
        })
        .unwrap();
    let outcome = host.outcome(platform.node());
    let _ = server.kill();
    let _ = server.wait();
    let segmented = platform
        .node()
        .stats()
        .counter_total("offloaded datagrams delivered as segments");
    let stats = platform.stats().clone();
    eprintln!("TCP over an offloaded TAP: {outcome:?}; {segmented} large segments cut; {stats:?}");
    assert_eq!(
        outcome,
        Some(FetchOutcome::Complete {
            bytes: body.len() as u64
        })
    );
    assert!(platform.node().faults().is_empty());
    drop(platform); // flushes the body file
    let got = std::fs::read(&out).unwrap();
    assert!(got == body, "the downloaded bytes differ");
    let sums = sh(&[
        "sha256sum",
        out.to_str().unwrap(),
        dir.join("www/big.bin").to_str().unwrap(),
    ]);
    let sums: Vec<&str> = sums.lines().map(|l| &l[..64]).collect();
    assert_eq!(sums[0], sums[1], "SHA-256 at both ends");
    assert!(stats.gso_received > 0, "the kernel sent large segments");
    assert!(segmented > 0, "IPv4 cut them before TCP");
    assert_eq!(stats.offload_errors, 0);
}
