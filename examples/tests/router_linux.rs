//! The `router` and `pinghost` example binaries built for Linux, against kernels in
//! network namespaces, started the way the README shows: the binary creates its TAP
//! devices and waits until they are up while the test (the user) moves them into
//! namespaces and brings them up, so no frame is written to a down device (no `EIO`
//! warning). Through the router: a first-contact 65,000-byte kernel ping (44 fragments
//! queued while ARP resolves the far side), and path-MTU discovery — a `ping -M do`
//! larger than `--mtu` gets "Frag needed" with the MTU from the router's address on the
//! sender's side, and the sender's kernel caches that MTU. The router's exit report
//! names each drop by protocol and reason. Needs root (CI runs as root); elsewhere it
//! says so loudly and skips.
//!
//! `cargo test -p vipe-examples --no-default-features --features linux --test router_linux`
#![cfg(target_os = "linux")]

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{Netns, is_root, kernel_side, sh};

fn skip_unless_root() -> bool {
    if is_root() {
        return false;
    }
    eprintln!(
        "\n!!! SKIPPED: router_linux needs root (TAP devices, network namespaces). Run as root; CI does. !!!\n"
    );
    true
}

/// Waits until the example has created the TAP device `name` (10 s at most).
fn wait_for_device(name: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let shown = Command::new("ip")
            .args(["link", "show", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if shown.success() {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the example exited ({status}) before creating {name}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the example did not create TAP {name} within 10 s");
}

/// Runs `args` in `ns`; returns its output (stdout then stderr) whatever its status.
fn output_in(ns: &Netns, args: &[&str]) -> String {
    let out = ns.exec(args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stops the example gracefully (SIGTERM) and returns its stdout and stderr.
fn stop(child: Child) -> (String, String) {
    sh(&["kill", "-TERM", &child.id().to_string()]);
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    assert!(status.success(), "the example failed: {stdout}{stderr}");
    (stdout, stderr)
}

#[test]
fn router_binary_answers_path_mtu_discovery_and_carries_a_first_contact_65000_byte_ping() {
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let (ns1, ns2) = (
        Netns::new(&format!("vipe-pm1-{id}")),
        Netns::new(&format!("vipe-pm2-{id}")),
    );
    let (tap1, tap2) = (format!("vpma{id}"), format!("vpmb{id}"));
    let mtu = format!("{tap2}=1000");
    let mut router = Command::new(env!("CARGO_BIN_EXE_router"))
        .args(["--tap", &tap1, "--tap", &tap2, "--mtu", &mtu])
        .args(["--seconds", "60"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_device(&tap1, &mut router);
    wait_for_device(&tap2, &mut router);
    // Set up while the router waits for its links.
    std::thread::sleep(Duration::from_millis(300));
    kernel_side(&ns1, &tap1, "10.78.1.1/24", Some("10.78.1.2"));
    kernel_side(&ns2, &tap2, "10.78.2.1/24", Some("10.78.2.2"));

    // First contact: neither the router nor the kernels know any neighbour yet; the
    // request's 44 fragments (re-fragmented to the 1000-byte MTU) wait in the router's
    // ARP queue for 10.78.2.1 to resolve.
    let big = output_in(
        &ns1,
        &["ping", "-c", "1", "-s", "65000", "-W", "5", "10.78.2.1"],
    );
    assert!(
        big.contains("65008 bytes from 10.78.2.1") && big.contains("1 received"),
        "the first 65,000-byte ping across the router: {big}"
    );

    // Path MTU: 1428 bytes with DF set do not fit the far side's 1000.
    let pmtu = output_in(
        &ns1,
        &[
            "ping",
            "-c",
            "1",
            "-M",
            "do",
            "-s",
            "1400",
            "-W",
            "2",
            "10.78.2.1",
        ],
    );
    let lower = pmtu.to_lowercase();
    assert!(
        pmtu.contains("From 10.78.1.2 ")
            && lower.contains("frag needed")
            && lower.contains("mtu = 1000"),
        "\"Frag needed\" from the router's address on the sender's side, with the MTU: {pmtu}"
    );
    let route = output_in(&ns1, &["ip", "route", "get", "10.78.2.1"]);
    assert!(
        route.contains("mtu 1000"),
        "the sender's kernel learned the path MTU: {route}"
    );

    let (report, log) = stop(router);
    eprintln!("{big}\n{pmtu}\n{route}\n{report}");
    assert!(
        report.contains("(MTU 1500)") && report.contains("(MTU 1000)"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.trim() == "ipv4: fragmentation needed but DF set: 1"),
        "one line per (protocol, reason) with its count: {report}"
    );
    assert!(
        !log.contains("WARN") && !log.contains("write failed"),
        "nothing written before the links were up: {log}"
    );
}

#[test]
fn pinghost_binary_waits_for_its_link_then_pings_the_kernel() {
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-ph-{id}"));
    let tap = format!("vph{id}");
    let mut host = Command::new(env!("CARGO_BIN_EXE_pinghost"))
        .args(["--tap", &tap, "--count", "3", "--seconds", "3"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_device(&tap, &mut host);
    std::thread::sleep(Duration::from_millis(500));
    kernel_side(&ns, &tap, "10.77.0.1/24", None);
    let out = host.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("3 of 3 answered"), "{stdout}{stderr}");
    assert!(
        !stderr.contains("WARN") && !stderr.contains("write failed"),
        "nothing written before the link was up: {stderr}"
    );
}

#[test]
fn a_taps_state_is_read_in_the_namespace_it_was_moved_to() {
    if skip_unless_root() {
        return;
    }
    let id = std::process::id() % 10000;
    let ns = Netns::new(&format!("vipe-up-{id}"));
    let name = format!("vup{id}");
    let tap = vipe_platforms::linux::TapDevice::open(&name).unwrap();
    assert!(!tap.is_up().unwrap(), "a new TAP is down");
    sh(&["ip", "link", "set", &name, "netns", &ns.0]);
    assert!(!tap.is_up().unwrap(), "still down in its new namespace");
    ns.run(&["ip", "link", "set", &name, "up"]);
    assert!(tap.is_up().unwrap(), "up in the namespace it is in");
    assert!(tap.wait_until_up(Duration::from_millis(10)).unwrap());
    ns.run(&["ip", "link", "set", &name, "down"]);
    assert!(!tap.wait_until_up(Duration::from_millis(60)).unwrap());
}
