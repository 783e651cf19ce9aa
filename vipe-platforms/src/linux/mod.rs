//! The Linux platform: one node driven by an epoll event loop (mio) over TAP devices
//! (real Ethernet frames, interoperating with the kernel's stack) and UDP sockets
//! (datagram devices, for deployment across real hosts).
//!
//! The loop reads ready devices in batches into pool buffers (up to [`BATCH`] frames
//! or datagrams per device per turn, round-robin, so one busy device cannot starve
//! another), feeds the node, sends what it transmits (UDP in `sendmmsg` batches), and
//! sleeps in `epoll_wait` until the next device event or the node's next deadline — no
//! busy loop: an idle node costs nothing. SIGINT and SIGTERM stop it gracefully.
//!
//! A TAP opened with [`TapDevice::open_with_offloads`] exchanges frames with a virtio-net
//! header: the kernel's large TCP/UDP segments and partial checksums arrive with their
//! state in `PacketMeta::offload` ([`vipe_rt::gso`]) and leave the same way on such a
//! TAP; on a device without offloads (a plain TAP, a UDP socket) the loop segments them
//! (or completes their checksums) in software before writing.

mod tap;
mod timer;
mod udp;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use vipe_rt::{DeviceId, Instant, Node, Packet, Transmit};

pub use tap::{TapDevice, TapOffloads, VNET_HDR_LEN};
pub use udp::BATCH;

use crate::pcap::Capture;
use tap::VnetHdr;
use timer::TimerFd;
use udp::UdpDevice;
use vipe_rt::gso::{self, GsoKind, Offload};

const SIGNAL_TOKEN: Token = Token(usize::MAX);
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// While a device still has data, turns that read on without an `epoll_wait` (which
/// costs a system call per batch and finds nothing new most of the time under load);
/// every this many turns the loop asks epoll for the other devices, the timer and signals.
const BUSY_TURNS_WITHOUT_POLL: u32 = 4;

/// How long a node whose only device is a UDP socket sleeps in `recvmmsg` at most before
/// it looks at its time limit again (the socket's receive timeout).
const DEVICE_WAIT: StdDuration = StdDuration::from_secs(1);

/// Kept between the end of a wait in `recvmmsg` and the node's next deadline: the
/// receive timeout counts in scheduler ticks, the timerfd (used for the rest) does not.
const DEVICE_WAIT_MARGIN: StdDuration = StdDuration::from_millis(10);

/// Headroom left in front of a received frame, for headers pushed when it is forwarded.
const RX_HEADROOM: usize = 64;

/// Most written packets kept for reuse by the next reads (two batches).
const SPARE_PACKETS: usize = 2 * BATCH;

/// Room for one read from a TAP with the virtio-net header: the header, an Ethernet
/// header with an 802.1Q tag and a 64 KB IP datagram.
const VNET_READ_ROOM: usize = VNET_HDR_LEN + 18 + 65535;

/// What backs a device.
#[derive(Debug)]
enum Backend {
    Tap(TapDevice),
    Udp(UdpDevice),
}

