//! A VIPE host with TCP: serves the files of a directory over HTTP/1.0 and/or fetches one
//! URL into a file — one source for every platform.
//!
//! ```text
//! # Linux: on a TAP device, against the kernel on the other side
//! cargo run --release -p vipe-examples --no-default-features --features linux --bin tcphost -- \
//!     --tap vtap0 --ip 10.77.0.2/24 --http-root ./www --port 8080 --pcap tcphost.pcap
//! cargo run --release -p vipe-examples --no-default-features --features linux --bin tcphost -- \
//!     --tap vtap0 --ip 10.77.0.2/24 --fetch http://10.77.0.1:8000/big.bin --out big.bin
//! # Simulator (default): beside a simulated twin built from the same arguments
//! cargo run -p vipe-examples --bin tcphost -- --ip 10.77.0.2/24 --http-root ./www --port 80 \
//!     --fetch http://10.77.0.1/file --seconds 10
//! ```
//!
//! With `--fetch` it exits 0 as soon as the whole body has arrived, 1 if the fetch
//! failed or did not finish within `--seconds`; without it, it serves for `--seconds`
//! (or until interrupted) and exits 0.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vipe_examples::platform;
use vipe_examples::tcphost::{self, TcpHostConfig};
use vipe_protocols::apps::FetchOutcome;

/// Serve a directory and/or fetch a URL over VIPE TCP.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Linux: the TAP device to use.
    #[arg(long)]
    tap: Option<String>,
    /// This host's address and prefix length, A.B.C.D/LEN.
    #[arg(long, default_value = "10.77.0.2/24")]
    ip: String,
    /// Default gateway.
    #[arg(long)]
    gateway: Option<Ipv4Addr>,
    /// Serve this directory's files over HTTP/1.0.
    #[arg(long)]
    http_root: Option<PathBuf>,
    /// The port to serve on.
    #[arg(long, default_value_t = 80)]
    port: u16,
    /// Fetch this URL (http://A.B.C.D[:PORT]/PATH).
    #[arg(long)]
    fetch: Option<String>,
    /// Write the fetched body here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a pcap of the device here.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Run at most this long.
    #[arg(long, default_value_t = 3600.0)]
    seconds: f64,
    /// Linux: open the TAP with offloads (virtio-net header, checksum, TSO) and send TCP
    /// data in segments of up to 64 KB that the kernel cuts (TCP segmentation offload).
    #[arg(long)]
    offload: bool,
}

fn parse_ip(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| format!("--ip {s}: write it as A.B.C.D/LEN, e.g. 10.77.0.2/24"))?;
    let ip = ip
        .parse()
        .map_err(|_| format!("--ip {s}: {ip} is not an IPv4 address"))?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("--ip {s}: the prefix length must be 0..=32"))?;
    Ok((ip, len))
}

fn config(args: &Args) -> Result<TcpHostConfig, String> {
    let (addr, prefix_len) = parse_ip(&args.ip)?;
    if args.http_root.is_none() && args.fetch.is_none() {
        return Err("nothing to do: give --http-root DIR (serve) and/or --fetch URL".into());
    }
    Ok(TcpHostConfig {
        gateway: args.gateway,
        http_root: args.http_root.clone(),
        port: args.port,
        fetch: args.fetch.clone(),
        out: args.out.clone(),
        tso: args.offload,
        ..TcpHostConfig::new(addr, prefix_len)
    })
}

