//! What can go wrong building or running an ns-3 world; each says what to change.

use std::fmt;

use vipe_rt::{DeviceId, NodeId};

use super::{ChannelId, Host, NativeId, NetDeviceId};

/// A misconfigured world (caught before it runs) or a run that failed.
#[derive(Debug)]
pub enum Ns3Error {
    /// This thread already has a world; ns-3's simulator is one per process.
    WorldExists,
    /// No VIPE node with this id.
    UnknownNode(NodeId),
    /// No native ns-3 node with this id.
    UnknownNative(NativeId),
    /// No channel with this id.
    UnknownChannel(ChannelId),
    /// No ns-3 device with this id.
    UnknownNetDevice(NetDeviceId),
    /// No device with this id on the node.
    UnknownDevice(NodeId, DeviceId),
    /// A node was linked to itself.
    SelfLink(NodeId),
    /// A setting is out of range.
    BadConfig(String),
    /// A UDP socket needs ns-3's Internet stack on the node.
    NoInternetStack(Host),
    /// ns-3 could not bind a UDP socket to this address.
    Bind(std::net::SocketAddrV4),
    /// ns-3 refused an operation it should not have (a bug in the shim or in ns-3).
    Refused(&'static str),
    /// A capture file cannot be written.
    Capture(String, std::io::Error),
    /// A callback from ns-3 panicked; the simulation was stopped there and this world
    /// cannot run again.
    Panicked(String),
}

impl fmt::Display for Ns3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ns3Error::WorldExists => write!(
                f,
                "an ns-3 world already exists on this thread; ns-3's simulator is one per \
                 process: drop the other Ns3World first"
            ),
            Ns3Error::UnknownNode(n) => write!(
                f,
                "VIPE node {} does not exist; use an id add_node() returned",
                n.0
            ),
            Ns3Error::UnknownNative(n) => write!(
                f,
                "native ns-3 node {} does not exist; use an id add_native_node() returned",
                n.0
            ),
            Ns3Error::UnknownChannel(c) => write!(
                f,
                "channel {} does not exist; use an id csma_channel() returned",
                c.0
            ),
            Ns3Error::UnknownNetDevice(d) => write!(
                f,
                "ns-3 device {} does not exist; use an id the world returned when it made the device",
                d.0
            ),
            Ns3Error::UnknownDevice(n, d) => write!(
                f,
                "node {} has no device {}; use a device the world attached to it",
                n.0, d.0
            ),
            Ns3Error::SelfLink(n) => write!(
                f,
                "node {} cannot be linked to itself; link two different nodes",
                n.0
            ),
            Ns3Error::BadConfig(why) => write!(f, "bad configuration: {why}"),
            Ns3Error::NoInternetStack(host) => write!(
                f,
                "{host:?} has no ns-3 Internet stack; give it an IPv4 interface with \
                 ipv4_interface() first"
            ),
            Ns3Error::Bind(addr) => write!(
                f,
                "ns-3 cannot bind a UDP socket to {addr}: the address is not one of the \
                 node's interfaces, or the port is taken"
            ),
            Ns3Error::Refused(what) => write!(f, "ns-3 refused to {what}"),
            Ns3Error::Capture(path, e) => write!(f, "cannot write capture {path}: {e}"),
            Ns3Error::Panicked(why) => write!(
                f,
                "the simulation was stopped by a panic in a callback from ns-3: {why}"
            ),
        }
    }
}

impl std::error::Error for Ns3Error {}
