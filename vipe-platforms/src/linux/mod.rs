//! The Linux platform: one node driven by an epoll event loop (mio) over TAP devices
//! (real Ethernet frames, interoperating with the kernel's stack) and UDP sockets
//! (datagram devices, for deployment across real hosts).
//!
//! The loop reads every ready device into pool buffers and feeds the node, sends what the
//! node transmits, and sleeps in `epoll_wait` until the next device event or the node's
//! next deadline — no busy loop: an idle node costs nothing. SIGINT and SIGTERM stop it
//! gracefully.

mod tap;
mod timer;

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
use timer::TimerFd;

const SIGNAL_TOKEN: Token = Token(usize::MAX);
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

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
    /// Why the device stopped working, once it did.
    failed: Option<String>,
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
    timer: TimerFd,
    stats: LoopStats,
    /// Scratch space for datagrams larger than a pool buffer.
    scratch: Vec<u8>,
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
        let timer = TimerFd::new()?;
        poll.registry().register(
            &mut SourceFd(&timer.raw_fd()),
            TIMER_TOKEN,
            Interest::READABLE,
        )?;
        Ok(LinuxPlatform {
            node,
            poll,
            ports: Vec::new(),
            epoch: StdInstant::now(),
            signals,
            timer,
            stats: LoopStats::default(),
            scratch: vec![0; 65536],
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
            failed: None,
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
            failed: None,
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
            let deadline = self
                .node
                .next_deadline()
                .map(|d| StdDuration::from_nanos(d.saturating_duration_since(now).as_nanos()));
            // The timerfd wakes us for the node's deadline with nanosecond resolution;
            // epoll's own (millisecond) timeout only enforces the caller's limit.
            self.timer.set(deadline)?;
            let mut timeout = None;
            if let Some(limit) = limit {
                let left = limit.saturating_sub(started_at.elapsed());
                if left.is_zero() {
                    return Ok(StopReason::TimeLimit);
                }
                timeout = Some(left);
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.stats.wakeups += 1;
            for event in events.iter() {
                if event.token() == TIMER_TOKEN {
                    self.timer.clear();
                    continue;
                }
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
            if !self.ports.is_empty() && self.ports.iter().all(|p| p.failed.is_some()) {
                let why: Vec<String> = self.ports.iter().filter_map(|p| p.failed.clone()).collect();
                return Err(io::Error::other(format!(
                    "every device failed: {}",
                    why.join("; ")
                )));
            }
        }
    }

    /// Reads everything waiting on a device into the node (epoll is edge-triggered, so
    /// until the device says it has nothing more).
    fn drain_device(&mut self, index: usize) {
        if self.ports[index].failed.is_some() {
            return;
        }
        loop {
            let mut pkt = self.node.pool().alloc_with_headroom(64);
            let port = &mut self.ports[index];
            let result = match &mut port.backend {
                Backend::Tap(tap) => {
                    // A frame goes straight into a pool buffer; no allocation per packet.
                    let room = pkt.tailroom();
                    let n = tap.recv(pkt.put(room));
                    n.map(|n| {
                        pkt.truncate(n);
                        (n == room, None)
                    })
                }
                Backend::Udp(socket) => socket.recv_from(&mut self.scratch).map(|(n, from)| {
                    pkt.put_slice(&self.scratch[..n]);
                    (false, Some(from))
                }),
            };
            match result {
                Ok((maybe_truncated, from)) => {
                    let device = port.device;
                    if maybe_truncated {
                        // Larger than a pool buffer: the TAP device's MTU is above what
                        // the node's buffers hold.
                        self.stats.receive_errors += 1;
                        tracing::warn!(
                            ?device,
                            "frame filled the whole buffer; dropped as possibly truncated"
                        );
                        continue;
                    }
                    pkt.meta_mut().src = from;
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
                    let device = port.device;
                    if is_device_gone(&e) {
                        tracing::error!(?device, error = %e, "device is gone; it is no longer read or written");
                        port.failed = Some(format!("{device:?}: {e}"));
                        let _ = match &mut port.backend {
                            Backend::Tap(tap) => self
                                .poll
                                .registry()
                                .deregister(&mut SourceFd(&tap.raw_fd())),
                            Backend::Udp(socket) => self.poll.registry().deregister(socket),
                        };
                    } else {
                        tracing::warn!(?device, error = %e, "device read failed");
                    }
                    return;
                }
            }
        }
    }

    /// Sends what the node transmitted.
    fn flush(&mut self) {
        while let Some(tx) = self.node.poll_transmit() {
            let Some(port) = self
                .ports
                .iter_mut()
                .find(|p| p.device == tx.device && p.failed.is_none())
            else {
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

/// Whether a device error means the device itself is gone (not a passing condition).
fn is_device_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV | libc::EBADFD | libc::EBADF | libc::EIO | libc::ENXIO | libc::ENETDOWN)
    )
}