#[cfg(all(feature = "linux", not(feature = "sim")))]
fn run(args: &Args, config: &TcpHostConfig) -> Result<(Option<FetchOutcome>, Option<f64>), String> {
    use vipe_platforms::linux::{LinuxPlatform, TapDevice, TapOffloads};
    use vipe_rt::prelude::*;

    let name = args
        .tap
        .as_deref()
        .ok_or("on Linux tcphost needs --tap NAME (a TAP device; it is created if missing)")?;
    let tap = if args.offload {
        TapDevice::open_with_offloads(name, TapOffloads::ALL)
    } else {
        TapDevice::open(name)
    }
    .map_err(|e| format!("TAP {name}: {e}"))?;
    let mut config = config.clone();
    // TCP segmentation offload only if the kernel took it.
    config.tso = args.offload && tap.offloads().is_some_and(|o| o.tso);
    let mut node = Node::new(NodeId(0));
    let dev = node.add_device(name, DeviceKind::Frame);
    let host = tcphost::build(&mut node, dev, &config)?;
    let mut platform = LinuxPlatform::new(node).map_err(|e| e.to_string())?;
    platform.add_tap(dev, tap).map_err(|e| e.to_string())?;
    if let Some(pcap) = &args.pcap {
        platform
            .capture(dev, pcap)
            .map_err(|e| format!("--pcap {}: {e}", pcap.display()))?;
    }
    let limit = std::time::Duration::from_secs_f64(args.seconds.max(0.0));
    let fetching = host.client.is_some();
    platform
        .run(Some(limit), |node| fetching && host.outcome(node).is_some())
        .map_err(|e| e.to_string())?;
    if fetching {
        // Let the close handshake go out before leaving.
        let _ = platform.run(Some(std::time::Duration::from_millis(200)), |_| false);
    }
    let node = platform.into_node();
    Ok((
        host.outcome(&node),
        host.fetch_time(&node).map(|d| d.as_secs_f64()),
    ))
}

#[cfg(not(all(feature = "linux", not(feature = "sim"))))]
fn run(args: &Args, config: &TcpHostConfig) -> Result<(Option<FetchOutcome>, Option<f64>), String> {
    use platform::{HostRole, PlatformOptions};

    if args.offload {
        return Err("--offload needs the Linux platform (a TAP device)".into());
    }

    let options = PlatformOptions {
        duration: std::time::Duration::from_secs_f64(args.seconds.max(0.0)),
        taps: args.tap.iter().cloned().collect(),
        pcap_dir: args
            .pcap
            .as_ref()
            .and_then(|p| p.parent().map(|d| d.to_path_buf())),
        seed: 1,
        offload: false,
    };
    // The simulated peer is a twin at the fetch URL's address (or .1 of the subnet).
    let peer_addr = config
        .fetch
        .as_deref()
        .and_then(|u| vipe_protocols::apps::http::parse_url(u).ok())
        .map(|(ep, _)| *ep.ip())
        .unwrap_or_else(|| Ipv4Addr::from(u32::from(config.addr) & !0xff | 1));
    let local = HostRole {
        mac: config.mac,
        addr: config.addr,
        prefix_len: config.prefix_len,
        gateway: config.gateway,
        peer: peer_addr,
    };
    let peer = HostRole {
        mac: [0x02, 0, 0, 0, 0x7c, 0x01],
        addr: peer_addr,
        prefix_len: config.prefix_len,
        gateway: None,
        peer: config.addr,
    };
    let (node, host) = platform::run_host(&options, local, peer, |node, dev, role| {
        let mut c = config.clone();
        c.mac = role.mac;
        c.addr = role.addr;
        if role.addr != config.addr {
            // The twin serves; only the local host fetches.
            c.fetch = None;
            c.out = None;
            if c.http_root.is_none() {
                return Err("in the simulator the twin serves --http-root: give one".into());
            }
        }
        tcphost::build(node, dev, &c)
    })?;
    Ok((
        host.outcome(&node),
        host.fetch_time(&node).map(|d| d.as_secs_f64()),
    ))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args, &config) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok((None, _)) if config.fetch.is_some() => {
            eprintln!(
                "tcphost on {}: the fetch did not finish in time",
                platform::PLATFORM
            );
            ExitCode::from(1)
        }
        Ok((None, _)) => ExitCode::SUCCESS,
        Ok((Some(FetchOutcome::Complete { bytes }), secs)) => {
            let secs = secs.unwrap_or(f64::NAN);
            println!(
                "tcphost on {}: fetched {bytes} bytes in {secs:.2} s from the handshake ({:.1} Mbit/s)",
                platform::PLATFORM,
                bytes as f64 * 8.0 / secs / 1e6
            );
            ExitCode::SUCCESS
        }
        Ok((Some(FetchOutcome::Failed(why)), _)) => {
            eprintln!("tcphost on {}: fetch failed: {why}", platform::PLATFORM);
            ExitCode::from(1)
        }
    }
}
