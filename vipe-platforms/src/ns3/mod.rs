//! The ns-3 platform: VIPE nodes inside the ns-3 3.37 simulator, through a thin C++ shim
//! (`ns3-shim/shim.cc`).
//!
//! Each VIPE node lives on its own ns-3 node. Its timers are ns-3 events
//! (`Simulator::Schedule`, one pending wake-up per node, removed from the scheduler when
//! the node's deadline moves), its clock is `Simulator::Now`, and its RNG is seeded from
//! the world's seed. Its devices are
//! - **frame devices** on ns-3 NetDevices: CSMA (any EtherType: ARP, IPv4 with
//!   fragments, broadcast) or point-to-point (IPv4 and IPv6 only, ns-3's PPP framing), so
//!   the VIPE stack runs at L2 over ns-3's link models, beside nodes running ns-3's own
//!   Internet stack;
//! - **datagram devices** on ns-3's own UDP sockets, for overlay protocols on top of
//!   ns-3's stack.
//!
//! Captures come from ns-3's tracing (`EnablePcap`). Callbacks from C++ never unwind: a
//! panic is caught, the run stops and returns [`Ns3Error::Panicked`]. ns-3's simulator
//! is one per process, so a world holds a process-wide lock for its whole life: two
//! worlds never run concurrently (a second one waits, e.g. in parallel tests).
//!
//! ```no_run
//! use vipe_platforms::ns3::{CsmaConfig, Ns3World};
//! use vipe_rt::Instant;
//!
//! let mut world = Ns3World::new(42).unwrap();
//! let (a, b) = (world.add_node(), world.add_node());
//! let lan = world.csma_channel(CsmaConfig::default()).unwrap();
//! let da = world.attach_csma(a, lan, [2, 0, 0, 0, 0, 1]).unwrap();
//! let db = world.attach_csma(b, lan, [2, 0, 0, 0, 0, 2]).unwrap();
//! // ... build stacks in world.node_mut(a) on da.device, and in b on db.device ...
//! world.capture(da.net_device, "a.pcap").unwrap();
//! world.run_until(Instant::from_secs(1)).unwrap();
//! ```
#![allow(unsafe_code)]

mod callbacks;
mod config;
mod error;
mod ffi;
mod lock;
mod state;

use std::cell::{Cell, RefCell};
use std::ffi::{CString, c_void};
use std::net::SocketAddrV4;
use std::path::Path;
use std::ptr::NonNull;

use vipe_rt::{DeviceId, DeviceKind, Instant, Node, NodeConfig, NodeId};

pub use config::{CsmaConfig, Ipv4Setup, P2pConfig};
pub use error::Ns3Error;
pub use state::Ns3Stats;

use callbacks::{DoneFn, Shared};
use lock::SimulatorLock;
use state::{Backend, NodeSlot, State};

/// A CSMA channel of the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelId(pub u32);

/// A node running only ns-3's own models (Internet stack, applications), no VIPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NativeId(pub u32);

/// An ns-3 NetDevice the world made (to capture it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetDeviceId(pub u32);

/// An ns-3 node: one carrying a VIPE node, or a native one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// The ns-3 node under a VIPE node.
    Vipe(NodeId),
    /// A native ns-3 node.
    Native(NativeId),
}

impl From<NodeId> for Host {
    fn from(id: NodeId) -> Self {
        Host::Vipe(id)
    }
}

impl From<NativeId> for Host {
    fn from(id: NativeId) -> Self {
        Host::Native(id)
    }
}

/// A bulk transfer of ns-3's own TCP between two native nodes
/// ([`Ns3World::tcp_bulk`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpFlowId(pub u32);

/// A VIPE frame device on an ns-3 NetDevice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameDevice {
    /// The device in the VIPE node (attach the Ethernet protocol here).
    pub device: DeviceId,
    /// The ns-3 device behind it (to capture).
    pub net_device: NetDeviceId,
}

