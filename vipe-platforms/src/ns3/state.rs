//! What the world keeps while ns-3 runs, and how it drives VIPE nodes: feed a node its
//! input, send what it transmits onto ns-3 devices and sockets, and keep exactly one
//! ns-3 event pending per node for its next deadline.

use std::collections::BTreeMap;
use std::net::{SocketAddr, SocketAddrV4};

use vipe_rt::{DeviceId, Instant, Node, NodeId, Packet};

use super::ffi;

/// Counters of a world.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ns3Stats {
    /// ns-3 events executed by this world's runs (every event in the simulator: VIPE
    /// wake-ups, device and channel events, ns-3's own stacks and applications).
    pub events: u64,
    /// VIPE node wake-ups (ns-3 events that ran a node's timers).
    pub wakeups: u64,
    /// Frames VIPE nodes handed to ns-3 devices.
    pub frames_sent: u64,
    /// Frames ns-3 devices delivered to VIPE nodes.
    pub frames_received: u64,
    /// Datagrams VIPE nodes sent on ns-3 UDP sockets.
    pub datagrams_sent: u64,
    /// Datagrams ns-3 UDP sockets delivered to VIPE nodes.
    pub datagrams_received: u64,
    /// Packets VIPE nodes transmitted that the platform could not send, by reason.
    pub drops: BTreeMap<&'static str, u64>,
}

/// What backs a VIPE device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A CSMA device (shim device handle): any EtherType.
    Csma(u32),
    /// A point-to-point device (shim device handle): IPv4 and IPv6 only.
    P2p(u32),
    /// A UDP socket (shim socket handle).
    Udp(u32),
}

/// A VIPE device bound to ns-3; its index is the token the shim's callbacks carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Port {
    pub(crate) node: u32,
    pub(crate) device: DeviceId,
    pub(crate) backend: Backend,
}

/// A VIPE node and the ns-3 node it lives on.
pub(crate) struct NodeSlot {
    pub(crate) node: Node,
    /// Shim handle of the ns-3 node.
    pub(crate) ns3: u32,
    /// Whether ns-3's Internet stack is installed on the ns-3 node.
    pub(crate) internet: bool,
    /// Its addresses on ns-3 IPv4 interfaces.
    pub(crate) addrs: Vec<std::net::Ipv4Addr>,
    /// The wake-up pending in ns-3's scheduler, if any.
    wake: Option<Instant>,
    /// Per VIPE device: the port backing it.
    ports: Vec<Option<u32>>,
}

impl NodeSlot {
    pub(crate) fn new(node: Node, ns3: u32) -> Self {
        NodeSlot {
            node,
            ns3,
            internet: false,
            addrs: Vec::new(),
            wake: None,
            ports: Vec::new(),
        }
    }
}

/// The world's state, shared with the callbacks from ns-3.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) nodes: Vec<NodeSlot>,
    pub(crate) ports: Vec<Port>,
    pub(crate) stats: Ns3Stats,
    pub(crate) started: bool,
    /// Why the world stopped for good (a panic in a callback).
    pub(crate) failure: Option<String>,
}

impl State {
    /// Binds VIPE device `device` of `node` to `backend`; returns the port token.
    pub(crate) fn bind(&mut self, node: NodeId, device: DeviceId, backend: Backend) -> u32 {
        let token = self.ports.len() as u32;
        self.ports.push(Port {
            node: node.0,
            device,
            backend,
        });
        let ports = &mut self.nodes[node.0 as usize].ports;
        let index = usize::from(device.0);
        if ports.len() <= index {
            ports.resize(index + 1, None);
        }
        ports[index] = Some(token);
        token
    }

