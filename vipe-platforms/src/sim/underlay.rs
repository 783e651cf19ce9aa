//! The datagram underlay: any node can send a datagram to any other node's address, with
//! a delay from a [`DelayModel`], random loss, duplication and jitter, globally or per
//! pair of nodes. Nothing is stored per pair unless a pair is given its own settings or
//! taken down, so memory stays O(N).
//!
//! Addresses are `SocketAddr`s, the type the Linux UDP backend and ns-3's UDP sockets use:
//! node `n` is `10.0.0.0 + n + 1` (up to 16 777 214 nodes), and each datagram device on
//! it has a port. A protocol reads `meta().src` and sets `meta().dst` exactly as it does
//! on a UDP socket.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rustc_hash::FxBuildHasher;
use vipe_rt::{Duration, NodeId};

use super::delay::DelayModel;

/// First address of the underlay's range (`10.0.0.0`); node `n` is this plus `n + 1`.
const BASE: u32 = 0x0a00_0000;
/// Most nodes the address range holds.
pub const MAX_UNDERLAY_NODES: u32 = (1 << 24) - 2;

/// The IP address of node `node` on the underlay.
pub fn node_ip(node: NodeId) -> Ipv4Addr {
    Ipv4Addr::from(BASE + node.0 + 1)
}

/// The address of port `port` of node `node` on the underlay.
pub fn node_addr(node: NodeId, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(node_ip(node)), port)
}

/// The node an underlay address belongs to, if it is one.
pub fn addr_node(addr: SocketAddr) -> Option<NodeId> {
    match addr.ip() {
        IpAddr::V4(ip) => {
            let n = u32::from(ip).checked_sub(BASE + 1)?;
            (n < MAX_UNDERLAY_NODES).then_some(NodeId(n))
        }
        IpAddr::V6(_) => None,
    }
}

/// How datagrams fare on a path: delay, loss, duplication, jitter.
#[derive(Clone, Debug, PartialEq)]
pub struct PathConfig {
    /// The delay model.
    pub delay: DelayModel,
    /// Probability that a datagram is lost, in `[0, 1]`.
    pub loss: f64,
    /// Probability that a datagram is delivered twice (each copy with its own delay).
    pub duplicate: f64,
    /// Extra delay drawn uniformly in `[0, jitter]` per datagram; datagrams overtake each
    /// other when it exceeds their spacing.
    pub jitter: Duration,
}

impl Default for PathConfig {
    /// 1 ms constant, no loss, no duplication, no jitter.
    fn default() -> Self {
        PathConfig {
            delay: DelayModel::Constant(Duration::from_millis(1)),
            loss: 0.0,
            duplicate: 0.0,
            jitter: Duration::ZERO,
        }
    }
}

impl PathConfig {
    /// A path with this delay model and no loss, duplication or jitter.
    pub fn new(delay: DelayModel) -> Self {
        PathConfig {
            delay,
            ..PathConfig::default()
        }
    }
    /// Sets the loss probability.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    /// Sets the duplication probability.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }
    /// Sets the jitter bound.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Checks the settings, saying what to change.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [("loss", self.loss), ("duplicate", self.duplicate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "path {name} must be a probability in [0, 1], got {p}; e.g. 0.01 for 1%"
                ));
            }
        }
        self.delay.validate()
    }
}

/// What is known about one pair of nodes beyond the global settings.
#[derive(Clone, Debug, Default)]
pub(crate) struct PairState {
    pub(crate) config: Option<PathConfig>,
    pub(crate) down: bool,
}

/// The underlay's settings: global path, per-pair exceptions.
#[derive(Debug, Default)]
pub(crate) struct Underlay {
    pub(crate) global: PathConfig,
    /// Keyed by (lower id, higher id): paths are symmetric.
    pub(crate) pairs: HashMap<(u32, u32), PairState, FxBuildHasher>,
}

impl Underlay {
    #[inline]
    pub(crate) fn key(a: u32, b: u32) -> (u32, u32) {
        (a.min(b), a.max(b))
    }

    /// The settings for `a` → `b`, and whether the pair is down.
    #[inline]
    pub(crate) fn path(&self, a: u32, b: u32) -> (&PathConfig, bool) {
        if self.pairs.is_empty() {
            return (&self.global, false);
        }
        match self.pairs.get(&Self::key(a, b)) {
            Some(state) => (state.config.as_ref().unwrap_or(&self.global), state.down),
            None => (&self.global, false),
        }
    }

    pub(crate) fn pair_mut(&mut self, a: u32, b: u32) -> &mut PairState {
        self.pairs.entry(Self::key(a, b)).or_default()
    }

    /// Forgets pairs that no longer differ from the global settings.
    pub(crate) fn tidy(&mut self, a: u32, b: u32) {
        let key = Self::key(a, b);
        if self
            .pairs
            .get(&key)
            .is_some_and(|s| !s.down && s.config.is_none())
        {
            self.pairs.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_to_nodes_and_back() {
        for n in [0, 1, 255, 65_536, 999_999, MAX_UNDERLAY_NODES - 1] {
            let addr = node_addr(NodeId(n), 4000);
            assert_eq!(addr_node(addr), Some(NodeId(n)));
        }
        assert_eq!(node_addr(NodeId(0), 7).to_string(), "10.0.0.1:7");
        assert_eq!(addr_node("10.0.0.0:1".parse().unwrap()), None);
        assert_eq!(addr_node("192.168.1.1:1".parse().unwrap()), None);
        assert_eq!(addr_node("[::1]:1".parse().unwrap()), None);
    }

    #[test]
    fn bad_probabilities_are_refused_with_a_hint() {
        let err = PathConfig::default().loss(2.0).validate().unwrap_err();
        assert!(err.contains("[0, 1]"), "{err}");
    }
}
