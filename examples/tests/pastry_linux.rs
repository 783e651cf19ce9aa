//! The Pastry of the simulator experiments deployed as 32 Linux processes on real UDP
//! sockets (127.0.0.1): the nodes join one by one, a quarter of them are killed with
//! SIGKILL, and then every live node routes a message to every node's identifier, the
//! dead ones' included; each message must be delivered to the live node numerically
//! closest to its key.

#![cfg(target_os = "linux")]

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vipe_protocols::pastry::Id;

const NODES: usize = 32;
/// When (after the first node's start) the quarter is killed, and the routes start.
const KILL_AT: f64 = 9.0;
const ROUTE_AT: f64 = 13.0;
const END_AT: f64 = 18.0;

/// A base port with `NODES` free ports after it.
fn free_ports() -> u16 {
    let mut base = 20_000 + (std::process::id() % 20_000) as u16;
    loop {
        let free = (0..NODES as u16).all(|k| UdpSocket::bind(("127.0.0.1", base + k)).is_ok());
        if free {
            return base;
        }
        base = if base > 60_000 {
            20_000
        } else {
            base + NODES as u16
        };
    }
}

#[test]
fn thirty_two_processes_deliver_every_message_to_the_closest_live_node_after_sigkill() {
    let base = free_ports();
    let addrs: Vec<SocketAddr> = (0..NODES as u16)
        .map(|k| SocketAddr::from(([127, 0, 0, 1], base + k)))
        .collect();
    let targets = format!("127.0.0.1:{}-{}", base, base + NODES as u16 - 1);
    let t0 = Instant::now();
    let mut children: Vec<Child> = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let since = t0.elapsed().as_secs_f64();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pastry_node"));
        cmd.args(["--listen", &addr.to_string()])
            .args(["--route-to", &targets])
            .args(["--route-after", &format!("{:.3}", ROUTE_AT - since)])
            .args(["--seconds", &format!("{:.3}", END_AT - since)])
            .args(["--keepalive-ms", "500", "--timeout-ms", "200"]);
        if i > 0 {
            // Join through a node already in (any: every node is equally near here).
            cmd.args(["--join", &addrs[i / 2].to_string()]);
        }
        children.push(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("pastry_node starts"),
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    let ids: Vec<Id> = addrs.iter().map(|a| Id::of_addr(*a)).collect();
    // Kill every fourth node in identifier order: a quarter, spread round the circle.
    let mut order: Vec<usize> = (0..NODES).collect();
    order.sort_by_key(|&i| ids[i]);
    let victims: Vec<usize> = order.iter().copied().skip(1).step_by(4).collect();
    assert_eq!(victims.len(), NODES / 4);
    std::thread::sleep(Duration::from_secs_f64(
        (KILL_AT - t0.elapsed().as_secs_f64()).max(0.0),
    ));
    for &v in &victims {
        children[v].kill().unwrap(); // SIGKILL: no goodbye
        children[v].wait().unwrap();
    }
    let mut live: Vec<(Id, SocketAddr)> = (0..NODES)
        .filter(|i| !victims.contains(i))
        .map(|i| (ids[i], addrs[i]))
        .collect();
    live.sort();
    let closest = |key: Id| {
        live.iter()
            .copied()
            .min_by(|a, b| {
                key.ring_distance(a.0)
                    .cmp(&key.ring_distance(b.0))
                    .then(a.0.cmp(&b.0))
            })
            .unwrap()
    };
    let (mut delivered, mut wrong, mut hops) = (0usize, Vec::new(), 0u64);
    for (i, child) in children.iter_mut().enumerate() {
        if victims.contains(&i) {
            continue;
        }
        let status = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(status.success(), "node {i} failed: {err}\n{out}");
        let mut mine = 0;
        for line in out.lines().filter(|l| l.starts_with("route ")) {
            // route KEY delivered-by ID ADDR hops H timeouts T
            let f: Vec<&str> = line.split_whitespace().collect();
            let key = Id::new(u128::from_str_radix(f[1], 16).unwrap());
            let by: SocketAddr = f[4].parse().unwrap();
            hops += f[6].parse::<u64>().unwrap();
            mine += 1;
            if by != closest(key).1 {
                wrong.push(format!(
                    "node {i}: {line} (closest live: {})",
                    closest(key).1
                ));
            }
        }
        assert_eq!(
            mine, NODES,
            "node {i} saw {mine} of {NODES} messages delivered:\n{out}"
        );
        delivered += mine;
    }
    eprintln!(
        "{NODES} processes, {} killed; {delivered} messages delivered, {} to the wrong node, mean {:.2} hops; {:.1} s",
        victims.len(),
        wrong.len(),
        hops as f64 / delivered as f64,
        t0.elapsed().as_secs_f64()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