/// What a run reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// Simulated time at the end of the run.
    pub now: Instant,
    /// ns-3 events this run executed.
    pub events: u64,
    /// Whether the run's condition stopped it before its end time.
    pub done: bool,
}

/// Read access to the world's VIPE nodes, for a run's stop condition.
pub struct NodeView<'a> {
    nodes: &'a [NodeSlot],
}

impl NodeView<'_> {
    /// A VIPE node.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize).map(|s| &s.node)
    }

    /// Simulated time now.
    pub fn now(&self) -> Instant {
        ffi::now()
    }
}

struct Native {
    ns3: u32,
    internet: bool,
}

/// An ns-3 simulation holding VIPE nodes (and native ns-3 nodes beside them).
///
/// Only one exists per process at a time (ns-3's simulator is a singleton); dropping it
/// releases the sockets, destroys the simulation (closing the pcap files) and lets the
/// next world start.
pub struct Ns3World {
    shared: NonNull<Shared>,
    seed: u64,
    natives: Vec<Native>,
    /// Device queue limit of each channel, by [`ChannelId`].
    queue_limits: Vec<u32>,
    /// ns-3 devices made, by [`NetDeviceId`]: their shim handles.
    net_devices: Vec<u32>,
    ended: bool,
    _lock: SimulatorLock,
}

impl Ns3World {
    /// A new, empty simulation whose randomness derives from `seed` (VIPE nodes' RNGs and
    /// ns-3's `RngSeedManager`). Waits while another thread has a world.
    pub fn new(seed: u64) -> Result<Self, Ns3Error> {
        let lock = SimulatorLock::acquire().ok_or(Ns3Error::WorldExists)?;
        let shared = Box::new(Shared {
            state: RefCell::new(State::default()),
            done: Cell::new(None),
            deferred: RefCell::new(std::collections::VecDeque::new()),
        });
        let shared = NonNull::from(Box::leak(shared));
        let ns3_seed = (mix(seed, u64::MAX - 1) % u64::from(u32::MAX - 1)) as u32 + 1;
        // SAFETY: `shared` stays valid until Drop frees it after vipe_ns3_end; the
        // callbacks match the shim's typedefs. The lock guarantees no other world.
        let rc = unsafe {
            ffi::vipe_ns3_begin(
                shared.as_ptr().cast::<c_void>(),
                callbacks::on_wake,
                callbacks::on_frame,
                callbacks::on_datagram,
                ns3_seed,
                1,
            )
        };
        let world = Ns3World {
            shared,
            seed,
            natives: Vec::new(),
            queue_limits: Vec::new(),
            net_devices: Vec::new(),
            ended: rc != 0,
            _lock: lock,
        };
        if rc != 0 {
            return Err(Ns3Error::Refused(
                "start a simulation (one is already active)",
            ));
        }
        Ok(world)
    }

    fn state(&mut self) -> &mut State {
        // SAFETY: callbacks reach the shared state only while ns-3 runs, which happens
        // only inside `run_inner` while it holds `&mut self` and no reference into the
        // state; so `&mut self` is exclusive access here.
        unsafe { self.shared.as_mut() }.state.get_mut()
    }

