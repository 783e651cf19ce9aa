//! One Pastry node on a real UDP socket (Linux): the same `Pastry` protocol the simulator
//! experiments run.
//!
//! ```text
//! pastry_node --listen 127.0.0.1:47100                              # start a network
//! pastry_node --listen 127.0.0.1:47101 --join 127.0.0.1:47100       # join it
//! pastry_node --listen 127.0.0.1:47102 --join 127.0.0.1:47100 \
//!     --route-to 127.0.0.1:47100-47131 --route-after 10 --seconds 20
//! ```
//!
//! `--route-to` names nodes by address; the node routes one message to each of their
//! identifiers (the hash of the address, as every node computes its own), starting
//! `--route-after` seconds after its start, and at the end prints one line per message
//! that was delivered: `route KEY delivered-by ID ADDR hops H timeouts T`. A node runs
//! until `--seconds` or SIGINT/SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;

/// A Pastry node on a UDP socket.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to bind.
    #[arg(long)]
    listen: SocketAddr,
    /// A node of the network to join through; without it, start a new network.
    #[arg(long)]
    join: Option<SocketAddr>,
    /// Nodes whose identifiers to route a message to: `IP:PORT` or `IP:FIRST-LAST`,
    /// comma-separated.
    #[arg(long, value_name = "ADDRS")]
    route_to: Option<String>,
    /// Seconds after the start before the first message is routed.
    #[arg(long, default_value_t = 5.0)]
    route_after: f64,
    /// Milliseconds between messages.
    #[arg(long, default_value_t = 50)]
    route_gap_ms: u64,
    /// Period of the leaf-set keep-alive and neighbourhood probing, ms (0: never).
    #[arg(long, default_value_t = 1000)]
    keepalive_ms: u64,
    /// A peer silent this long is taken as failed, ms.
    #[arg(long, default_value_t = 300)]
    timeout_ms: u64,
    /// This node's coordinates for the proximity metric, `X,Y` (default 0,0: every node
    /// equally near).
    #[arg(long, value_name = "X,Y")]
    coordinates: Option<String>,
    /// Seconds to run.
    #[arg(long, default_value_t = 3600.0)]
    seconds: f64,
}

/// Parses `IP:PORT` or `IP:FIRST-LAST`, comma-separated.
fn parse_targets(text: &str) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (ip, ports) = part
            .rsplit_once(':')
            .ok_or_else(|| format!("'{part}': write IP:PORT or IP:FIRST-LAST"))?;
        let ip: IpAddr = ip
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|e| format!("'{ip}': {e}"))?;
        let (first, last) = match ports.split_once('-') {
            Some((a, b)) => (a, b),
            None => (ports, ports),
        };
        let first: u16 = first.parse().map_err(|e| format!("'{first}': {e}"))?;
        let last: u16 = last.parse().map_err(|e| format!("'{last}': {e}"))?;
        if first > last {
            return Err(format!("'{part}': the first port is after the last"));
        }
        out.extend((first..=last).map(|p| SocketAddr::new(ip, p)));
    }
    Ok(out)
}

fn parse_coordinates(text: &str) -> Result<[f32; 2], String> {
    let (x, y) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}': write X,Y"))?;
    let x: f32 = x.trim().parse().map_err(|e| format!("'{x}': {e}"))?;
    let y: f32 = y.trim().parse().map_err(|e| format!("'{y}': {e}"))?;
    if !x.is_finite() || !y.is_finite() {
        return Err(format!("'{text}': coordinates must be finite"));
    }
    Ok([x, y])
}

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    use std::net::UdpSocket;

    use vipe_platforms::linux::LinuxPlatform;
    use vipe_protocols::pastry::{Id, Pastry, PastryConfig, PastryPort, Workload};
    use vipe_rt::prelude::*;

    let args = Args::parse();
    let result = (|| -> Result<(), String> {
        let targets = match &args.route_to {
            Some(text) => parse_targets(text)?,
            None => Vec::new(),
        };
        let pos = match &args.coordinates {
            Some(text) => parse_coordinates(text)?,
            None => [0.0, 0.0],
        };
        let socket =
            UdpSocket::bind(args.listen).map_err(|e| format!("binding {}: {e}", args.listen))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let mut config = PastryConfig::new(addr);
        config.bootstrap = args.join;
        config.pos = pos;
        config.rpc_timeout = Duration::from_millis(args.timeout_ms.max(1));
        config.leaf_keepalive = Duration::from_millis(args.keepalive_ms);
        config.neighbour_probe = Duration::from_millis(args.keepalive_ms);
        config.validate()?;
        let start = Duration::from_secs_f64(args.route_after.max(0.0));
        let gap = Duration::from_millis(args.route_gap_ms);
        let workload = Workload {
            routes: targets
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    (
                        start + Duration::from_nanos(gap.as_nanos() * k as u64),
                        Id::of_addr(*t),
                    )
                })
                .collect(),
        };
        let mut node = Node::new(NodeId(0));
        let dev = node.add_device("udp", DeviceKind::Datagram);
        let pastry = node.add(Pastry::new(config).with_workload(workload));
        node.attach(dev, pastry.port(PastryPort::Net))
            .map_err(|e| e.to_string())?;
        let me = node.protocol(pastry).ok_or("pastry just added")?.me();
        println!("node {:?} at {addr}", me.id);
        let mut platform = LinuxPlatform::new(node).map_err(|e| e.to_string())?;
        platform.add_udp(dev, socket).map_err(|e| e.to_string())?;
        let limit = Some(std::time::Duration::from_secs_f64(args.seconds.max(0.0)));
        platform
            .run(limit, |_: &Node| false)
            .map_err(|e| e.to_string())?;
        let node = platform.into_node();
        let p = node.protocol(pastry).ok_or("pastry gone")?;
        for r in &p.records {
            println!(
                "route {:?} delivered-by {:?} {} hops {} timeouts {}",
                r.key, r.node.id, r.node.addr, r.hops, r.timeouts
            );
        }
        println!(
            "stopped: joined {}, {} of {} routes delivered, leaf set {}, table {}, {:?}",
            p.joined(),
            p.records.len(),
            targets.len(),
            p.leaf_set().len(),
            p.routing_table().len(),
            p.stats
        );
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    let _ = Args::parse();
    eprintln!("pastry_node runs on Linux only");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_coordinates_parse() {
        let t = parse_targets("127.0.0.1:5-7, [::1]:9").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[3], "[::1]:9".parse().unwrap());
        assert!(parse_targets("127.0.0.1:7-5").is_err());
        assert!(parse_targets("nothing").is_err());
        assert_eq!(parse_coordinates("1.5, 2").unwrap(), [1.5, 2.0]);
        assert!(parse_coordinates("1").is_err());
        assert!(parse_coordinates("inf,0").is_err());
    }
}
