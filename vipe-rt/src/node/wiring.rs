//! Which port leads where: the connections between protocol ports and devices.

use alloc::boxed::Box;
use core::fmt;

use hashbrown::HashMap;
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;

use super::{DeviceId, InstanceId};

/// One end of a connection: a protocol instance's port, with its key for a keyed port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRef {
    /// The instance.
    pub instance: InstanceId,
    /// The port's index in the protocol's descriptor.
    pub port: u16,
    /// The key, for a keyed port.
    pub key: Option<u64>,
}

/// Where a port leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    Port(PortRef),
    Device(DeviceId),
}

/// Why a connection could not be made; each says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WiringError {
    /// The port is already connected; a port (with its key) leads to exactly one place.
    AlreadyConnected {
        /// `protocol.port[key]` as text.
        port: alloc::string::String,
    },
    /// The device is already attached to a port.
    DeviceAlreadyAttached {
        /// The device's name.
        device: alloc::string::String,
    },
    /// No such device in this node.
    UnknownDevice(DeviceId),
    /// No such instance in this node (a handle from another node?).
    UnknownInstance(InstanceId),
    /// The port index is not one of the protocol's ports, or a key was given for an
    /// unkeyed port (or none for a keyed one).
    BadPort {
        /// The protocol's name.
        protocol: &'static str,
        /// The port index given.
        port: u16,
    },
}

impl fmt::Display for WiringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WiringError::AlreadyConnected { port } => write!(
                f,
                "port {port} is already connected; each port (and key) leads to one place: \
                 remove the earlier connect() or use a different key"
            ),
            WiringError::DeviceAlreadyAttached { device } => write!(
                f,
                "device `{device}` is already attached to a port; add a second device instead"
            ),
            WiringError::UnknownDevice(d) => {
                write!(
                    f,
                    "device {d:?} does not exist in this node; use the id add_device() returned"
                )
            }
            WiringError::UnknownInstance(i) => write!(
                f,
                "instance {i:?} does not exist in this node; use the handle this node's add() returned"
            ),
            WiringError::BadPort { protocol, port } => write!(
                f,
                "port index {port} is not a port of protocol `{protocol}` (or its key does not match the port's kind); \
                 build port references with handle.port(...)"
            ),
        }
    }
}

impl core::error::Error for WiringError {}

#[derive(Default)]
struct PortWiring {
    unkeyed: Option<Peer>,
    keyed: Option<Box<Keyed>>,
}

/// Most keys of one port held in a list searched in order (cheaper than hashing for the
/// handful of keys a port usually has: EtherTypes, interfaces, IP protocols).
const FEW_KEYS: usize = 8;

/// A keyed port's peers: a short list, or a hash map beyond [`FEW_KEYS`] keys.
enum Keyed {
    Few(SmallVec<[(u64, Peer); 2]>),
    Many(HashMap<u64, Peer, FxBuildHasher>),
}

impl Keyed {
    #[inline(always)]
    fn get(&self, key: u64) -> Option<&Peer> {
        match self {
            Keyed::Few(list) => list.iter().find(|(k, _)| *k == key).map(|(_, p)| p),
            Keyed::Many(map) => Self::get_many(map, key),
        }
    }

    /// The hash map's lookup, out of line: ports with that many keys are rare, and the
    /// probe's code would otherwise be inlined into every send on a keyed port.
    #[inline(never)]
    fn get_many(map: &HashMap<u64, Peer, FxBuildHasher>, key: u64) -> Option<&Peer> {
        map.get(&key)
    }

    fn insert(&mut self, key: u64, peer: Peer) {
        match self {
            Keyed::Few(list) if list.len() < FEW_KEYS => list.push((key, peer)),
            Keyed::Few(list) => {
                let mut map: HashMap<u64, Peer, FxBuildHasher> = list.drain(..).collect();
                map.insert(key, peer);
                *self = Keyed::Many(map);
            }
            Keyed::Many(map) => {
                map.insert(key, peer);
            }
        }
    }
}

/// The node's connection table: every instance's ports in one flat array (the first two
/// inline in the node), found through each instance's first index.
#[derive(Default)]
pub(crate) struct Wiring {
    ports: SmallVec<[PortWiring; 2]>,
    /// Per instance: index of its first port in `ports`, and its number of ports.
    spans: SmallVec<[(u32, u16); 2]>,
}

impl Wiring {
    /// Makes room for an instance's ports; returns the table index of its first port.
    pub(crate) fn add_instance(&mut self, port_count: usize) -> u32 {
        let first = u32::try_from(self.ports.len()).expect("too many ports in one node");
        let count = u16::try_from(port_count).expect("more than 65535 ports in one protocol");
        // Exact growth: a million simulated nodes carry no spare capacity.
        if self.spans.len() >= self.spans.inline_size() {
            self.spans.reserve_exact(1);
        }
        self.spans.push((first, count));
        if self.ports.len() + port_count > self.ports.inline_size() {
            self.ports.reserve_exact(port_count);
        }
        for _ in 0..port_count {
            self.ports.push(PortWiring::default());
        }
        first
    }

    #[inline]
    fn slot(&self, instance: InstanceId, port: u16) -> Option<usize> {
        let &(first, count) = self.spans.get(usize::from(instance.0))?;
        (port < count).then_some(first as usize + usize::from(port))
    }

    /// Where a port leads. A reference into the table, so the caller copies the peer
    /// once, straight from here to where it goes (building it on the stack first made
    /// the copy into the event queue stall on store forwarding).
    #[inline]
    pub(crate) fn peer(&self, instance: InstanceId, port: u16, key: Option<u64>) -> Option<&Peer> {
        self.peer_at(self.slot(instance, port)?, key)
    }

    /// Where the port at table index `slot` leads (an instance's first port's index plus
    /// the port's own: what a handler's context computes without looking the instance up).
    #[inline(always)]
    pub(crate) fn peer_at(&self, slot: usize, key: Option<u64>) -> Option<&Peer> {
        let wiring = self.ports.get(slot)?;
        match key {
            None => wiring.unkeyed.as_ref(),
            Some(key) => wiring.keyed.as_ref()?.get(key),
        }
    }

    /// Sets where `from` leads; `Err(())` if it already leads somewhere.
    pub(crate) fn set(&mut self, from: PortRef, to: Peer) -> Result<(), ()> {
        let slot = self.slot(from.instance, from.port).ok_or(())?;
        let wiring = &mut self.ports[slot];
        match from.key {
            None if wiring.unkeyed.is_some() => Err(()),
            None => {
                wiring.unkeyed = Some(to);
                Ok(())
            }
            Some(key) => {
                let keyed = wiring
                    .keyed
                    .get_or_insert_with(|| Box::new(Keyed::Few(SmallVec::new())));
                if keyed.get(key).is_some() {
                    return Err(());
                }
                keyed.insert(key, to);
                Ok(())
            }
        }
    }
}