    fn state_ref(&self) -> &State {
        // SAFETY: as in `state`: no callback runs outside `run_inner`, so nothing writes
        // the state while `&self` is borrowed.
        unsafe { &*self.shared.as_ref().state.as_ptr() }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Simulated time now (ns-3's `Simulator::Now`).
    pub fn now(&self) -> Instant {
        ffi::now()
    }

    /// Counters so far.
    pub fn stats(&self) -> &Ns3Stats {
        &self.state_ref().stats
    }

    /// Sets the default value of an ns-3 attribute for the objects created after it,
    /// as `Config::SetDefault` does: e.g. `("ns3::ArpCache::PendingQueueSize", "1000")`,
    /// since ns-3 keeps only 3 datagrams per unresolved neighbour and a protocol that
    /// talks to many peers at once loses the rest. An unknown attribute or a value it
    /// refuses is an error.
    pub fn set_default(&mut self, attribute: &str, value: &str) -> Result<(), Ns3Error> {
        let bad = || Ns3Error::BadConfig(format!("ns-3 refused {attribute} = {value}"));
        let name = std::ffi::CString::new(attribute).map_err(|_| bad())?;
        let text = std::ffi::CString::new(value).map_err(|_| bad())?;
        // SAFETY: both pointers are NUL-terminated strings that outlive the call; the
        // shim only reads them.
        let rc = unsafe { ffi::vipe_ns3_set_default(name.as_ptr(), text.as_ptr()) };
        if rc == 0 { Ok(()) } else { Err(bad()) }
    }

    /// Adds a VIPE node on a new ns-3 node (ids count from 0); its RNG is seeded from the
    /// world's seed.
    pub fn add_node(&mut self) -> NodeId {
        let id = NodeId(self.state_ref().nodes.len() as u32);
        let mut config = NodeConfig::new(id);
        config.seed = mix(self.seed, u64::from(id.0));
        config.timer_resolution = vipe_rt::Duration::from_nanos(1);
        // SAFETY: takes no pointers.
        let ns3 = unsafe { ffi::vipe_ns3_node_create() };
        let state = self.state();
        state
            .nodes
            .push(NodeSlot::new(Node::with_config(config), ns3));
        state.start_late(id.0);
        id
    }

    /// A VIPE node, to add protocols and read results.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.state_ref().nodes.get(id.0 as usize).map(|s| &s.node)
    }

    /// A VIPE node, writable. Changes made between runs (protocols added, timers armed)
    /// are picked up when the next run starts.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.state()
            .nodes
            .get_mut(id.0 as usize)
            .map(|s| &mut s.node)
    }

    /// Adds a native ns-3 node (no VIPE node on it).
    pub fn add_native_node(&mut self) -> NativeId {
        // SAFETY: takes no pointers.
        let ns3 = unsafe { ffi::vipe_ns3_node_create() };
        self.natives.push(Native {
            ns3,
            internet: false,
        });
        NativeId(self.natives.len() as u32 - 1)
    }

    /// The ns-3 id of a host's node (its `NodeList` index, the context of its events).
    pub fn ns3_node_id(&self, host: impl Into<Host>) -> Result<u32, Ns3Error> {
        let handle = self.host_handle(host.into())?;
        // SAFETY: takes no pointers; the shim checks the handle.
        Ok(unsafe { ffi::vipe_ns3_node_id(handle) })
    }

    /// A new CSMA channel (a shared Ethernet segment).
    pub fn csma_channel(&mut self, config: CsmaConfig) -> Result<ChannelId, Ns3Error> {
        config.validate().map_err(Ns3Error::BadConfig)?;
        // SAFETY: takes no pointers.
        let handle = unsafe {
            ffi::vipe_ns3_csma_channel(config.data_rate_bps, ffi::nanos(config.delay.as_nanos()))
        };
        debug_assert_eq!(handle as usize, self.queue_limits.len());
        self.queue_limits.push(config.queue_packets);
        Ok(ChannelId(handle))
    }

    /// Gives VIPE node `node` a frame device (named `eth0`, `eth1`, ...) on a new CSMA
    /// device with address `mac` on `channel`. Every frame on the channel reaches the
    /// node (its Ethernet protocol filters by address), so give its Ethernet the same MAC.
    pub fn attach_csma(
        &mut self,
        node: NodeId,
        channel: ChannelId,
        mac: [u8; 6],
    ) -> Result<FrameDevice, Ns3Error> {
        let ns3 = self.host_handle(Host::Vipe(node))?;
        let dev = self.csma_device(ns3, channel, mac)?;
        let state = self.state();
        let slot = &mut state.nodes[node.0 as usize];
        let name = format!("eth{}", slot.node.devices().count());
        let device = slot.node.add_device(&name, DeviceKind::Frame);
        let token = state.bind(node, device, Backend::Csma(dev));
        // SAFETY: takes no pointers; the shim checks the handle.
        if unsafe { ffi::vipe_ns3_frame_listen(dev, token) } != 0 {
            return Err(Ns3Error::Refused("listen on a CSMA device"));
        }
        Ok(FrameDevice {
            device,
            net_device: self.add_net_device(dev),
        })
    }

