//! The Linux platform: one node driven by an epoll event loop (mio) over TAP devices
//! (real Ethernet frames, interoperating with the kernel's stack) and UDP sockets
//! (datagram devices, for deployment across real hosts).
//!
//! The loop reads every ready device into pool buffers and feeds the node, sends what the
//! node transmits, and sleeps in `epoll_wait` until the next device event or the node's
//! next deadline — no busy loop: an idle node costs nothing. SIGINT and SIGTERM stop it
//! gracefully.

mod tap;

use std::io;
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use vipe_rt::{DeviceId, Instant, Node};

pub use tap::TapDevice;

use crate::pcap::Capture;

const SIGNAL_TOKEN: Token = Token(usize::MAX);

/// What backs a device.
#[derive(Debug)]
enum Backend {
    Tap(TapDevice),
    Udp(mio::net::UdpSocket),
}

#[derive(Debug)]
struct Port {
    device: DeviceId,
    backend: Backend,
    capture: Option<CaptureSlot>,
}

struct CaptureSlot(Capture);

impl std::fmt::Debug for CaptureSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

/// Counters of the loop itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Times the loop woke up.
    pub wakeups: u64,
    /// Frames or datagrams read from devices.
    pub received: u64,
    /// Frames or datagrams written to devices.
    pub sent: u64,
    /// Writes that failed (device gone, buffer full, ...), dropped and counted.
    pub send_errors: u64,
    /// Reads that failed with something other than "nothing to read".
    pub receive_errors: u64,
}

/// Why the loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Signal,
    /// The caller's condition held.
    Condition,
    /// The time limit passed.
    TimeLimit,
}

/// The Linux platform driving one node.
pub struct LinuxPlatform {
    node: Node,
    poll: Poll,
    ports: Vec<Port>,
    epoch: StdInstant,
    signals: Signals,
    stats: LoopStats,
    mtu: usize,
    started: bool,
}

impl LinuxPlatform {
    /// A platform for `node`; SIGINT and SIGTERM will stop [`run`](Self::run).
    pub fn new(node: Node) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut signals =
            Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)?;
        Ok(LinuxPlatform {
            node,
            poll,
            ports: Vec::new(),
            epoch: StdInstant::now(),
            signals,
            stats: LoopStats::default(),
            mtu: 65535,
            started: false,
        })
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node, to add protocols and read results.
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    /// The node back, after running (to read results).
    pub fn into_node(self) -> Node {
        self.node
    }

    /// Counters of the loop.
    pub fn stats(&self) -> &LoopStats {
        &self.stats
    }

    /// Binds node device `device` to a TAP device.
    pub fn add_tap(&mut self, device: DeviceId, tap: TapDevice) -> io::Result<()> {
        let token = Token(self.ports.len());
        self.poll
            .registry()
            .register(&mut SourceFd(&tap.raw_fd()), token, Interest::READABLE)?;
        self.ports.push(Port {
            device,
            backend: Backend::Tap(tap),
            capture: None,
        });
        Ok(())
    }

    /// Binds node device `device` to a UDP socket: datagrams received arrive with
    /// `meta().src` set; the node sends to `meta().dst`.
    pub fn add_udp(&mut self, device: DeviceId, socket: UdpSocket) -> io::Result<()> {
        socket.set_nonblocking(true)?;
        let mut socket = mio::net::UdpSocket::from_std(socket);
        let token = Token(self.ports.len());
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)?;
        self.ports.push(Port {
            device,
            backend: Backend::Udp(socket),
            capture: None,
        });
        Ok(())
    }

    /// Writes every frame a TAP-backed device sends or receives to a pcap file.
    pub fn capture(&mut self, device: DeviceId, path: impl AsRef<Path>) -> io::Result<()> {
        let port = self
            .ports
            .iter_mut()
            .find(|p| p.device == device)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("device {device:?} is not bound"),
                )
            })?;
        port.capture = Some(CaptureSlot(Capture::create(path.as_ref())?));
        Ok(())
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// Runs until SIGINT/SIGTERM, `limit` (if any) or `done(node)` holds after an event.
    pub fn run(
        &mut self,
        limit: Option<StdDuration>,
        mut done: impl FnMut(&Node) -> bool,
    ) -> io::Result<StopReason> {
        let started_at = StdInstant::now();
        if !self.started {
            self.started = true;
            let now = self.now();
            self.node.start(now);
            self.flush();
        }
        let mut events = Events::with_capacity(64);
        loop {
            if done(&self.node) {
                return Ok(StopReason::Condition);
            }
            let now = self.now();
            let mut timeout = self
                .node
                .next_deadline()
                .map(|d| StdDuration::from_nanos(d.saturating_duration_since(now).as_nanos()));
            if let Some(limit) = limit {
                let left = limit.saturating_sub(started_at.elapsed());
                if left.is_zero() {
                    return Ok(StopReason::TimeLimit);
                }
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.stats.wakeups += 1;
            for event in events.iter() {
                if event.token() == SIGNAL_TOKEN {
                    if self.signals.pending().next().is_some() {
                        tracing::info!(stats = ?self.stats, "signal received; stopping");
                        self.node.stop(self.now());
                        self.flush();
                        return Ok(StopReason::Signal);
                    }
                    continue;
                }
                self.drain_device(event.token().0);
            }
            let now = self.now();
            self.node.handle_timeout(now);
            self.flush();
        }
    }

    /// Reads everything waiting on a device into the node.
    fn drain_device(&mut self, index: usize) {
        loop {
            let mut pkt = self.node.pool().alloc_with_headroom(64);
            let port = &mut self.ports[index];
            let room = pkt.put(self.mtu.min(65535));
            let result = match &mut port.backend {
                Backend::Tap(tap) => tap.recv(room).map(|n| (n, None)),
                Backend::Udp(socket) => socket.recv_from(room).map(|(n, from)| (n, Some(from))),
            };
            match result {
                Ok((n, from)) => {
                    pkt.truncate(n);
                    pkt.meta_mut().src = from;
                    let device = port.device;
                    if let Some(capture) = &mut port.capture {
                        let now = Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64);
                        capture.0.write(now, pkt.data());
                    }
                    self.stats.received += 1;
                    let now = self.now();
                    self.node.handle_input(now, device, pkt);
                    self.flush();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.receive_errors += 1;
                    tracing::warn!(device = ?self.ports[index].device, error = %e, "device read failed");
                    return;
                }
            }
        }
    }

    /// Sends what the node transmitted.
    fn flush(&mut self) {
        while let Some(tx) = self.node.poll_transmit() {
            let Some(port) = self.ports.iter_mut().find(|p| p.device == tx.device) else {
                self.stats.send_errors += 1;
                continue;
            };
            let result = match &mut port.backend {
                Backend::Tap(tap) => tap.send(tx.packet.data()),
                Backend::Udp(socket) => match tx.packet.meta().dst {
                    Some(dst) => socket.send_to(tx.packet.data(), dst),
                    None => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "datagram without meta().dst",
                    )),
                },
            };
            match result {
                Ok(_) => {
                    self.stats.sent += 1;
                    if let Some(capture) = &mut port.capture {
                        capture.0.write(
                            Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64),
                            tx.packet.data(),
                        );
                    }
                }
                Err(e) => {
                    self.stats.send_errors += 1;
                    tracing::warn!(device = ?tx.device, error = %e, "device write failed; packet dropped");
                }
            }
        }
    }
}