#[derive(Debug)]
struct Port {
    device: DeviceId,
    backend: Backend,
    capture: Option<CaptureSlot>,
    /// Why the device stopped working, once it did.
    failed: Option<String>,
    /// epoll said readable and the device has not yet said "nothing more".
    readable: bool,
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
    /// Of those, waits in the `recvmmsg` of a node's only device, a UDP socket, instead
    /// of `epoll_wait` (see [`LinuxPlatform::run`]).
    pub device_waits: u64,
    /// Read batches (one `read` per TAP frame, one `recvmmsg` per UDP batch).
    pub read_batches: u64,
    /// Frames or datagrams read from devices.
    pub received: u64,
    /// Frames or datagrams written to devices.
    pub sent: u64,
    /// Writes that failed (device gone, buffer full, no destination ...), dropped and
    /// counted.
    pub send_errors: u64,
    /// Reads that failed with something other than "nothing to read".
    pub receive_errors: u64,
    /// TAP frames that filled a whole pool buffer, so may have been cut short (the
    /// device's MTU is above what the node's buffers hold): dropped.
    pub oversize_frames: u64,
    /// Frames from a TAP with offloads whose virtio-net header could not be used (a
    /// segmentation kind VIPE does not take, positions outside the frame), and offloaded
    /// packets for a device without offloads that could not be segmented: dropped.
    pub offload_errors: u64,
    /// Offloaded packets segmented in software (or their checksum completed) because
    /// their egress device takes only ordinary frames.
    pub software_segmented: u64,
    /// Frames read from TAPs with offloads that carried segmentation offload (large
    /// TCP/UDP segments standing for several packets).
    pub gso_received: u64,
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
    /// The node deadline the timerfd is armed for, so it is re-armed only on change.
    armed: Option<Instant>,
    stats: LoopStats,
    /// Frames of the batch being read (reused: no allocation per batch).
    rx: Vec<Packet>,
    /// Transmits of the node being sent (reused).
    tx: Vec<Transmit>,
    /// Packets just written to a device, kept for the next reads from a TAP (emptied
    /// then): the trip back through the pool and out again costs more than reusing them.
    spare: Vec<Packet>,
    started: bool,
    /// Turns in a row that skipped `epoll_wait` because a device still had data.
    busy_turns: u32,
    /// Set by SIGINT and SIGTERM, for turns that do not ask epoll (waits in `recvmmsg`).
    stop_requested: StopFlag,
    /// The node's only device is a UDP socket taken out of epoll: the loop sleeps in its
    /// `recvmmsg`, as a hand-written echo does (see [`LinuxPlatform::run`]).
    waiting_in_device: bool,
}

/// A flag the signal handlers set; unregistered on drop.
struct StopFlag {
    flag: Arc<AtomicBool>,
    ids: Vec<signal_hook::SigId>,
}

impl StopFlag {
    fn new() -> io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut ids = Vec::new();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            ids.push(signal_hook::flag::register(signal, Arc::clone(&flag))?);
        }
        Ok(StopFlag { flag, ids })
    }
}

