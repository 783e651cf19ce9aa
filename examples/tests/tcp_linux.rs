//! VIPE TCP against the Linux kernel's TCP over a TAP device, in a network namespace
//! this test creates: kernel `curl` downloads 50 MB from the `tcphost` node's HTTP
//! server, and the `tcphost` node downloads 50 MB from a kernel `python3 -m http.server`,
//! SHA-256 equal, also with `tc netem` 1% loss on the kernel side; tshark reads our SYN
//! and SYN-ACK options from the capture. With TCP segmentation offload (`tcphost
//! --offload`) kernel `curl` downloads 20 MB, SHA-256 equal (also with 1% loss), and
//! the capture holds the 64 KB segments the TAP took whole. Needs root, curl, python3,
//! tc, tshark and sha256sum (CI has them); elsewhere it says so loudly and skips.
//!
//! The node is built by `vipe_examples::tcphost::build`, the same code the `tcphost`
//! binary runs. `VIPE_TCP_LINUX_MB` changes the transfer size (default 50).
#![cfg(target_os = "linux")]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use vipe_examples::tcphost::{self, TcpHost, TcpHostConfig};
use vipe_platforms::linux::{LinuxPlatform, TapDevice, TapOffloads};
use vipe_protocols::apps::FetchOutcome;
use vipe_rt::prelude::*;

mod support;
use support::{Netns, is_root, sh};

