//! A VIPE IPv4 host that pings a peer and answers UDP echo on port 7 — one source for
//! every platform. In the simulator (default) the peer is a simulated twin of this host;
//! on Linux (`--no-default-features --features linux`) it is whatever is on the other
//! side of the TAP device, such as the kernel in a network namespace.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vipe_examples::platform::{self, HostRole, PlatformOptions};
use vipe_examples::stats::{Summary, drop_lines};
use vipe_protocols::apps::{PingOutcome, Pinger, PingerConfig, PingerPort, UdpEcho, UdpEchoPort};
use vipe_protocols::icmp::IcmpPort;
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::udp::UdpPort;
use vipe_rt::prelude::*;

/// Ping a peer and answer UDP echo.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// This host's address.
    #[arg(long, default_value = "10.77.0.2")]
    addr: Ipv4Addr,
    /// The host to ping.
    #[arg(long, default_value = "10.77.0.1")]
    peer: Ipv4Addr,
    /// On-link prefix length.
    #[arg(long, default_value_t = 24)]
    prefix_len: u8,
    /// Echo requests to send.
    #[arg(long, default_value_t = 5)]
    count: u16,
    /// Payload bytes per request (over 1472 gets fragmented).
    #[arg(long, default_value_t = 56)]
    size: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Linux: the TAP device to use.
    #[arg(long)]
    tap: Vec<String>,
    /// Directory for pcaps.
    #[arg(long)]
    pcap_dir: Option<PathBuf>,
}

fn build(
    node: &mut Node,
    dev: DeviceId,
    role: &HostRole,
    count: u16,
    size: usize,
) -> Result<Handle<Pinger>, String> {
    let iface = Interface {
        addr: role.addr,
        prefix_len: role.prefix_len,
        mtu: 1500,
    };
    let host = stack::host(node, dev, role.mac, iface, role.gateway).map_err(|e| e.to_string())?;
    let echo = node.add(UdpEcho::default());
    node.connect(host.udp.port(UdpPort::App(7)), echo.port(UdpEchoPort::Udp))
        .map_err(|e| e.to_string())?;
    let pinger = node.add(Pinger::new(PingerConfig {
        target: role.peer,
        count,
        interval: Duration::from_millis(200),
        payload: size,
        ident: 0x5650,
    }));
    node.connect(host.icmp.port(IcmpPort::App), pinger.port(PingerPort::Icmp))
        .map_err(|e| e.to_string())?;
    Ok(pinger)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let options = PlatformOptions {
        duration: std::time::Duration::from_secs_f64(args.seconds.max(0.0)),
        taps: args.tap.clone(),
        pcap_dir: args.pcap_dir.clone(),
        seed: 1,
        offload: false,
    };
    let local = HostRole {
        mac: [2, 0, 0, 0, 0, 2],
        addr: args.addr,
        prefix_len: args.prefix_len,
        gateway: None,
        peer: args.peer,
    };
    let peer = HostRole {
        mac: [2, 0, 0, 0, 0, 1],
        addr: args.peer,
        prefix_len: args.prefix_len,
        gateway: None,
        peer: args.addr,
    };
    let result = platform::run_host(&options, local, peer, |node, dev, role| {
        build(node, dev, role, args.count, args.size)
    });
    let (node, pinger) = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let p = node
        .protocol(pinger)
        .expect("the pinger lives in this node");
    println!(
        "pinghost on {}: {} → {}, {} requests of {} bytes",
        platform::PLATFORM,
        args.addr,
        args.peer,
        args.count,
        args.size
    );
    let mut rtts = Vec::new();
    for outcome in &p.outcomes {
        match outcome {
            PingOutcome::Reply {
                seq,
                rtt,
                len,
                intact,
            } => {
                println!("  reply seq={seq} bytes={len} rtt={rtt} intact={intact}");
                rtts.push(*rtt);
            }
            PingOutcome::Error {
                from,
                icmp_type,
                code,
            } => println!("  ICMP error type={icmp_type} code={code} from {from}"),
        }
    }
    if let Some(s) = Summary::of(&rtts) {
        println!(
            "  {} of {} answered; rtt min {} mean {} max {}",
            rtts.len(),
            args.count,
            s.min,
            s.mean,
            s.max
        );
    } else {
        println!("  no replies");
    }
    println!("  dropped {} packets", node.stats().total_drops());
    for line in drop_lines(&node) {
        println!("    {line}");
    }
    ExitCode::SUCCESS
}