    /// Links VIPE nodes `a` and `b` with a point-to-point link, giving each a frame device
    /// (device addresses `mac_a`, `mac_b`). Only IPv4 and IPv6 frames cross it (others
    /// are dropped, counted in [`Ns3Stats::drops`]); a frame arrives addressed from the
    /// peer's MAC to the receiver's.
    pub fn p2p_link(
        &mut self,
        a: NodeId,
        b: NodeId,
        config: P2pConfig,
        mac_a: [u8; 6],
        mac_b: [u8; 6],
    ) -> Result<(FrameDevice, FrameDevice), Ns3Error> {
        config.validate().map_err(Ns3Error::BadConfig)?;
        if a == b {
            return Err(Ns3Error::SelfLink(a));
        }
        let (na, nb) = (
            self.host_handle(Host::Vipe(a))?,
            self.host_handle(Host::Vipe(b))?,
        );
        let out = join_p2p((na, nb), (mac_a, mac_b), &config)?;
        let mut ends = Vec::new();
        for (node, dev) in [(a, out[0]), (b, out[1])] {
            let state = self.state();
            let slot = &mut state.nodes[node.0 as usize];
            let name = format!("eth{}", slot.node.devices().count());
            let device = slot.node.add_device(&name, DeviceKind::Frame);
            let token = state.bind(node, device, Backend::P2p(dev));
            // SAFETY: takes no pointers; the shim checks the handle.
            if unsafe { ffi::vipe_ns3_frame_listen(dev, token) } != 0 {
                return Err(Ns3Error::Refused("listen on a point-to-point device"));
            }
            ends.push(FrameDevice {
                device,
                net_device: self.add_net_device(dev),
            });
        }
        Ok((ends[0], ends[1]))
    }

    /// Gives a host an IPv4 interface of ns-3's own Internet stack (installed on its ns-3
    /// node on first use: ARP, IPv4, ICMP, UDP, TCP) on a new CSMA device with address
    /// `mac` on `channel`. On a VIPE node this is what its UDP sockets use; on a native
    /// node it is that node's network interface.
    pub fn ipv4_interface(
        &mut self,
        host: impl Into<Host>,
        channel: ChannelId,
        mac: [u8; 6],
        setup: Ipv4Setup,
    ) -> Result<NetDeviceId, Ns3Error> {
        let host = host.into();
        if setup.prefix_len > 32 {
            return Err(Ns3Error::BadConfig(format!(
                "prefix length /{} is over 32",
                setup.prefix_len
            )));
        }
        let ns3 = self.host_handle(host)?;
        let dev = self.csma_device(ns3, channel, mac)?;
        if !self.has_internet(host) {
            // SAFETY: takes no pointers; the shim checks the handle.
            if unsafe { ffi::vipe_ns3_internet_install(ns3) } != 0 {
                return Err(Ns3Error::Refused("install the Internet stack"));
            }
            match host {
                Host::Vipe(n) => self.state().nodes[n.0 as usize].internet = true,
                Host::Native(n) => self.natives[n.0 as usize].internet = true,
            }
        }
        // SAFETY: takes no pointers; the shim checks the handle.
        let index = unsafe { ffi::vipe_ns3_ipv4_add(dev, u32::from(setup.addr), setup.prefix_len) };
        let Ok(index) = u32::try_from(index) else {
            return Err(Ns3Error::Refused("add an IPv4 interface"));
        };
        if let Host::Vipe(n) = host {
            self.state().nodes[n.0 as usize].addrs.push(setup.addr);
        }
        if let Some(gateway) = setup.gateway {
            // SAFETY: takes no pointers; the shim checks the handles.
            if unsafe { ffi::vipe_ns3_ipv4_default_route(ns3, u32::from(gateway), index) } != 0 {
                return Err(Ns3Error::Refused("set a default route"));
            }
        }
        Ok(self.add_net_device(dev))
    }

