//! The Chord of the simulator experiments deployed as 32 Linux processes on real UDP
//! sockets (127.0.0.1): a client puts 1,000 keys, a quarter of the processes are killed
//! with SIGKILL (never three ring neighbours, so every key keeps a live copy of its
//! three), the ring stabilises, and another client gets every key back with its value.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vipe_protocols::chord::Id;

const NODES: usize = 32;
const KEYS: u32 = 1000;

struct Process {
    child: Child,
    id: Id,
    addr: SocketAddr,
}

/// Starts a node and reads its first line: `node ID at ADDR`.
fn start(join: Option<SocketAddr>) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chord_node"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--seconds",
        "120",
        "--stabilize-ms",
        "300",
    ]);
    if let Some(j) = join {
        cmd.args(["--join", &j.to_string()]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chord_node starts");
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr: SocketAddr = first.trim().rsplit(' ').next().unwrap().parse().unwrap();
    Process {
        child,
        id: Id::of_node(addr, 0),
        addr,
    }
}

/// Runs a client to completion; returns its output.
fn client(op: &str, via: SocketAddr) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chord_node"))
        .args(["--listen", "127.0.0.1:0", "--join", &via.to_string()])
        .args([
            op,
            &KEYS.to_string(),
            "--seconds",
            "60",
            "--stabilize-ms",
            "300",
        ])
        .output()
        .expect("client runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{op} client failed:\n{text}");
    text
}

#[test]
fn thirty_two_processes_keep_every_key_through_sigkill_of_a_quarter() {
    let started = Instant::now();
    let mut nodes = vec![start(None)];
    let first = nodes[0].addr;
    for _ in 1..NODES {
        nodes.push(start(Some(first)));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(6));

    let put = client("--put", nodes[5].addr);
    let summary = put.lines().last().unwrap_or_default().to_string();
    assert!(summary.contains(&format!("{KEYS} ok")), "puts: {summary}");

    // Kill every fourth node in ring order: a quarter, never three neighbours.
    let mut order: Vec<usize> = (0..NODES).collect();
    order.sort_by_key(|&i| nodes[i].id);
    let victims: Vec<usize> = order.iter().copied().skip(1).step_by(4).collect();
    assert_eq!(victims.len(), NODES / 4);
    for &v in &victims {
        nodes[v].child.kill().unwrap(); // SIGKILL: no leave, no hand-over
        nodes[v].child.wait().unwrap();
    }
    std::thread::sleep(Duration::from_secs(8));

    let survivor = (0..NODES).find(|i| !victims.contains(i)).unwrap();
    let get = client("--get", nodes[survivor].addr);
    let summary = get.lines().last().unwrap_or_default().to_string();
    let wrong = get.lines().filter(|l| l.contains("WRONG-VALUE")).count();
    eprintln!(
        "{NODES} processes, {} killed; puts: {}; gets: {summary}; {:.1} s",
        victims.len(),
        put.lines().last().unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(wrong, 0, "{get}");
    assert!(
        summary.contains(&format!("{KEYS} ok")),
        "gets: {summary}\n{get}"
    );

    for (i, n) in nodes.iter_mut().enumerate() {
        if !victims.contains(&i) {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }
}