const KERNEL: &str = "10.79.0.1";
const VIPE: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether to skip: true, after saying so loudly, without root or a needed tool.
fn skip() -> bool {
    let root = is_root();
    let missing: Vec<&str> = ["curl", "python3", "tc", "tshark", "sha256sum", "ip"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if root && missing.is_empty() {
        return false;
    }
    eprintln!(
        "\n!!! SKIPPED: tcp_linux needs root and {missing:?} (root: {root}). CI runs as root with them. !!!\n"
    );
    true
}

fn sha256(path: &Path) -> String {
    sh(&["sha256sum", path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn megabytes() -> usize {
    std::env::var("VIPE_TCP_LINUX_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
}

/// A file of `mb` MiB of pseudo-random bytes in `dir`.
fn big_file(dir: &Path, mb: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("big.bin");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(mb << 20);
    for _ in 0..(mb << 20) / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

struct Rig {
    ns: Netns,
    nft_loss: bool,
    tap: String,
    platform: LinuxPlatform,
    host: TcpHost,
    pcap: PathBuf,
}

/// The VIPE host on a fresh TAP whose kernel side is in a fresh namespace as 10.79.0.1/24,
/// optionally with netem `loss` (percent) on the kernel's egress.
fn rig(name: &str, config: TcpHostConfig, loss: Option<u32>) -> Rig {
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-{name}-{id}"));
    let tap_name = format!("vt{}{id}", &name[..name.len().min(5)]);
    let tap = if config.tso {
        let tap = TapDevice::open_with_offloads(&tap_name, TapOffloads::ALL)
            .expect("a TAP device with offloads");
        assert!(
            tap.offloads().is_some_and(|o| o.tso),
            "the kernel refused TSO on the TAP"
        );
        tap
    } else {
        TapDevice::open(&tap_name).expect("a TAP device")
    };
    sh(&["ip", "link", "set", &tap_name, "netns", &ns.0]);
    ns.run(&[
        "ip",
        "addr",
        "add",
        &format!("{KERNEL}/24"),
        "dev",
        &tap_name,
    ]);
    ns.run(&["ip", "link", "set", &tap_name, "up"]);
    ns.run(&["ip", "link", "set", "lo", "up"]);
    let nft_loss = loss.is_some_and(|loss| !add_loss(&ns, &tap_name, loss));
    let mut node = Node::new(NodeId(1));
    let dev = node.add_device(&tap_name, DeviceKind::Frame);
    let host = tcphost::build(&mut node, dev, &config).unwrap();
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_tap(dev, tap).unwrap();
    let pcap = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tcp-{name}.pcap"));
    platform.capture(dev, &pcap).unwrap();
    Rig {
        ns,
        nft_loss,
        tap: tap_name,
        platform,
        host,
        pcap,
    }
}

/// Drops `percent`% of what the kernel sends on `tap`: `tc netem` where the kernel has
/// it, else an nftables rule with a random number generator (kernels built without
/// netem, like this CI's).
fn add_loss(ns: &Netns, tap: &str, percent: u32) -> bool {
    let netem = ns
        .exec(&[
            "tc",
            "qdisc",
            "add",
            "dev",
            tap,
            "root",
            "netem",
            "loss",
            &format!("{percent}%"),
        ])
        .output()
        .unwrap();
    if netem.status.success() {
        return true;
    }
    eprintln!(
        "tc netem unavailable ({}); dropping {percent}% with nftables instead",
        String::from_utf8_lossy(&netem.stderr).trim()
    );
    ns.run(&["nft", "add", "table", "inet", "vipe"]);
    ns.run(&[
        "nft",
        "add chain inet vipe out { type filter hook output priority 0 ; }",
    ]);
    ns.run(&[
        "nft",
        &format!("add rule inet vipe out oifname \"{tap}\" numgen random mod 100 < {percent} counter drop"),
    ]);
    false
}

/// Packets the nftables loss rule dropped.
fn nft_dropped(ns: &Netns) -> u64 {
    let out = ns
        .exec(&["nft", "list", "chain", "inet", "vipe", "out"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// With loss configured through nftables, checks that it dropped something.
fn check_losses(r: &Rig, name: &str) {
    if r.nft_loss {
        let dropped = nft_dropped(&r.ns);
        eprintln!("{name}: the kernel side dropped {dropped} packets");
        assert!(dropped > 0, "{name}: the loss rule dropped nothing");
    }
}

/// Runs the platform until `child` exits (`limit` at most); returns its output.
fn run_until_exit(platform: &mut LinuxPlatform, mut child: Child, limit: StdDuration) -> String {
    let deadline = StdInstant::now() + limit;
    while child.try_wait().ok().flatten().is_none() && StdInstant::now() < deadline {
        platform
            .run(Some(StdDuration::from_millis(50)), |_| false)
            .unwrap();
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kernel-side command failed: {text}");
    text
}

fn kernel_curl_downloads_from_vipe(name: &str, loss: Option<u32>) {
    if skip() {
        return;
    }
    kernel_curl_downloads(name, loss, megabytes(), false);
}

/// Kernel `curl` downloads `mb` MiB from VIPE (with TCP segmentation offload if `tso`);
/// returns the capture.
fn kernel_curl_downloads(name: &str, loss: Option<u32>, mb: usize, tso: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tcp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let file = big_file(&dir.join("www"), mb);
    let out = dir.join("curl.out");
    let mut config = TcpHostConfig::new(VIPE, 24);
    config.http_root = Some(dir.join("www"));
    config.port = 8080;
    config.tso = tso;
    let mut r = rig(name, config, loss);
    let started = StdInstant::now();
    let curl =
        r.ns.exec(&[
            "curl",
            "-sS",
            "--max-time",
            "300",
            "-o",
            out.to_str().unwrap(),
            "-w",
            "%{size_download} %{speed_download}",
            &format!("http://{VIPE}:8080/big.bin"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let report = run_until_exit(&mut r.platform, curl, StdDuration::from_secs(300));
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: kernel curl got {mb} MiB from VIPE in {secs:.2} s ({:.0} Mbit/s); curl says {report}",
        (mb << 20) as f64 * 8.0 / secs / 1e6
    );
    assert_eq!(sha256(&out), sha256(&file), "{name}: the bytes differ");
    check_losses(&r, name);
    // Let the close finish, then check the SYN-ACK's options with tshark.
    let _ = r
        .platform
        .run(Some(StdDuration::from_millis(300)), |_| false);
    let _ = &r.tap;
    let stats = r.platform.stats().clone();
    assert_eq!(
        (stats.send_errors, stats.offload_errors),
        (0, 0),
        "{name}: TAP writes failed or offloads were refused"
    );
    drop(r.platform);
    check_syn_options(&r.pcap, "SYN-ACK");
    r.pcap
}

fn vipe_downloads_from_kernel(name: &str, loss: Option<u32>) {
    if skip() {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tcp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let mb = megabytes();
    let file = big_file(&dir.join("www"), mb);
    let out = dir.join("vipe.out");
    let mut config = TcpHostConfig::new(VIPE, 24);
    config.fetch = Some(format!("http://{KERNEL}:8000/big.bin"));
    config.out = Some(out.clone());
    // The node starts (and connects) when the platform first runs: start the server first.
    let mut r = rig(name, config, loss);
    let mut server =
        r.ns.exec(&[
            "python3",
            "-m",
            "http.server",
            "8000",
            "--bind",
            KERNEL,
            "--directory",
            dir.join("www").to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the server to listen.
    let ready = StdInstant::now() + StdDuration::from_secs(10);
    while StdInstant::now() < ready {
        let probe =
            r.ns.exec(&["sh", "-c", "ss -ltn | grep -q ':8000'"])
                .status()
                .unwrap();
        if probe.success() {
            break;
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
    let started = StdInstant::now();
    let host = r.host;
    r.platform
        .run(Some(StdDuration::from_secs(300)), |node| {
            host.outcome(node).is_some()
        })
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let outcome = host.outcome(r.platform.node());
    let _ = r
        .platform
        .run(Some(StdDuration::from_millis(300)), |_| false);
    let _ = server.kill();
    let _ = server.wait();
    eprintln!(
        "{name}: VIPE fetched {mb} MiB from the kernel in {secs:.2} s ({:.0} Mbit/s): {outcome:?}",
        (mb << 20) as f64 * 8.0 / secs / 1e6
    );
    assert_eq!(
        outcome,
        Some(FetchOutcome::Complete {
            bytes: (mb << 20) as u64
        }),
        "{name}"
    );
    check_losses(&r, name);
    drop(r.platform); // flushes the body file and the capture
    assert_eq!(sha256(&out), sha256(&file), "{name}: the bytes differ");
    check_syn_options(&r.pcap, "SYN");
}

/// tshark reads MSS, window scale, SACK-permitted and timestamps on our SYN (or SYN-ACK).
fn check_syn_options(pcap: &Path, which: &str) {
    let filter = match which {
        "SYN" => format!("ip.src=={VIPE} && tcp.flags.syn==1 && tcp.flags.ack==0"),
        _ => format!("ip.src=={VIPE} && tcp.flags.syn==1 && tcp.flags.ack==1"),
    };
    let out = sh(&[
        "tshark",
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        &filter,
        "-T",
        "fields",
        "-e",
        "tcp.options.mss_val",
        "-e",
        "tcp.options.wscale.shift",
        "-e",
        "tcp.options.sack_perm",
        "-e",
        "tcp.options.timestamp.tsval",
    ]);
    let line = out
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no {which} from VIPE in {}", pcap.display()));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 4, "{which}: {line:?}");
    assert_eq!(fields[0], "1460", "{which} MSS: {line:?}");
    assert_eq!(fields[1], "7", "{which} window shift for 4 MiB: {line:?}");
    assert!(!fields[2].is_empty(), "{which} SACK-permitted: {line:?}");
    assert!(!fields[3].is_empty(), "{which} timestamps: {line:?}");
    check_capture(pcap);
}

/// tshark on the whole capture: every frame VIPE sent is well formed with verified, good
/// IPv4, TCP and ICMP checksums; no frame either side sent is malformed. (A TSO segment,
/// larger than the MTU, carries by design only the partial TCP checksum the kernel
/// completes per segment: its TCP checksum, and the expert error tshark raises for it,
/// are not held to; its IPv4 one is.)
///
/// Frames the kernel sent are not held to their checksums. The kernel may leave a TCP
/// checksum to offload (`CHECKSUM_PARTIAL` on the TAP/veth path) or fill it by
/// incremental arithmetic, and under load a capture has shown a kernel frame with
/// checksum 0xFFFF, the other ones'-complement zero, which tshark calls bad (RFC 1624
/// says 0x0000). Our stack verifies each segment it receives anyway (MUST-3), so a
/// kernel frame with a truly bad checksum would be dropped and counted, not accepted.
/// Frames VIPE sent get no such allowance: each one's checksum is recomputed by tshark
/// and must be "good" (status 1) — "unverified" fails too, and 0xFFFF would fail.
fn check_capture(pcap: &Path) {
    let m = TcpHostConfig::new(VIPE, 24).mac; // the tests' hosts keep this MAC
    let vipe_mac = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    );
    // Every frame we sent, TCP or not, with an expert error or any checksum not verified
    // good; and any malformed frame, whoever sent it.
    let filter = format!(
        "_ws.malformed || (eth.src=={vipe_mac} && ((ip && ip.checksum.status!=1) \
         || (frame.len <= 1514 && (_ws.expert.severity==error \
             || (tcp && tcp.checksum.status!=1) || (icmp && icmp.checksum.status!=1)))))"
    );
    let bad = sh(&[
        "tshark",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-Y",
        &filter,
    ]);
    assert!(
        bad.trim().is_empty(),
        "malformed frames, or frames VIPE sent with bad checksums:\n{bad}"
    );
    // The filter above does see our segments (the MAC is right, tshark verifies them):
    // the handshake, among the first frames, has ours verified good. (Only the first
    // frames: another pass over a 50 MB capture costs ~15 s.)
    let first = sh(&[
        "tshark",
        "-r",
        pcap.to_str().unwrap(),
        "-c",
        "20",
        "-o",
        "tcp.check_checksum:TRUE",
        "-Y",
        &format!("eth.src=={vipe_mac} && tcp.checksum.status==1"),
    ]);
    assert!(
        first.lines().count() > 0,
        "no verified TCP segment from VIPE in {}",
        pcap.display()
    );
}

#[test]
fn kernel_curl_downloads_50_mb_from_vipe() {
    kernel_curl_downloads_from_vipe("curl", None);
}

#[test]
fn kernel_curl_downloads_from_vipe_with_1_percent_loss() {
    kernel_curl_downloads_from_vipe("curlloss", Some(1));
}

#[test]
fn kernel_curl_downloads_from_vipe_with_tso() {
    if skip() {
        return;
    }
    let pcap = kernel_curl_downloads("tso", None, 20, true);
    // Our TCP segments larger than an Ethernet frame: written to the TAP whole (the
    // capture records a frame once the write succeeded) and taken by the kernel.
    let m = TcpHostConfig::new(VIPE, 24).mac;
    let vipe_mac = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    );
    let lens = sh(&[
        "tshark",
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        &format!("eth.src=={vipe_mac} && tcp && frame.len > 1514"),
        "-T",
        "fields",
        "-e",
        "frame.len",
    ]);
    let lens: Vec<usize> = lens.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let large: usize = lens.iter().sum();
    eprintln!(
        "tso: {} segments larger than a frame, {} bytes, largest {:?}",
        lens.len(),
        large,
        lens.iter().max()
    );
    assert!(
        large > 10 << 20,
        "only {large} bytes left in segments larger than a frame"
    );
    assert!(lens.iter().all(|&l| l <= 14 + 65535), "{lens:?}");
}

#[test]
fn kernel_curl_downloads_from_vipe_with_tso_and_1_percent_loss() {
    if skip() {
        return;
    }
    kernel_curl_downloads("tsoloss", Some(1), 20, true);
}

#[test]
fn vipe_downloads_50_mb_from_kernel_http_server() {
    vipe_downloads_from_kernel("fetch", None);
}

#[test]
fn vipe_downloads_from_kernel_with_1_percent_loss() {
    vipe_downloads_from_kernel("fetchloss", Some(1));
}