    /// Gives VIPE node `node` a datagram device (named `udp0`, `udp1`, ...) on an ns-3 UDP
    /// socket bound to `local` (port 0: ns-3 picks one). Received datagrams carry
    /// `meta().src`; the node sends to `meta().dst`. The node needs an
    /// [`ipv4_interface`](Self::ipv4_interface) first.
    pub fn udp_socket(&mut self, node: NodeId, local: SocketAddrV4) -> Result<DeviceId, Ns3Error> {
        let ns3 = self.host_handle(Host::Vipe(node))?;
        if !self.has_internet(Host::Vipe(node)) {
            return Err(Ns3Error::NoInternetStack(Host::Vipe(node)));
        }
        let state = self.state();
        // ns-3 binds to any address; a socket on an address the node does not have would
        // silently never receive.
        if !local.ip().is_unspecified() && !state.nodes[node.0 as usize].addrs.contains(local.ip())
        {
            return Err(Ns3Error::Bind(local));
        }
        let slot = &mut state.nodes[node.0 as usize];
        let name = format!(
            "udp{}",
            slot.node
                .devices()
                .filter(|(_, _, k)| *k == DeviceKind::Datagram)
                .count()
        );
        let device = slot.node.add_device(&name, DeviceKind::Datagram);
        let token = state.ports.len() as u32;
        // SAFETY: takes no pointers; the shim checks the handle.
        let socket =
            unsafe { ffi::vipe_ns3_udp_open(ns3, u32::from(*local.ip()), local.port(), token) };
        match socket {
            -1 => return Err(Ns3Error::NoInternetStack(Host::Vipe(node))),
            s if s < 0 => return Err(Ns3Error::Bind(local)),
            _ => {}
        }
        let bound = state.bind(node, device, Backend::Udp(socket as u32));
        debug_assert_eq!(bound, token);
        Ok(device)
    }

    /// Runs ns-3's `UdpEchoServer` application on a native node, on `port`, from time 0.
    pub fn udp_echo_server(&mut self, native: NativeId, port: u16) -> Result<(), Ns3Error> {
        let ns3 = self.host_handle(Host::Native(native))?;
        if !self.has_internet(Host::Native(native)) {
            return Err(Ns3Error::NoInternetStack(Host::Native(native)));
        }
        // SAFETY: takes no pointers; the shim checks the handle.
        if unsafe { ffi::vipe_ns3_udp_echo_server(ns3, port) } != 0 {
            return Err(Ns3Error::Refused("install UdpEchoServer"));
        }
        Ok(())
    }

    /// Links native nodes `a` and `b` with a point-to-point link (ns-3's
    /// `PointToPointHelper`, drop-tail device queues of `config.queue_packets`) and gives
    /// them the IPv4 addresses `addrs.0` and `addrs.1` (prefix `prefix_len`) on it,
    /// installing ns-3's Internet stack first where needed. No queue disc is installed,
    /// so the device queue is the only queue, as for a VIPE node's frame device.
    pub fn native_p2p_link(
        &mut self,
        a: NativeId,
        b: NativeId,
        config: P2pConfig,
        addrs: (std::net::Ipv4Addr, std::net::Ipv4Addr),
        prefix_len: u8,
    ) -> Result<(NetDeviceId, NetDeviceId), Ns3Error> {
        config.validate().map_err(Ns3Error::BadConfig)?;
        if prefix_len > 32 {
            return Err(Ns3Error::BadConfig(format!(
                "prefix length /{prefix_len} is over 32"
            )));
        }
        if a == b {
            return Err(Ns3Error::BadConfig(
                "a point-to-point link needs two different nodes".into(),
            ));
        }
        let (na, nb) = (
            self.host_handle(Host::Native(a))?,
            self.host_handle(Host::Native(b))?,
        );
        let macs = ([2, 0, 0, 0, 0xa, 1], [2, 0, 0, 0, 0xa, 2]);
        let out = join_p2p((na, nb), macs, &config)?;
        for (native, handle, dev, addr) in [(a, na, out[0], addrs.0), (b, nb, out[1], addrs.1)] {
            if !self.has_internet(Host::Native(native)) {
                // SAFETY: takes no pointers; the shim checks the handle.
                if unsafe { ffi::vipe_ns3_internet_install(handle) } != 0 {
                    return Err(Ns3Error::Refused("install the Internet stack"));
                }
                self.natives[native.0 as usize].internet = true;
            }
            // SAFETY: takes no pointers; the shim checks the handle.
            if unsafe { ffi::vipe_ns3_ipv4_add(dev, u32::from(addr), prefix_len) } < 0 {
                return Err(Ns3Error::Refused("add an IPv4 interface"));
            }
        }
        Ok((self.add_net_device(out[0]), self.add_net_device(out[1])))
    }

