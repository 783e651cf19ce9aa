//! The VIPE stack on a TAP device against the Linux kernel's own stack, in a network
//! namespace this test creates: kernel `ping` → VIPE host, VIPE pinger → kernel, 4000-byte
//! pings both ways (fragmentation and reassembly against the kernel's), and a UDP echo
//! answering a kernel-side client. Needs root (CI runs as root); elsewhere it says so
//! loudly and skips.
#![cfg(target_os = "linux")]

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use vipe_platforms::linux::{LinuxPlatform, TapDevice};
use vipe_protocols::apps::{Pinger, PingerConfig, PingerPort, UdpEcho, UdpEchoPort};
use vipe_protocols::icmp::IcmpPort;
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::udp::UdpPort;
use vipe_rt::prelude::*;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const VIPE: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc_geteuid() == 0
    }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(name: &str) -> Self {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        sh(&["ip", "netns", "add", name]);
        Netns(name.to_owned())
    }

    fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).args(args);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn run_until_exit(platform: &mut LinuxPlatform, child: Child) -> String {
    run_until_all_exit(platform, vec![child]).remove(0)
}

/// Runs the platform until every child has exited (20 s at most); returns their output.
fn run_until_all_exit(platform: &mut LinuxPlatform, mut children: Vec<Child>) -> Vec<String> {
    platform
        .run(Some(StdDuration::from_secs(20)), |_| {
            children
                .iter_mut()
                .all(|c| c.try_wait().ok().flatten().is_some())
        })
        .unwrap();
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

/// Moves `tap` into `ns` with `addr`, up, with a default route via `gateway` if given.
fn kernel_side(ns: &Netns, tap: &str, addr: &str, gateway: Option<&str>) {
    sh(&["ip", "link", "set", tap, "netns", &ns.0]);
    let mut cmds = vec![
        vec!["ip", "addr", "add", addr, "dev", tap],
        vec!["ip", "link", "set", tap, "up"],
        vec!["ip", "link", "set", "lo", "up"],
    ];
    if let Some(gw) = gateway {
        cmds.push(vec!["ip", "route", "add", "default", "via", gw]);
    }
    for cmd in cmds {
        let out = ns.exec(&cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_kernel_and_a_vipe_host_ping_and_echo_each_other_over_tap() {
    if !is_root() {
        eprintln!(
            "\n!!! SKIPPED: linux_interop needs root (TAP devices, network namespaces). Run as root; CI does. !!!\n"
        );
        return;
    }
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-tap-{id}"));
    let tap_name = format!("vtap{id}");
    let tap = TapDevice::open(&tap_name).expect("a TAP device");
    kernel_side(&ns, &tap_name, "10.77.0.1/24", None);

    let mut node = Node::new(NodeId(1));
    let dev = node.add_device(&tap_name, DeviceKind::Frame);
    let host = stack::host(
        &mut node,
        dev,
        [0x02, 0, 0, 0, 0x77, 0x02],
        Interface {
            addr: VIPE,
            prefix_len: 24,
            mtu: 1500,
        },
        None,
    )
    .unwrap();
    let echo = node.add(UdpEcho::default());
    node.connect(host.udp.port(UdpPort::App(7)), echo.port(UdpEchoPort::Udp))
        .unwrap();
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

    // Kernel → VIPE: ping, small and 4000 bytes (fragmented by the kernel, reassembled by
    // VIPE; the reply is fragmented by VIPE and reassembled by the kernel).
    let ping = ns
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_until_exit(&mut platform, ping);
    assert!(out.contains("3 received"), "{out}");
    let big = ns
        .exec(&[
            "ping",
            "-c",
            "2",
            "-i",
            "0.2",
            "-s",
            "4000",
            "-W",
            "2",
            "10.77.0.2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_until_exit(&mut platform, big);
    assert!(
        out.contains("2 received") && out.contains("4008 bytes from 10.77.0.2"),
        "{out}"
    );

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
}

/// Two namespaces whose kernels route through a VIPE IPv4 router on two TAP devices:
/// kernel-to-kernel ping, and a 10 MB TCP transfer (kernel TCP at both ends) with equal
/// SHA-256 at both ends.
#[test]
fn two_kernels_route_through_a_vipe_router() {
    if !is_root() {
        eprintln!(
            "\n!!! SKIPPED: linux_interop needs root (TAP devices, network namespaces). Run as root; CI does. !!!\n"
        );
        return;
    }
    let id = std::process::id() % 10000;
    let (ns1, ns2) = (
        Netns::new(&format!("vipe-r1-{id}")),
        Netns::new(&format!("vipe-r2-{id}")),
    );
    let (tap1, tap2) = (format!("vra{id}"), format!("vrb{id}"));
    let (t1, t2) = (
        TapDevice::open(&tap1).unwrap(),
        TapDevice::open(&tap2).unwrap(),
    );
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

    let server = "import socket,hashlib; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); \
                  s.bind(('10.78.2.1',5001)); s.listen(1); s.settimeout(15); c,_=s.accept(); c.settimeout(15); h=hashlib.sha256(); n=0\n\
while True:\n    d=c.recv(65536)\n    if not d: break\n    h.update(d); n+=len(d)\n\
print(n, h.hexdigest())";
    let client = "import socket,hashlib,random,time; r=random.Random(7); data=r.randbytes(10*1024*1024); \
                  time.sleep(0.3); s=socket.create_connection(('10.78.2.1',5001),timeout=15); s.sendall(data); s.close(); \
                  print(len(data), hashlib.sha256(data).hexdigest())";
    let server = ns2
        .exec(&["python3", "-c", server])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = ns1
        .exec(&["python3", "-c", client])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let outs = run_until_all_exit(&mut platform, vec![server, client]);
    assert_eq!(
        outs[0].trim(),
        outs[1].trim(),
        "bytes and SHA-256 at both ends"
    );
    assert!(outs[0].starts_with("10485760 "), "{}", outs[0]);
    let forwarded: u64 = platform.node().stats().counter_total("datagrams forwarded");
    assert!(
        forwarded > 7000,
        "10 MB is more than 7000 full segments: {forwarded}"
    );
    assert!(platform.node().faults().is_empty());
}
