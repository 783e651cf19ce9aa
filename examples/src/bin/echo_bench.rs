//! The UDP echo benchmark of `bench/vipe-vs-ns3.sh`: host A (10.1.0.1) sends N datagrams
//! to host B (10.1.0.2) port 7, one per interval, and B echoes them; both run the VIPE
//! stack (Ethernet, ARP, IPv4, UDP). `--platform sim` runs it in VIPE's simulator (a
//! point-to-point link), `--platform ns3` inside ns-3 on a CSMA segment (needs a build
//! with `--features ns3`); `bench/ns3/udp_echo.cc` is the same experiment with ns-3's
//! own stack. Both links: 100 Mb/s, 6560 ns, 100-packet queues. Only the run is timed.
//!
//! Prints one line: `vipe-<platform> echoes=E sent=N events=X seconds=S
//! events_per_sec=R sim_seconds=T`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant as WallClock;

use clap::{Parser, ValueEnum};
use vipe_protocols::apps::{UdpClient, UdpClientConfig, UdpClientPort, UdpEcho, UdpEchoPort};
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::udp::UdpPort;
use vipe_rt::prelude::*;

/// Where to run the echo experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Platform {
    /// VIPE's built-in simulator.
    Sim,
    /// ns-3 (CSMA), with VIPE stacks on the nodes.
    Ns3,
}

/// N UDP echoes between two VIPE hosts.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The platform.
    #[arg(long, value_enum)]
    platform: Platform,
    /// Datagrams to send.
    #[arg(long, default_value_t = 100_000)]
    count: u32,
    /// Payload bytes per datagram.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Microseconds between datagrams.
    #[arg(long, default_value_t = 100)]
    interval_us: u64,
}

const A: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Builds the client on A (`client` true) or the echo server on B.
fn build(node: &mut Node, dev: DeviceId, client: bool, args: &Args) -> Option<Handle<UdpClient>> {
    let (addr, mac) = if client { (A, MAC_A) } else { (B, MAC_B) };
    let iface = Interface {
        addr,
        prefix_len: 24,
        mtu: 1500,
    };
    let host = stack::host(node, dev, mac, iface, None).expect("host stack");
    if client {
        let c = node.add(UdpClient::new(UdpClientConfig {
            server: SocketAddr::from((B, 7)),
            count: args.count,
            size: args.size,
            interval: Duration::from_micros(args.interval_us),
        }));
        node.connect(
            host.udp.port(UdpPort::App(5000)),
            c.port(UdpClientPort::Udp),
        )
        .expect("wiring");
        Some(c)
    } else {
        let echo = node.add(UdpEcho::default());
        node.connect(host.udp.port(UdpPort::App(7)), echo.port(UdpEchoPort::Udp))
            .expect("wiring");
        None
    }
}

/// What a run measured: echoes received, events, wall seconds, simulated end.
struct Outcome {
    echoes: usize,
    events: u64,
    seconds: f64,
    end: Instant,
}

fn end_time(args: &Args) -> Instant {
    Instant::ZERO
        + Duration::from_micros(u64::from(args.count) * args.interval_us)
        + Duration::from_secs(1)
}

fn run_sim(args: &Args) -> Result<Outcome, String> {
    use vipe_platforms::sim::{LinkConfig, Simulator};
    let mut sim = Simulator::new(1);
    let (a, b) = (sim.add_node(), sim.add_node());
    let link = sim
        .link(
            a,
            b,
            LinkConfig::default()
                .latency(Duration::from_nanos(6560))
                .bandwidth_bps(100_000_000)
                .queue_limit(100),
        )
        .map_err(|e| e.to_string())?;
    let client = build(sim.node_mut(a).expect("a"), link.a.device, true, args).expect("client");
    build(sim.node_mut(b).expect("b"), link.b.device, false, args);
    let end = end_time(args);
    let start = WallClock::now();
    let run = sim.run_until(end);
    let seconds = start.elapsed().as_secs_f64();
    let echoes = sim
        .node(a)
        .and_then(|n| n.protocol(client))
        .map_or(0, |c| c.events.len());
    Ok(Outcome {
        echoes,
        events: run.events,
        seconds,
        end: run.now,
    })
}

#[cfg(feature = "ns3")]
fn run_ns3(args: &Args) -> Result<Outcome, String> {
    use vipe_platforms::ns3::{CsmaConfig, Ns3World};
    let mut world = Ns3World::new(1).map_err(|e| e.to_string())?;
    let (a, b) = (world.add_node(), world.add_node());
    let lan = world
        .csma_channel(
            CsmaConfig::default()
                .data_rate(100_000_000)
                .delay(Duration::from_nanos(6560))
                .queue(100),
        )
        .map_err(|e| e.to_string())?;
    let da = world
        .attach_csma(a, lan, MAC_A)
        .map_err(|e| e.to_string())?;
    let db = world
        .attach_csma(b, lan, MAC_B)
        .map_err(|e| e.to_string())?;
    let client = build(world.node_mut(a).expect("a"), da.device, true, args).expect("client");
    build(world.node_mut(b).expect("b"), db.device, false, args);
    let start = WallClock::now();
    let run = world.run_until(end_time(args)).map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let echoes = world
        .node(a)
        .and_then(|n| n.protocol(client))
        .map_or(0, |c| c.events.len());
    Ok(Outcome {
        echoes,
        events: run.events,
        seconds,
        end: run.now,
    })
}

#[cfg(not(feature = "ns3"))]
fn run_ns3(_args: &Args) -> Result<Outcome, String> {
    Err(
        "this build has no ns-3 platform: rebuild with `--no-default-features --features ns3`"
            .into(),
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match args.platform {
        Platform::Sim => run_sim(&args),
        Platform::Ns3 => run_ns3(&args),
    };
    let o = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let name = match args.platform {
        Platform::Sim => "vipe-sim",
        Platform::Ns3 => "vipe-ns3",
    };
    println!(
        "{name} echoes={} sent={} events={} seconds={:.3} events_per_sec={:.0} sim_seconds={:.3}",
        o.echoes,
        args.count,
        o.events,
        o.seconds,
        o.events as f64 / o.seconds,
        o.end.as_nanos() as f64 / 1e9
    );
    if o.echoes == args.count as usize {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
