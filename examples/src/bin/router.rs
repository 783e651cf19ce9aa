//! A VIPE IPv4 router between two subnets — one source for every platform. In the
//! simulator (default) a simulated host on each side pings across it; on Linux
//! (`--no-default-features --features linux --tap tapA --tap tapB`) it forwards between
//! whatever is behind the two TAP devices (kernels in two network namespaces).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vipe_examples::platform::{self, HostRole, PlatformOptions};
use vipe_examples::stats::drop_lines;
use vipe_protocols::apps::{Pinger, PingerConfig, PingerPort};
use vipe_protocols::icmp::IcmpPort;
use vipe_protocols::ipv4::{Interface, Ipv4Config};
use vipe_protocols::stack;
use vipe_rt::prelude::*;

/// Forward IPv4 between two subnets.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The router's address on the first subnet (a /24).
    #[arg(long, default_value = "10.78.1.2")]
    left: Ipv4Addr,
    /// The router's address on the second subnet (a /24).
    #[arg(long, default_value = "10.78.2.2")]
    right: Ipv4Addr,
    /// Seconds to run.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Linux: the two TAP devices, first subnet first.
    #[arg(long)]
    tap: Vec<String>,
    /// Directory for pcaps.
    #[arg(long)]
    pcap_dir: Option<PathBuf>,
    /// Linux: TAP offloads (virtio-net header, checksum, TSO, USO): 64 KB TCP segments
    /// are forwarded whole.
    #[arg(long)]
    offload: bool,
    /// An interface's MTU, as `IFACE=BYTES` (68 to 65535); IFACE is its TAP device's
    /// name, or `0`/`left` and `1`/`right`. Repeatable; the default is 1500.
    #[arg(long, value_name = "IFACE=BYTES")]
    mtu: Vec<String>,
}

/// Applies the `--mtu IFACE=BYTES` settings to `interfaces` (through the IPv4
/// configuration, which checks them); `taps` names the interfaces on Linux.
fn apply_mtus(
    specs: &[String],
    taps: &[String],
    interfaces: &mut [Interface],
) -> Result<(), String> {
    let mut config = Ipv4Config::router(interfaces.to_vec(), vec![]);
    for spec in specs {
        let (iface, bytes) = spec
            .split_once('=')
            .ok_or_else(|| format!("--mtu {spec}: expected IFACE=BYTES"))?;
        let index = match iface {
            "0" | "left" => 0,
            "1" | "right" => 1,
            name => taps
                .iter()
                .position(|t| t == name)
                .ok_or_else(|| format!("--mtu {spec}: no interface {name:?} (the TAP devices are {taps:?}, or use left/right)"))?,
        };
        let mtu: usize = bytes
            .parse()
            .map_err(|e| format!("--mtu {spec}: {bytes:?} is not a number of bytes: {e}"))?;
        config
            .set_mtu(index as u8, mtu)
            .map_err(|e| format!("--mtu {spec}: {e}"))?;
    }
    interfaces.copy_from_slice(&config.interfaces);
    Ok(())
}

fn host_on(router: Ipv4Addr, peer: Ipv4Addr, n: u8) -> HostRole {
    let o = router.octets();
    HostRole {
        mac: [2, 0, 0, 0, 1, n],
        addr: Ipv4Addr::new(o[0], o[1], o[2], 1),
        prefix_len: 24,
        gateway: Some(router),
        peer,
    }
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
        offload: args.offload,
    };
    let mut interfaces = [
        Interface {
            addr: args.left,
            prefix_len: 24,
            mtu: 1500,
        },
        Interface {
            addr: args.right,
            prefix_len: 24,
            mtu: 1500,
        },
    ];
    if let Err(e) = apply_mtus(&args.mtu, &args.tap, &mut interfaces) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let right_host = host_on(args.right, Ipv4Addr::UNSPECIFIED, 2).addr;
    let hosts = [
        host_on(args.left, right_host, 1),
        host_on(args.right, host_on(args.left, right_host, 1).addr, 2),
    ];
    let result = platform::run_router(
        &options,
        &interfaces,
        &hosts,
        |node, devices| {
            let ports: Vec<_> = devices
                .iter()
                .zip(&interfaces)
                .enumerate()
                .map(|(i, (d, iface))| (*d, [2, 0, 0, 0, 0xee, i as u8], *iface))
                .collect();
            stack::router(node, &ports, vec![]).map_err(|e| e.to_string())
        },
        |node, dev, role| {
            let iface = Interface {
                addr: role.addr,
                prefix_len: role.prefix_len,
                mtu: 1500,
            };
            let host =
                stack::host(node, dev, role.mac, iface, role.gateway).map_err(|e| e.to_string())?;
            let pinger = node.add(Pinger::new(PingerConfig {
                target: role.peer,
                count: 3,
                interval: Duration::from_millis(200),
                payload: 56,
                ident: 1,
            }));
            node.connect(host.icmp.port(IcmpPort::App), pinger.port(PingerPort::Icmp))
                .map_err(|e| e.to_string())?;
            Ok(pinger)
        },
    );
    let (router, _, hosts) = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let count = |name: &str| router.stats().counter_total(name);
    println!(
        "router on {}: {} (MTU {}) ↔ {} (MTU {})",
        platform::PLATFORM,
        args.left,
        interfaces[0].mtu,
        args.right,
        interfaces[1].mtu
    );
    println!(
        "  forwarded {} datagrams, sent {} ICMP errors, {} fragments, segmented {} offloaded datagrams",
        count("datagrams forwarded"),
        count("icmp errors sent"),
        count("fragments sent"),
        count("offloaded datagrams segmented")
    );
    let drops = drop_lines(&router);
    println!("  dropped {} packets", router.stats().total_drops());
    for line in drops {
        println!("    {line}");
    }
    for (i, (node, pinger)) in hosts.iter().enumerate() {
        let p = node.protocol(*pinger).expect("pinger");
        println!(
            "  simulated host {i}: {} of 3 pings across answered",
            p.replies()
        );
    }
    ExitCode::SUCCESS
}