    /// Starts every node (once), at ns-3's time now.
    pub(crate) fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let now = ffi::now();
        for index in 0..self.nodes.len() {
            self.nodes[index].node.start(now);
            self.after_activity(index as u32);
        }
    }

    /// Catches up with changes made to nodes between runs (through `node_mut`: protocols
    /// added, timers armed): sends what they transmitted and re-arms their wake-ups.
    pub(crate) fn resync(&mut self) {
        for index in 0..self.nodes.len() {
            self.after_activity(index as u32);
        }
    }

    /// Starts a node added after the others started.
    pub(crate) fn start_late(&mut self, node: u32) {
        if self.started {
            self.nodes[node as usize].node.start(ffi::now());
            self.after_activity(node);
        }
    }

    /// Stops every node (their `#[on_stop]` handlers run) and sends what they transmit.
    pub(crate) fn stop(&mut self) {
        let now = ffi::now();
        for index in 0..self.nodes.len() {
            self.nodes[index].node.stop(now);
            self.flush(index as u32);
            if self.nodes[index].wake.take().is_some() {
                ffi::wake_cancel(index as u32);
            }
        }
        self.started = false;
    }

    /// A node's wake-up fired.
    pub(crate) fn wake(&mut self, node: u32) {
        let Some(slot) = self.nodes.get_mut(node as usize) else {
            return;
        };
        slot.wake = None;
        self.stats.wakeups += 1;
        slot.node.handle_timeout(ffi::now());
        self.after_activity(node);
    }

    /// The pool of the node behind `port`, to receive into.
    pub(crate) fn pool(&self, port: u32) -> Option<vipe_rt::PacketPool> {
        let port = self.ports.get(port as usize)?;
        Some(self.nodes[port.node as usize].node.pool().clone())
    }

    /// A frame or datagram for `port` arrived.
    pub(crate) fn deliver(&mut self, port: u32, pkt: Packet) {
        let Some(&Port {
            node,
            device,
            backend,
        }) = self.ports.get(port as usize)
        else {
            return;
        };
        match backend {
            Backend::Udp(_) => self.stats.datagrams_received += 1,
            Backend::Csma(_) | Backend::P2p(_) => self.stats.frames_received += 1,
        }
        self.nodes[node as usize]
            .node
            .handle_input(ffi::now(), device, pkt);
        self.after_activity(node);
    }

    /// After a node ran: send what it transmitted, and move its wake-up to its new
    /// deadline (removing the old event, so ns-3 runs only wake-ups that are due).
    fn after_activity(&mut self, node: u32) {
        self.flush(node);
        let slot = &mut self.nodes[node as usize];
        match slot.node.next_deadline() {
            Some(deadline) => {
                let deadline = deadline.max(ffi::now());
                if slot.wake != Some(deadline) {
                    slot.wake = Some(deadline);
                    ffi::wake_at(node, deadline);
                }
            }
            None => {
                if slot.wake.take().is_some() {
                    ffi::wake_cancel(node);
                }
            }
        }
    }

    fn flush(&mut self, node: u32) {
        while let Some(tx) = self.nodes[node as usize].node.poll_transmit() {
            let port = self.nodes[node as usize]
                .ports
                .get(usize::from(tx.device.0))
                .copied()
                .flatten()
                .map(|token| self.ports[token as usize].backend);
            let outcome = match port {
                None => Err("device not bound to ns-3"),
                Some(Backend::Csma(dev)) => send_frame(dev, false, &tx.packet),
                Some(Backend::P2p(dev)) => send_frame(dev, true, &tx.packet),
                Some(Backend::Udp(socket)) => send_datagram(socket, &tx.packet),
            };
            match (outcome, port) {
                (Ok(()), Some(Backend::Udp(_))) => self.stats.datagrams_sent += 1,
                (Ok(()), _) => self.stats.frames_sent += 1,
                (Err(reason), _) => {
                    tracing::debug!(node, device = ?tx.device, reason, "transmit dropped");
                    *self.stats.drops.entry(reason).or_insert(0) += 1;
                }
            }
        }
    }
}

/// Hands an Ethernet frame to an ns-3 device: the header becomes the device's addresses
/// and EtherType, the rest its payload.
fn send_frame(device: u32, p2p: bool, pkt: &Packet) -> Result<(), &'static str> {
    let data = pkt.data();
    if data.len() < 14 {
        return Err("runt frame (shorter than an Ethernet header)");
    }
    let mut dst = [0u8; 6];
    let mut src = [0u8; 6];
    dst.copy_from_slice(&data[0..6]);
    src.copy_from_slice(&data[6..12]);
    let ethertype = u16::from_be_bytes([data[12], data[13]]);
    if ethertype <= 1500 {
        return Err("802.3 length field instead of an EtherType");
    }
    if p2p && ethertype != 0x0800 && ethertype != 0x86dd {
        return Err("EtherType not carried by point-to-point (IPv4 and IPv6 only)");
    }
    if ffi::frame_send(device, &data[14..], &dst, &src, ethertype) {
        Ok(())
    } else {
        Err("device refused the frame (queue full, link down or over the MTU)")
    }
}

/// Sends a datagram on an ns-3 UDP socket to `meta().dst`.
fn send_datagram(socket: u32, pkt: &Packet) -> Result<(), &'static str> {
    let to = match pkt.meta().dst {
        Some(SocketAddr::V4(to)) => to,
        Some(SocketAddr::V6(_)) => return Err("IPv6 destination on an IPv4 socket"),
        None => return Err("datagram without meta().dst"),
    };
    if ffi::udp_send(socket, pkt.data(), SocketAddrV4::new(*to.ip(), to.port())) {
        Ok(())
    } else {
        Err("ns-3 UDP socket refused the datagram")
    }
}