impl Drop for StopFlag {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
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
            armed: None,
            stats: LoopStats::default(),
            rx: Vec::with_capacity(BATCH),
            tx: Vec::with_capacity(BATCH),
            spare: Vec::with_capacity(SPARE_PACKETS),
            started: false,
            busy_turns: 0,
            stop_requested: StopFlag::new()?,
            waiting_in_device: false,
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
        self.check_unbound(device)?;
        let token = Token(self.ports.len());
        self.poll
            .registry()
            .register(&mut SourceFd(&tap.raw_fd()), token, Interest::READABLE)?;
        self.push_port(device, Backend::Tap(tap));
        Ok(())
    }

    /// Binds node device `device` to a UDP socket (IPv4 or IPv6): datagrams received
    /// arrive with `meta().src` set; the node sends to `meta().dst`.
    pub fn add_udp(&mut self, device: DeviceId, socket: UdpSocket) -> io::Result<()> {
        self.check_unbound(device)?;
        let mut udp = UdpDevice::new(socket)?;
        let token = Token(self.ports.len());
        self.poll
            .registry()
            .register(udp.source(), token, Interest::READABLE)?;
        self.push_port(device, Backend::Udp(udp));
        Ok(())
    }

    fn check_unbound(&self, device: DeviceId) -> io::Result<()> {
        if self.ports.iter().any(|p| p.device == device) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("device {device:?} is already bound"),
            ));
        }
        Ok(())
    }

    fn push_port(&mut self, device: DeviceId, backend: Backend) {
        self.ports.push(Port {
            device,
            backend,
            capture: None,
            failed: None,
            // Data may already be waiting; the first turn reads until "nothing more".
            readable: true,
        });
    }

    /// Writes every frame or datagram a device sends or receives to a pcap file.
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
        since(self.epoch)
    }

    /// Runs until SIGINT/SIGTERM, `limit` (if any) or `done(node)` holds after an event.
    ///
    /// A node whose only device is a UDP socket sleeps in that socket's `recvmmsg`
    /// rather than in `epoll_wait`, with the socket out of epoll (an epoll entry on the
    /// socket's wait queue costs a wake-up attempt for every datagram sent and received):
    /// while its next deadline and the time limit are more than a second (the socket's
    /// receive timeout) away. Closer to them the socket goes back into epoll beside the
    /// timerfd, whose deadlines are exact to the nanosecond.
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
            self.arm_timer()?;
            let mut timeout = None;
            if let Some(limit) = limit {
                let left = limit.saturating_sub(started_at.elapsed());
                if left.is_zero() {
                    return Ok(StopReason::TimeLimit);
                }
                timeout = Some(left);
            }
            let busy = self.ports.iter().any(|p| p.readable && p.failed.is_none());
            let mut wait_in_device = false;
            if busy && self.busy_turns < BUSY_TURNS_WITHOUT_POLL {
                // A device still has data: read on without asking epoll (edge-triggered:
                // readiness of the others waits, it is not lost) for a few turns.
                self.busy_turns += 1;
                events.clear();
            } else if let Some(index) = self.lone_udp_device(timeout) {
                self.busy_turns = 0;
                events.clear();
                if self.stop_requested.flag.swap(false, Ordering::Relaxed) {
                    // The self-pipe has the signal too: drain it for later epoll turns.
                    let _ = self.signals.pending().count();
                    tracing::info!(stats = ?self.stats, "signal received; stopping");
                    self.node.stop(self.now());
                    self.flush();
                    return Ok(StopReason::Signal);
                }
                self.wait_in_device(index)?;
                self.ports[index].readable = true;
                wait_in_device = true;
                self.stats.wakeups += 1;
                self.stats.device_waits += 1;
            } else {
                self.leave_device_wait()?;
                self.busy_turns = 0;
                if busy {
                    // Look for other events, but do not sleep.
                    timeout = Some(StdDuration::ZERO);
                }
                match self.poll.poll(&mut events, timeout) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
                self.stats.wakeups += 1;
            }
            for event in events.iter() {
                match event.token() {
                    TIMER_TOKEN => {
                        self.timer.clear();
                        self.armed = None;
                    }
                    SIGNAL_TOKEN => {
                        if self.signals.pending().next().is_some() {
                            self.stop_requested.flag.store(false, Ordering::Relaxed);
                            tracing::info!(stats = ?self.stats, "signal received; stopping");
                            self.node.stop(self.now());
                            self.flush();
                            return Ok(StopReason::Signal);
                        }
                    }
                    Token(index) => {
                        if let Some(port) = self.ports.get_mut(index) {
                            port.readable = true;
                        }
                    }
                }
            }
            // One batch per readable device per turn: round-robin between devices.
            for index in 0..self.ports.len() {
                if self.ports[index].readable {
                    self.read_batch(index, wait_in_device);
                }
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

    /// The index of the node's only device if it is a working UDP socket and both the
    /// node's next deadline and the time limit (`left`) are far enough for a wait in its
    /// `recvmmsg`.
    fn lone_udp_device(&mut self, left: Option<StdDuration>) -> Option<usize> {
        let [port] = &self.ports[..] else {
            return None;
        };
        if port.failed.is_some() || !matches!(port.backend, Backend::Udp(_)) {
            return None;
        }
        let far = DEVICE_WAIT + DEVICE_WAIT_MARGIN;
        if left.is_some_and(|left| left < far) {
            return None;
        }
        if let Some(deadline) = self.node.next_deadline() {
            let until = deadline.saturating_duration_since(self.now()).as_nanos();
            if StdDuration::from_nanos(until) < far {
                return None;
            }
        }
        Some(0)
    }

    /// Takes UDP device `index` out of epoll (once) and readies it for waits in `recvmmsg`.
    fn wait_in_device(&mut self, index: usize) -> io::Result<()> {
        if self.waiting_in_device {
            return Ok(());
        }
        if let Backend::Udp(udp) = &mut self.ports[index].backend {
            udp.prepare_wait(DEVICE_WAIT)?;
            self.poll.registry().deregister(udp.source())?;
            self.waiting_in_device = true;
        }
        Ok(())
    }

    /// Puts the UDP device back into epoll after waits in its `recvmmsg` (a deadline or
    /// the time limit is near); epoll reports it at once if data is waiting.
    fn leave_device_wait(&mut self) -> io::Result<()> {
        if !self.waiting_in_device {
            return Ok(());
        }
        self.waiting_in_device = false;
        for (index, port) in self.ports.iter_mut().enumerate() {
            if let Backend::Udp(udp) = &mut port.backend
                && port.failed.is_none()
            {
                self.poll
                    .registry()
                    .register(udp.source(), Token(index), Interest::READABLE)?;
                port.readable = true;
            }
        }
        Ok(())
    }

    /// Arms the timerfd for the node's next deadline (nanosecond resolution; epoll's own
    /// millisecond timeout only enforces the caller's limit), unless it already is.
    fn arm_timer(&mut self) -> io::Result<()> {
        let deadline = self.node.next_deadline();
        if deadline == self.armed {
            return Ok(());
        }
        let now = self.now();
        self.timer.set(
            deadline.map(|d| StdDuration::from_nanos(d.saturating_duration_since(now).as_nanos())),
        )?;
        self.armed = deadline;
        Ok(())
    }

    /// Reads one batch from a device into the node and sends what it answered. Clears the
    /// device's `readable` flag once it has nothing more (epoll is edge-triggered). With
    /// `wait`, a UDP device's read sleeps until a datagram arrives or its receive timeout.
    fn read_batch(&mut self, index: usize, wait: bool) {
        let port = &mut self.ports[index];
        if port.failed.is_some() {
            port.readable = false;
            return;
        }
        let pool = self.node.pool().clone();
        let result = match &mut port.backend {
            Backend::Tap(tap) => {
                read_tap_batch(tap, &pool, &mut self.spare, &mut self.rx, &mut self.stats)
            }
            Backend::Udp(udp) => {
                let (rx, spare) = (&mut self.rx, &mut self.spare);
                let alloc = || rx_packet(spare, &pool);
                udp.recv_batch(wait, alloc, |mut pkt, from| {
                    pkt.meta_mut().src = from;
                    rx.push(pkt);
                })
                // Read on until the socket says "nothing more" (EAGAIN), even after a
                // short batch: under load the next datagrams arrive while this batch is
                // handled, and another `recvmmsg` is cheaper than an `epoll_wait` first.
                .map(|_| true)
            }
        };
        self.stats.read_batches += 1;
        match result {
            Ok(more) => port.readable = more,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => port.readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                port.readable = false;
                self.stats.receive_errors += 1;
                let device = port.device;
                if is_device_gone(&e) {
                    tracing::error!(?device, error = %e, "device is gone; it is no longer read or written");
                    port.failed = Some(format!("{device:?}: {e}"));
                    let registry = self.poll.registry();
                    let _ = match &mut port.backend {
                        Backend::Tap(tap) => registry.deregister(&mut SourceFd(&tap.raw_fd())),
                        Backend::Udp(udp) => registry.deregister(&mut SourceFd(&udp.raw_fd())),
                    };
                } else {
                    // A passing condition (an ICMP error reported on the socket, a full
                    // buffer ...): logged, counted, and the device stays in use.
                    tracing::warn!(?device, error = %e, "device read failed");
                }
            }
        }
        let device = port.device;
        let now = since(self.epoch);
        for pkt in self.rx.drain(..) {
            if let Some(capture) = &mut port.capture {
                capture.0.write(now, pkt.data());
            }
            self.stats.received += 1;
            self.node.handle_input(now, device, pkt);
            // Take what it sent at once: the node's transmit queue then never spills to
            // the heap for a batch (flush sends them all below).
            while let Some(t) = self.node.poll_transmit() {
                self.tx.push(t);
            }
        }
        self.flush();
    }

    /// Sends what the node transmitted: TAP frames one `write` each (a TAP device takes
    /// one frame per call), UDP datagrams in `sendmmsg` batches.
    fn flush(&mut self) {
        let mut tx = std::mem::take(&mut self.tx);
        while let Some(t) = self.node.poll_transmit() {
            tx.push(t);
        }
        if tx.iter().any(|t| t.packet.meta().offload.is_active()) {
            tx = self.make_ordinary(tx);
        }
        let now = self.now();
        let mut start = 0;
        while start < tx.len() {
            // A run of transmits to the same device goes out together.
            let device = tx[start].device;
            let end = start
                + tx[start..]
                    .iter()
                    .take_while(|t| t.device == device)
                    .count();
            let run = &mut tx[start..end];
            start = end;
            let Some(port) = self
                .ports
                .iter_mut()
                .find(|p| p.device == device && p.failed.is_none())
            else {
                self.stats.send_errors += run.len() as u64;
                tracing::warn!(
                    ?device,
                    count = run.len(),
                    "no working device bound; dropped"
                );
                continue;
            };
            let capture = port.capture.as_mut().map(|c| &mut c.0);
            match &mut port.backend {
                Backend::Tap(tap) => write_tap_run(tap, run, capture, now, &mut self.stats),
                Backend::Udp(udp) => send_udp_run(udp, run, capture, now, &mut self.stats),
            }
        }
        for t in tx.drain(..) {
            if self.spare.len() < SPARE_PACKETS {
                self.spare.push(t.packet);
            }
        }
        self.tx = tx;
    }

    /// Replaces offloaded packets headed for devices that take only ordinary frames (a
    /// TAP without the virtio-net header, a UDP socket) by their segments, or completes
    /// their checksums: what a NIC without TSO makes the kernel do in software.
    #[cold]
    fn make_ordinary(&mut self, tx: Vec<Transmit>) -> Vec<Transmit> {
        let pool = self.node.pool().clone();
        let mut out = Vec::with_capacity(tx.len());
        for t in tx {
            let takes_offload = self.ports.iter().any(|p| {
                p.device == t.device
                    && matches!(&p.backend, Backend::Tap(tap) if tap.offloads().is_some())
            });
            if takes_offload || !t.packet.meta().offload.is_active() {
                out.push(t);
                continue;
            }
            let device = t.device;
            self.stats.software_segmented += 1;
            if let Err((_, e)) = gso::for_each_ordinary(t.packet, &pool, |packet| {
                out.push(Transmit { device, packet })
            }) {
                self.stats.offload_errors += 1;
                tracing::warn!(?device, error = %e, "offloaded packet could not be segmented; dropped");
            }
        }
        out
    }
}

