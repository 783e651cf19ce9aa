//! The Linux side: the example's node on TAP devices, against whatever is on the other
//! side of them.

use vipe_platforms::linux::{LinuxPlatform, TapDevice, TapOffloads};
use vipe_protocols::ipv4::Interface;
use vipe_rt::prelude::*;

use super::{HostRole, PlatformOptions};

/// How long a TAP device may take to come up before the example gives up.
const LINK_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits until `tap` is up, so the node's first frames (ARP announcements, the first
/// ping) are not refused by the kernel (`EIO`) while whoever set the device up — a
/// script, a test, the user in another shell — has not finished yet.
fn wait_for_link(tap: &TapDevice) -> Result<(), String> {
    let name = tap.name();
    let up = |t: &TapDevice| {
        t.is_up()
            .map_err(|e| format!("TAP {name}: reading its state: {e}"))
    };
    if up(tap)? {
        return Ok(());
    }
    eprintln!("waiting for TAP {name} to be up (ip link set {name} up)");
    match tap.wait_until_up(LINK_UP_TIMEOUT) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "TAP {name} is not up after {} s: bring it up with `ip link set {name} up` (in its namespace)",
            LINK_UP_TIMEOUT.as_secs()
        )),
        Err(e) => Err(format!("TAP {name}: reading its state: {e}")),
    }
}

fn open_taps(
    options: &PlatformOptions,
    node: &mut Node,
    count: usize,
) -> Result<Vec<(DeviceId, TapDevice)>, String> {
    if options.taps.len() != count {
        return Err(format!(
            "this example needs {count} TAP device(s) on Linux: pass --tap NAME {count} time(s) (got {})",
            options.taps.len()
        ));
    }
    options
        .taps
        .iter()
        .map(|name| {
            let tap = if options.offload {
                TapDevice::open_with_offloads(name, TapOffloads::ALL)
            } else {
                TapDevice::open(name)
            }
            .map_err(|e| format!("TAP {name}: {e}"))?;
            Ok((node.add_device(name, DeviceKind::Frame), tap))
        })
        .collect::<Result<Vec<_>, String>>()
        .and_then(|taps| {
            // Every device is open (and exists) before waiting, so each can be set up.
            for (_, tap) in &taps {
                wait_for_link(tap)?;
            }
            Ok(taps)
        })
}

fn run(
    node: Node,
    taps: Vec<(DeviceId, TapDevice)>,
    options: &PlatformOptions,
) -> Result<Node, String> {
    let mut platform = LinuxPlatform::new(node).map_err(|e| e.to_string())?;
    for (dev, tap) in taps {
        let name = tap.name().to_owned();
        platform.add_tap(dev, tap).map_err(|e| e.to_string())?;
        if let Some(dir) = &options.pcap_dir {
            platform
                .capture(dev, dir.join(format!("{name}.pcap")))
                .map_err(|e| e.to_string())?;
        }
    }
    platform
        .run(Some(options.duration), |_| false)
        .map_err(|e| e.to_string())?;
    let stats = platform.stats();
    println!(
        "  Linux loop: {} frames read in {} batches ({:.1} a batch), {} written, {} wake-ups",
        stats.received,
        stats.read_batches,
        stats.received as f64 / stats.read_batches.max(1) as f64,
        stats.sent,
        stats.wakeups
    );
    Ok(platform.into_node())
}

/// Runs the host built by `build` for `local` on the TAP device named in `options`; the
/// peer is whatever answers on the other side (`peer` is not simulated here).
pub fn run_host<T>(
    options: &PlatformOptions,
    local: HostRole,
    _peer: HostRole,
    build: impl Fn(&mut Node, DeviceId, &HostRole) -> Result<T, String>,
) -> Result<(Node, T), String> {
    let mut node = Node::new(NodeId(0));
    let taps = open_taps(options, &mut node, 1)?;
    let out = build(&mut node, taps[0].0, &local)?;
    Ok((run(node, taps, options)?, out))
}

/// Runs the router built by `build` on the TAP devices named in `options` (one per
/// interface); the hosts are the kernels on the other sides, so none is built here.
#[allow(clippy::type_complexity)]
pub fn run_router<T, H>(
    options: &PlatformOptions,
    interfaces: &[Interface],
    _hosts: &[HostRole],
    build: impl Fn(&mut Node, &[DeviceId]) -> Result<T, String>,
    _host: impl Fn(&mut Node, DeviceId, &HostRole) -> Result<H, String>,
) -> Result<(Node, T, Vec<(Node, H)>), String> {
    let mut node = Node::new(NodeId(0));
    let taps = open_taps(options, &mut node, interfaces.len())?;
    let devices: Vec<DeviceId> = taps.iter().map(|(d, _)| *d).collect();
    let out = build(&mut node, &devices)?;
    Ok((run(node, taps, options)?, out, Vec::new()))
}