    /// Runs a bulk transfer of ns-3's own TCP (the socket type and options set by the
    /// `ns3::TcpL4Protocol::*` / `ns3::TcpSocket::*` / `ns3::TcpSocketBase::*` defaults,
    /// see [`set_default`](Self::set_default)) from native node `sender` to `dst` on
    /// native node `receiver`: a `PacketSink` listens at `dst`'s port from time 0, and at
    /// `start` the sender connects and writes `bytes` bytes (0: without end). The
    /// sender's congestion window is traced at every change
    /// ([`tcp_flow_cwnd`](Self::tcp_flow_cwnd)).
    pub fn tcp_bulk(
        &mut self,
        sender: NativeId,
        receiver: NativeId,
        dst: SocketAddrV4,
        bytes: u64,
        start: Instant,
    ) -> Result<TcpFlowId, Ns3Error> {
        let (ns, nr) = (
            self.host_handle(Host::Native(sender))?,
            self.host_handle(Host::Native(receiver))?,
        );
        for n in [sender, receiver] {
            if !self.has_internet(Host::Native(n)) {
                return Err(Ns3Error::NoInternetStack(Host::Native(n)));
            }
        }
        // SAFETY: takes no pointers; the shim checks the handles.
        let flow = unsafe {
            ffi::vipe_ns3_tcp_bulk(
                ns,
                nr,
                u32::from(*dst.ip()),
                dst.port(),
                bytes,
                ffi::nanos(start.as_nanos()),
            )
        };
        u32::try_from(flow)
            .map(TcpFlowId)
            .map_err(|_| Ns3Error::Refused("start a TCP bulk transfer"))
    }

    /// Bytes a [`tcp_bulk`](Self::tcp_bulk) flow's receiver has read so far.
    pub fn tcp_flow_received(&self, flow: TcpFlowId) -> Result<u64, Ns3Error> {
        // SAFETY: takes no pointers; the shim checks the handle.
        match unsafe { ffi::vipe_ns3_tcp_flow_received(flow.0) } {
            u64::MAX => Err(Ns3Error::Refused("read an unknown TCP flow")),
            n => Ok(n),
        }
    }

    /// A [`tcp_bulk`](Self::tcp_bulk) flow's congestion window (bytes) at each change so
    /// far, with the time of the change.
    pub fn tcp_flow_cwnd(&self, flow: TcpFlowId) -> Result<Vec<(Instant, u32)>, Ns3Error> {
        let mut out = Vec::new();
        let mut times = vec![0i64; 4096];
        let mut cwnds = vec![0u32; 4096];
        loop {
            // SAFETY: `times` and `cwnds` hold `cap` elements each, live for the call;
            // the shim writes at most `cap` of each.
            let n = unsafe {
                ffi::vipe_ns3_tcp_flow_cwnd(
                    flow.0,
                    out.len() as u64,
                    times.as_mut_ptr(),
                    cwnds.as_mut_ptr(),
                    times.len() as u64,
                )
            };
            let Ok(n) = usize::try_from(n) else {
                return Err(Ns3Error::Refused("read an unknown TCP flow"));
            };
            out.extend(
                times[..n]
                    .iter()
                    .zip(&cwnds[..n])
                    .map(|(&t, &c)| (Instant::from_nanos(t.max(0) as u64), c)),
            );
            if n < times.len() {
                return Ok(out);
            }
        }
    }