/// An empty packet to receive into: a spare one just written (emptied), or one from the
/// pool.
#[inline]
fn rx_packet(spare: &mut Vec<Packet>, pool: &vipe_rt::PacketPool) -> Packet {
    match spare.pop() {
        Some(mut pkt) => {
            pkt.reset(RX_HEADROOM);
            pkt
        }
        None => pool.alloc_with_headroom(RX_HEADROOM),
    }
}

/// Reads up to [`BATCH`] frames, each straight into a packet buffer (a spare one just
/// written, or one from the pool: no allocation per frame). `Ok(true)` when the batch
/// filled up (more may be waiting).
fn read_tap_batch(
    tap: &mut TapDevice,
    pool: &vipe_rt::PacketPool,
    spare: &mut Vec<Packet>,
    rx: &mut Vec<Packet>,
    stats: &mut LoopStats,
) -> io::Result<bool> {
    let vnet = tap.offloads().is_some();
    for _ in 0..BATCH {
        let mut pkt = rx_packet(spare, pool);
        let room = if vnet {
            // The pool's buffers grow to this once and are recycled at that size.
            pkt.tailroom().max(VNET_READ_ROOM)
        } else {
            pkt.tailroom()
        };
        match tap.recv(pkt.put(room)) {
            Ok(n) if n == room => {
                stats.oversize_frames += 1;
                tracing::warn!(
                    tap = tap.name(),
                    "frame filled a whole buffer; dropped as possibly truncated (MTU too large?)"
                );
            }
            Ok(n) => {
                pkt.truncate(n);
                if vnet {
                    if let Err(why) = take_vnet_header(&mut pkt) {
                        stats.offload_errors += 1;
                        tracing::warn!(
                            tap = tap.name(),
                            why,
                            "unusable virtio-net header; frame dropped"
                        );
                        continue;
                    }
                    if pkt.meta().offload.gso != GsoKind::None {
                        stats.gso_received += 1;
                    }
                }
                rx.push(pkt);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !rx.is_empty() => {
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Pulls the virtio-net header off a frame read from a TAP and records what it says in
/// the packet's [`Offload`] (positions from the buffer start).
fn take_vnet_header(pkt: &mut Packet) -> Result<(), &'static str> {
    let hdr = VnetHdr::parse(pkt.data()).ok_or("frame shorter than its virtio-net header")?;
    let _ = pkt.pull(VNET_HDR_LEN);
    let needs_csum = hdr.flags & tap::VNET_F_NEEDS_CSUM != 0;
    if !needs_csum && hdr.gso_type == tap::VNET_GSO_NONE {
        return Ok(());
    }
    let data = pkt.data();
    if data.len() < 14 {
        return Err("offloaded frame shorter than an Ethernet header");
    }
    let net = if data[12..14] == [0x81, 0x00] { 18 } else { 14 };
    let base = pkt.headroom() as u32;
    let gso = match hdr.gso_type & !tap::VNET_GSO_ECN {
        tap::VNET_GSO_NONE => GsoKind::None,
        tap::VNET_GSO_TCPV4 | tap::VNET_GSO_TCPV6 => GsoKind::Tcp,
        tap::VNET_GSO_UDP_L4 => GsoKind::Udp,
        _ => return Err("segmentation kind not taken (UFO)"),
    };
    pkt.meta_mut().offload = Offload {
        gso,
        gso_size: hdr.gso_size,
        csum_partial: needs_csum,
        csum_start: base + u32::from(hdr.csum_start),
        csum_offset: hdr.csum_offset,
        net_start: base + net,
    };
    Ok(())
}

/// The virtio-net header saying what a frame's [`Offload`] says.
fn vnet_header_for(pkt: &Packet) -> Result<VnetHdr, &'static str> {
    let o = pkt.meta().offload;
    if !o.is_active() {
        return Ok(VnetHdr::default());
    }
    let base = pkt.headroom() as u32;
    let data = pkt.data();
    let rel = |pos: u32| {
        pos.checked_sub(base)
            .map(|p| p as usize)
            .filter(|&p| p < data.len())
            .ok_or("offload positions outside the frame")
    };
    let mut hdr = VnetHdr::default();
    if o.csum_partial {
        hdr.flags = tap::VNET_F_NEEDS_CSUM;
        hdr.csum_start = rel(o.csum_start)? as u16;
        hdr.csum_offset = o.csum_offset;
    }
    if o.gso != GsoKind::None {
        let net = rel(o.net_start)?;
        let l4 = rel(o.csum_start)?;
        let v6 = data[net] >> 4 == 6;
        let (kind, l4_len) = match o.gso {
            GsoKind::Tcp => {
                let flags = *data.get(l4 + 13).ok_or("truncated TCP header")?;
                let ecn = if flags & 0x80 != 0 {
                    tap::VNET_GSO_ECN
                } else {
                    0
                };
                let kind = if v6 {
                    tap::VNET_GSO_TCPV6
                } else {
                    tap::VNET_GSO_TCPV4
                };
                (kind | ecn, usize::from(data[l4 + 12] >> 4) * 4)
            }
            _ => (tap::VNET_GSO_UDP_L4, 8),
        };
        hdr.gso_type = kind;
        hdr.gso_size = o.gso_size;
        hdr.hdr_len = (l4 + l4_len).min(data.len()) as u16;
    }
    Ok(hdr)
}

/// Writes a run of frames to a TAP device, one frame per `write` (behind its
/// virtio-net header, pushed into the headroom, if the device has one).
fn write_tap_run(
    tap: &mut TapDevice,
    run: &mut [Transmit],
    mut capture: Option<&mut Capture>,
    now: Instant,
    stats: &mut LoopStats,
) {
    let vnet = tap.offloads().is_some();
    for t in run {
        let result = if vnet {
            match vnet_header_for(&t.packet) {
                Ok(hdr) => {
                    t.packet.push(VNET_HDR_LEN).copy_from_slice(&hdr.bytes());
                    let r = tap.send(t.packet.data());
                    let _ = t.packet.pull(VNET_HDR_LEN);
                    r
                }
                Err(why) => {
                    stats.offload_errors += 1;
                    tracing::warn!(tap = tap.name(), why, "frame dropped");
                    continue;
                }
            }
        } else {
            tap.send(t.packet.data())
        };
        match result {
            Ok(_) => {
                stats.sent += 1;
                if let Some(capture) = capture.as_deref_mut() {
                    capture.write(now, t.packet.data());
                }
            }
            Err(e) => {
                stats.send_errors += 1;
                tracing::warn!(tap = tap.name(), error = %e, "write failed; frame dropped");
            }
        }
    }
}

/// Sends a run of datagrams on a UDP socket in `sendmmsg` batches. A datagram without
/// `meta().dst`, or one the kernel refuses, is dropped and counted; the rest still go.
fn send_udp_run(
    udp: &mut UdpDevice,
    run: &[Transmit],
    mut capture: Option<&mut Capture>,
    now: Instant,
    stats: &mut LoopStats,
) {
    let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    let mut rest = run;
    while !rest.is_empty() {
        let mut batch: [(&[u8], SocketAddr); BATCH] = [(&[], unspecified); BATCH];
        let mut n = 0;
        let mut taken = 0;
        for t in rest {
            if n == BATCH {
                break;
            }
            taken += 1;
            match t.packet.meta().dst {
                Some(dst) => {
                    batch[n] = (t.packet.data(), dst);
                    n += 1;
                }
                None => {
                    stats.send_errors += 1;
                    tracing::warn!("datagram without meta().dst; dropped");
                }
            }
        }
        rest = &rest[taken..];
        let mut offset = 0;
        while offset < n {
            let (sent, error) = udp.send_batch(&batch[offset..n]);
            stats.sent += sent as u64;
            if let Some(capture) = capture.as_deref_mut() {
                for (data, _) in &batch[offset..offset + sent] {
                    capture.write(now, data);
                }
            }
            offset += sent;
            if let Some(e) = error {
                // The datagram at `offset` was refused: drop it, send the others.
                stats.send_errors += 1;
                tracing::warn!(dst = %batch[offset].1, error = %e, "send failed; datagram dropped");
                offset += 1;
            }
        }
    }
}

/// The node's clock: time since the platform started, on the monotonic clock.
fn since(epoch: StdInstant) -> Instant {
    Instant::from_nanos(epoch.elapsed().as_nanos() as u64)
}

/// Whether a device error means the device itself is gone (not a passing condition).
fn is_device_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV | libc::EBADFD | libc::EBADF | libc::EIO | libc::ENXIO | libc::ENETDOWN)
    )
}
