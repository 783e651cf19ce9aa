//! Runs an example's node on the platform picked by cargo feature, so each example is
//! one source for every platform: `sim` (the default) builds a simulated world around
//! the node; `linux` binds it to TAP devices and runs it against whatever is on the
//! other side (the kernel's stack, in a namespace or on the host).
//!
//! ```text
//! cargo run -p vipe-examples --bin pinghost                                   # simulator
//! cargo run -p vipe-examples --no-default-features --features linux --bin pinghost -- --tap vtap0
//! ```

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(all(feature = "sim", feature = "linux"))]
compile_error!(
    "vipe-examples: pick one platform for the example binaries: `--features sim` (the default) \
     or `--no-default-features --features linux`, not both"
);
#[cfg(not(any(feature = "sim", feature = "linux", feature = "ns3")))]
compile_error!(
    "vipe-examples: no platform selected for the example binaries: build with `--features sim` \
     (the default), `--no-default-features --features linux` or `--no-default-features --features ns3`"
);

#[cfg(any(
    all(feature = "sim", feature = "ns3"),
    all(feature = "linux", feature = "ns3")
))]
compile_error!(
    "vipe-examples: pick one platform for the example binaries: `--features sim` (the default), \
     `--no-default-features --features linux` or `--no-default-features --features ns3`, not two"
);

#[cfg(all(feature = "linux", not(feature = "sim")))]
mod linux;
#[cfg(all(feature = "ns3", not(feature = "sim"), not(feature = "linux")))]
mod ns3;
#[cfg(feature = "sim")]
mod sim;

#[cfg(all(feature = "linux", not(feature = "sim")))]
pub use linux::{run_host, run_router};
#[cfg(all(feature = "ns3", not(feature = "sim"), not(feature = "linux")))]
pub use ns3::{run_host, run_router};
#[cfg(feature = "sim")]
pub use sim::{run_host, run_router};

/// The name of the platform the example binaries were built for.
pub const PLATFORM: &str = if cfg!(feature = "linux") {
    "linux"
} else if cfg!(feature = "ns3") {
    "ns3"
} else {
    "sim"
};

/// One IPv4 host: its address and the host it talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostRole {
    /// This host's MAC address.
    pub mac: [u8; 6],
    /// This host's address.
    pub addr: Ipv4Addr,
    /// Its on-link prefix length.
    pub prefix_len: u8,
    /// Its default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// The host it pings.
    pub peer: Ipv4Addr,
}

/// Platform settings an example takes from its command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformOptions {
    /// How long to run at most.
    pub duration: Duration,
    /// Linux: TAP device names, one per interface the example's node has.
    pub taps: Vec<String>,
    /// Where to write pcaps (per device), if anywhere.
    pub pcap_dir: Option<PathBuf>,
    /// Simulator seed.
    pub seed: u64,
    /// Linux: open the TAP devices with the virtio-net header and the kernel's checksum
    /// and segmentation offloads (TSO/USO), so 64 KB segments cross them whole.
    pub offload: bool,
}

/// The simulated platforms build one host per router interface: the two lists must match.
#[cfg_attr(not(any(feature = "sim", feature = "ns3")), allow(dead_code))]
fn check_one_host_per_interface(
    interfaces: &[vipe_protocols::ipv4::Interface],
    hosts: &[HostRole],
) -> Result<(), String> {
    if interfaces.len() != hosts.len() {
        return Err(format!(
            "{} router interfaces but {} hosts: give one host per interface",
            interfaces.len(),
            hosts.len()
        ));
    }
    Ok(())
}