    /// Writes a pcap of an ns-3 device, from ns-3's own tracing in promiscuous mode
    /// (every frame on the device's link, like `tcpdump` on a NIC), to exactly `path`
    /// (its directory is created). Complete once the world is dropped or
    /// [`into_nodes`](Self::into_nodes) is called.
    pub fn capture(
        &mut self,
        net_device: NetDeviceId,
        path: impl AsRef<Path>,
    ) -> Result<(), Ns3Error> {
        let dev = *self
            .net_devices
            .get(net_device.0 as usize)
            .ok_or(Ns3Error::UnknownNetDevice(net_device))?;
        let path = path.as_ref();
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Ns3Error::Capture(shown.clone(), e))?;
        }
        // ns-3 aborts the process if it cannot open the file: find out here instead.
        std::fs::File::create(path).map_err(|e| Ns3Error::Capture(shown.clone(), e))?;
        let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
            Ns3Error::Capture(
                shown.clone(),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"),
            )
        })?;
        // SAFETY: `c_path` is a NUL-terminated string live for the call; ns-3 copies it.
        if unsafe { ffi::vipe_ns3_pcap(dev, c_path.as_ptr(), 1) } != 0 {
            return Err(Ns3Error::Refused("enable pcap on the device"));
        }
        Ok(())
    }

    /// Runs until simulated time `end` (time is then `end`).
    pub fn run_until(&mut self, end: Instant) -> Result<RunSummary, Ns3Error> {
        self.run_inner(end, None)
    }

    /// Runs for `duration` of simulated time from now.
    pub fn run_for(&mut self, duration: vipe_rt::Duration) -> Result<RunSummary, Ns3Error> {
        let end = self.now() + duration;
        self.run_until(end)
    }

    /// Runs until `end`, or until `done` (checked after every VIPE event) holds.
    pub fn run_until_done(
        &mut self,
        end: Instant,
        mut done: impl FnMut(&NodeView<'_>) -> bool,
    ) -> Result<RunSummary, Ns3Error> {
        self.run_inner(end, Some(&mut done))
    }

    fn run_inner(
        &mut self,
        end: Instant,
        done: Option<&mut (dyn for<'v> FnMut(&NodeView<'v>) -> bool + '_)>,
    ) -> Result<RunSummary, Ns3Error> {
        if let Some(why) = &self.state().failure {
            return Err(Ns3Error::Panicked(why.clone()));
        }
        if end < self.now() {
            return Err(Ns3Error::BadConfig(format!(
                "run end {end} is before now ({})",
                self.now()
            )));
        }
        let state = self.state();
        if state.started {
            state.resync();
        } else {
            state.start();
        }
        let before = ffi::event_count();
        if let Some(done) = done {
            // SAFETY: only the lifetime is erased. The pointer is stored for this run
            // only and cleared below, before `done`'s borrow ends; callbacks (the only
            // users) run only inside vipe_ns3_run_until.
            let done: *mut DoneFn = unsafe {
                std::mem::transmute::<
                    &mut (dyn for<'v> FnMut(&NodeView<'v>) -> bool + '_),
                    *mut DoneFn,
                >(done)
            };
            // SAFETY: see `state`; no callback is running.
            unsafe { self.shared.as_ref() }.done.set(Some(done));
        }
        // SAFETY: takes no pointers. While it runs, the callbacks use the shared state;
        // this function holds no reference into it across the call.
        unsafe { ffi::vipe_ns3_run_until(ffi::nanos(end.as_nanos())) };
        // SAFETY: see `state`; the run is over.
        unsafe { self.shared.as_ref() }.done.set(None);
        let events = ffi::event_count() - before;
        let now = self.now();
        let state = self.state();
        state.stats.events += events;
        if let Some(why) = &state.failure {
            return Err(Ns3Error::Panicked(why.clone()));
        }
        Ok(RunSummary {
            now,
            events,
            done: now < end,
        })
    }

    /// Stops every VIPE node (their `#[on_stop]` handlers run; what they send is handed
    /// to ns-3 but not simulated unless the world runs again).
    pub fn stop(&mut self) {
        self.state().stop();
    }

    /// Ends the simulation (sockets released, `Simulator::Destroy`, pcap files closed)
    /// and returns the VIPE nodes in id order, to read results from.
    pub fn into_nodes(mut self) -> Vec<Node> {
        self.end();
        std::mem::take(&mut self.state().nodes)
            .into_iter()
            .map(|slot| slot.node)
            .collect()
    }

    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            // SAFETY: takes no pointers; no callback runs after it returns.
            unsafe { ffi::vipe_ns3_end() };
        }
    }

    fn host_handle(&self, host: Host) -> Result<u32, Ns3Error> {
        match host {
            Host::Vipe(n) => self
                .state_ref()
                .nodes
                .get(n.0 as usize)
                .map(|s| s.ns3)
                .ok_or(Ns3Error::UnknownNode(n)),
            Host::Native(n) => self
                .natives
                .get(n.0 as usize)
                .map(|s| s.ns3)
                .ok_or(Ns3Error::UnknownNative(n)),
        }
    }

    fn has_internet(&self, host: Host) -> bool {
        match host {
            Host::Vipe(n) => self
                .state_ref()
                .nodes
                .get(n.0 as usize)
                .is_some_and(|s| s.internet),
            Host::Native(n) => self.natives.get(n.0 as usize).is_some_and(|s| s.internet),
        }
    }

    fn csma_device(&mut self, ns3: u32, channel: ChannelId, mac: [u8; 6]) -> Result<u32, Ns3Error> {
        let queue = *self
            .queue_limits
            .get(channel.0 as usize)
            .ok_or(Ns3Error::UnknownChannel(channel))?;
        // SAFETY: `mac` is a 6-byte array live for the call.
        let dev = unsafe { ffi::vipe_ns3_csma_attach(ns3, channel.0, mac.as_ptr(), queue) };
        u32::try_from(dev).map_err(|_| Ns3Error::Refused("attach a CSMA device"))
    }

    fn add_net_device(&mut self, handle: u32) -> NetDeviceId {
        self.net_devices.push(handle);
        NetDeviceId(self.net_devices.len() as u32 - 1)
    }
}

impl Drop for Ns3World {
    fn drop(&mut self) {
        self.end();
        // SAFETY: `shared` came from Box::leak in `new`; the simulation has ended, so the
        // shim holds no pointer to it any more.
        drop(unsafe { Box::from_raw(self.shared.as_ptr()) });
    }
}

/// SplitMix64 finaliser: independent seeds for each node from one seed.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Joins two ns-3 nodes (by handle) with a point-to-point link with these MACs; returns
/// the two ends' device indexes.
fn join_p2p(
    (na, nb): (u32, u32),
    (mac_a, mac_b): ([u8; 6], [u8; 6]),
    config: &P2pConfig,
) -> Result<[u32; 2], Ns3Error> {
    let mut out = [0u32; 2];
    // SAFETY: the MACs are 6-byte arrays and `out` two u32s, all live for the call.
    let rc = unsafe {
        ffi::vipe_ns3_p2p_link(
            na,
            nb,
            config.data_rate_bps,
            ffi::nanos(config.delay.as_nanos()),
            mac_a.as_ptr(),
            mac_b.as_ptr(),
            config.queue_packets,
            out.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Ns3Error::Refused("make a point-to-point link"));
    }
    Ok(out)
}
