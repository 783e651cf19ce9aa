//! One Chord node on a real UDP socket (Linux): the same `Chord` protocol the simulator
//! experiments run.
//!
//! ```text
//! chord_node --listen 127.0.0.1:47000                           # start a ring
//! chord_node --listen 127.0.0.1:47001 --join 127.0.0.1:47000    # join it
//! chord_node --listen 127.0.0.1:0 --join 127.0.0.1:47000 --put 1000   # a client: put keys
//! chord_node --listen 127.0.0.1:0 --join 127.0.0.1:47000 --get 1000   # a client: get keys
//! ```
//!
//! A node runs until SIGINT/SIGTERM (it then leaves gracefully, handing its keys to its
//! successor) or `--seconds`. A client (`--put`/`--get`) joins only to route, owns no
//! keys, prints one line per outcome and exits 0 when every request was answered.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// A Chord node (or key-value client) on a UDP socket.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to bind (port 0: any).
    #[arg(long)]
    listen: SocketAddr,
    /// A node of the ring to join through; without it, start a new ring.
    #[arg(long)]
    join: Option<SocketAddr>,
    /// As a client: put keys key-0 … key-(N−1).
    #[arg(long, value_name = "N", conflicts_with = "get")]
    put: Option<u32>,
    /// As a client: get keys key-0 … key-(N−1).
    #[arg(long, value_name = "N")]
    get: Option<u32>,
    /// Mean stabilisation period (and fix_fingers, check_predecessor), ms.
    #[arg(long, default_value_t = 500)]
    stabilize_ms: u64,
    /// Successor-list length.
    #[arg(long, default_value_t = 8)]
    successors: usize,
    /// Copies of each key.
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Seconds to run at most.
    #[arg(long, default_value_t = 3600.0)]
    seconds: f64,
}

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    use std::net::UdpSocket;

    use vipe_examples::chord_kv::KvClient;
    use vipe_platforms::linux::LinuxPlatform;
    use vipe_protocols::chord::app::{AppOp, AppStatus};
    use vipe_protocols::chord::{Chord, ChordConfig, ChordPort};
    use vipe_rt::prelude::*;

    let args = Args::parse();
    let result = (|| -> Result<bool, String> {
        let socket =
            UdpSocket::bind(args.listen).map_err(|e| format!("binding {}: {e}", args.listen))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let client_op = match (args.put, args.get) {
            (Some(n), _) => Some((AppOp::Put, n)),
            (_, Some(n)) => Some((AppOp::Get, n)),
            _ => None,
        };
        if client_op.is_some() && args.join.is_none() {
            return Err("a client (--put/--get) needs --join ADDR".into());
        }
        let period = Duration::from_millis(args.stabilize_ms);
        let mut config = ChordConfig::new(addr);
        config.bootstrap = args.join;
        config.successors = args.successors;
        config.replicas = args.replicas;
        config.stabilize = period;
        config.fix_fingers = period;
        config.check_predecessor = period;
        config.client = client_op.is_some();
        let mut node = Node::new(NodeId(0));
        let dev = node.add_device("udp", DeviceKind::Datagram);
        let chord = node.add(Chord::new(config));
        node.attach(dev, chord.port(ChordPort::Net))
            .map_err(|e| e.to_string())?;
        let me = node.protocol(chord).ok_or("chord just added")?.me();
        println!("node {} at {addr}", me.id);
        let client = match client_op {
            Some((op, n)) => {
                // Give the join and the first finger rounds time before the requests.
                let kv = node.add(KvClient::new(op, n, 32, period.saturating_mul(6)));
                node.connect(
                    kv.port(vipe_examples::chord_kv::KvClientPort::Chord),
                    chord.port(ChordPort::App),
                )
                .map_err(|e| e.to_string())?;
                Some(kv)
            }
            None => None,
        };
        let mut platform = LinuxPlatform::new(node).map_err(|e| e.to_string())?;
        platform.add_udp(dev, socket).map_err(|e| e.to_string())?;
        let limit = Some(std::time::Duration::from_secs_f64(args.seconds.max(0.0)));
        platform
            .run(limit, |n: &Node| {
                client.is_some_and(|kv| n.protocol(kv).is_some_and(KvClient::done))
            })
            .map_err(|e| e.to_string())?;
        let node = platform.into_node();
        let Some(kv) = client else {
            let c = node.protocol(chord).ok_or("chord gone")?;
            println!("stopped: {} keys stored, {:?}", c.store().len(), c.stats);
            return Ok(true);
        };
        let kv = node.protocol(kv).ok_or("client gone")?;
        for r in &kv.replies {
            let status = match r.status {
                AppStatus::Ok => "ok",
                AppStatus::NotFound => "not-found",
                AppStatus::Failed => "failed",
            };
            let good = r.status != AppStatus::Ok
                || r.op != AppOp::Get
                || r.value == vipe_examples::chord_kv::value(r.tag);
            println!(
                "key-{} {status}{} hops {} timeouts {}",
                r.tag,
                if good { "" } else { " WRONG-VALUE" },
                r.hops,
                r.timeouts
            );
        }
        let ok = kv.with_status(AppStatus::Ok).count();
        println!(
            "{} of {} answered: {ok} ok, {} not found, {} failed",
            kv.replies.len(),
            client_op.map_or(0, |(_, n)| n),
            kv.with_status(AppStatus::NotFound).count(),
            kv.with_status(AppStatus::Failed).count()
        );
        Ok(kv.done())
    })();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    let _ = Args::parse();
    eprintln!("chord_node runs on Linux only");
    ExitCode::from(2)
}
