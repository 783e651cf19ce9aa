//! The `#[protocol]` that carries [`TcpSocket`]s over IPv4: demultiplexing by 4-tuple,
//! listeners with a bounded backlog of half-open connections, RSTs for closed ports, one
//! timer per connection, and the application interface through keyed ports.
//!
//! Ports: `ip` to IPv4's `upper(6)`; `app(id)` to the application with id `id`. An
//! application talks to TCP with packets whose `meta().mark` is one of [`msg`]'s command
//! codes and whose `meta().src` / `meta().dst` name the connection (local / remote
//! endpoint); TCP answers on the same port with event codes, `meta().src` the remote and
//! `meta().dst` the local endpoint. [`TcpApp`] builds and reads these packets.
//!
//! Flow control towards the application: a `WRITABLE` event carries the free room of
//! the send buffer (a big-endian `u32`); bytes sent beyond it are refused and answered
//! with `SHORT` carrying how many were taken. Received bytes are pushed to the
//! application as `DATA` as soon as they are in order.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use vipe_rt::gso::{GsoKind, Offload};
use vipe_rt::prelude::*;

use super::config::{KeepAlive, TcpConfig};
use super::isn::IsnGenerator;
use super::segment::Segment;
use super::seq::SeqNumber;
use super::socket::{IcmpError, Outgoing, State, TcpError, TcpEvent, TcpSocket};
use crate::wire::tcp::{ACK, RST, SYN};

/// Command and event codes carried in `meta().mark` between TCP and applications.
pub mod msg {
    /// App → TCP: listen on `meta().src`'s port, for connections from `meta().dst` if
    /// it is set (an unspecified address or a zero port in it matches any).
    /// `meta().src`'s address, if specified, must be this host's (else `ERROR`).
    pub const LISTEN: u32 = 0x7c90_0001;
    /// App → TCP: connect to `meta().dst` (from `meta().src`'s port, or an ephemeral one
    /// if it is 0 or absent). `meta().src`'s address, if specified, must be this host's
    /// (else `ERROR`).
    pub const CONNECT: u32 = 0x7c90_0002;
    /// App → TCP: the packet's bytes are data for the connection.
    pub const SEND: u32 = 0x7c90_0003;
    /// App → TCP: close the send side (FIN after queued data).
    pub const CLOSE: u32 = 0x7c90_0004;
    /// App → TCP: abort the connection (RST).
    pub const ABORT: u32 = 0x7c90_0005;
    /// App → TCP: stop listening on `meta().src`'s port.
    pub const UNLISTEN: u32 = 0x7c90_0006;
    /// App → TCP: keep-alive for the connection: 12 bytes (idle ms, interval ms,
    /// probes; big-endian `u32`s) switch it on, no bytes switch it off.
    pub const KEEPALIVE: u32 = 0x7c90_0007;
    /// App → TCP: the packet's bytes are urgent data for the connection.
    pub const SEND_URGENT: u32 = 0x7c90_0008;
    /// App → TCP: the application takes up to this many more bytes (big-endian `u32`).
    /// From the first `READ` on (or from the start, with
    /// [`TcpProtocolConfig::app_reads`](super::TcpProtocolConfig)), received bytes wait in
    /// the receive buffer until the application asks for them, so the window closes
    /// when it stops reading.
    pub const READ: u32 = 0x7c90_0009;
    /// App → TCP: one byte, the Diffserv codepoint (below 64) for the connection's
    /// segments from now on (RFC 9293 MUST-48).
    pub const DSCP: u32 = 0x7c90_000a;

    /// TCP → app: the connection is established (active or accepted).
    pub const CONNECTED: u32 = 0x7c91_0001;
    /// TCP → app: the packet's bytes were received.
    pub const DATA: u32 = 0x7c91_0002;
    /// TCP → app: room in the send buffer (big-endian `u32`).
    pub const WRITABLE: u32 = 0x7c91_0003;
    /// TCP → app: the peer closed its side; no more data will arrive.
    pub const EOF: u32 = 0x7c91_0004;
    /// TCP → app: the connection is closed and forgotten.
    pub const CLOSED: u32 = 0x7c91_0005;
    /// TCP → app: the connection was reset, refused or timed out (the bytes say which).
    pub const RESET: u32 = 0x7c91_0006;
    /// TCP → app: a `SEND` was only partly taken (big-endian `u32`: bytes taken).
    pub const SHORT: u32 = 0x7c91_0007;
    /// TCP → app: a command was refused (the bytes say why and what to change).
    pub const ERROR: u32 = 0x7c91_0008;
    /// TCP → app: an ICMP soft error about the connection, which goes on (the bytes say
    /// which).
    pub const SOFT_ERROR: u32 = 0x7c91_0009;
    /// TCP → app: the peer sent urgent data; that many bytes (big-endian `u32`) from the
    /// next byte delivered end the urgent data.
    pub const URGENT: u32 = 0x7c91_000a;
    /// TCP → app: retransmissions reached R1; the connection goes on (RFC 9293 SHLD-9).
    pub const STALLED: u32 = 0x7c91_000b;
}

/// A connection as the application names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conn {
    /// Our endpoint.
    pub local: SocketAddrV4,
    /// The peer's endpoint.
    pub remote: SocketAddrV4,
}

/// What TCP told an application, decoded from a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEvent {
    /// Established.
    Connected(Conn),
    /// Bytes received.
    Data(Conn, Vec<u8>),
    /// Room in the send buffer.
    Writable(Conn, usize),
    /// The peer closed its side.
    Eof(Conn),
    /// Closed and forgotten.
    Closed(Conn),
    /// Reset, refused or timed out, with the reason.
    Reset(Conn, Vec<u8>),
    /// A send was only partly taken.
    Short(Conn, usize),
    /// A command was refused, with the reason.
    Error(Vec<u8>),
    /// An ICMP soft error about the connection, with what it was.
    SoftError(Conn, Vec<u8>),
    /// Urgent data ahead: they end this many bytes after the next byte delivered.
    Urgent(Conn, usize),
    /// Retransmissions reached R1; the connection goes on.
    Stalled(Conn),
}

/// Builds command packets and reads event packets for applications.
pub struct TcpApp;

fn v4(addr: Option<SocketAddr>) -> Option<SocketAddrV4> {
    match addr {
        Some(SocketAddr::V4(a)) => Some(a),
        _ => None,
    }
}

impl TcpApp {
    fn command(mut pkt: Packet, mark: u32, src: SocketAddrV4, dst: Option<SocketAddrV4>) -> Packet {
        let meta = pkt.meta_mut();
        meta.mark = mark;
        meta.src = Some(SocketAddr::V4(src));
        meta.dst = dst.map(SocketAddr::V4);
        pkt
    }

    /// Listen on `port` for connections from `remote` only (an unspecified address or
    /// a zero port matches any); several such listeners may share a port.
    pub fn listen_from(pkt: Packet, port: u16, remote: SocketAddrV4) -> Packet {
        Self::command(
            pkt,
            msg::LISTEN,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
            Some(remote),
        )
    }

    /// Listen on `port`.
    pub fn listen(pkt: Packet, port: u16) -> Packet {
        Self::command(
            pkt,
            msg::LISTEN,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
            None,
        )
    }

    /// Connect to `remote` from `local` (RFC 9293 OPEN with a local socket, MUST-43):
    /// its address must be this host's or unspecified; a zero port picks an ephemeral
    /// one.
    pub fn connect_from(pkt: Packet, local: SocketAddrV4, remote: SocketAddrV4) -> Packet {
        Self::command(pkt, msg::CONNECT, local, Some(remote))
    }

    /// Listen on `local`'s port; its address must be this host's or unspecified
    /// (MUST-43).
    pub fn listen_on(pkt: Packet, local: SocketAddrV4) -> Packet {
        Self::command(pkt, msg::LISTEN, local, None)
    }

    /// Connect to `remote` from an ephemeral port.
    pub fn connect(pkt: Packet, remote: SocketAddrV4) -> Packet {
        Self::command(
            pkt,
            msg::CONNECT,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            Some(remote),
        )
    }

    /// Data for `conn`: `pkt` holds the bytes.
    pub fn send(pkt: Packet, conn: Conn) -> Packet {
        Self::command(pkt, msg::SEND, conn.local, Some(conn.remote))
    }

    /// Close the send side of `conn`.
    pub fn close(pkt: Packet, conn: Conn) -> Packet {
        Self::command(pkt, msg::CLOSE, conn.local, Some(conn.remote))
    }

    /// Abort `conn`.
    pub fn abort(pkt: Packet, conn: Conn) -> Packet {
        Self::command(pkt, msg::ABORT, conn.local, Some(conn.remote))
    }

    /// Set the Diffserv codepoint (6 bits) of `conn`'s segments (RFC 9293 MUST-48).
    pub fn dscp(mut pkt: Packet, conn: Conn, dscp: u8) -> Packet {
        pkt.put_slice(&[dscp]);
        Self::command(pkt, msg::DSCP, conn.local, Some(conn.remote))
    }

    /// Urgent data for `conn`: `pkt` holds the bytes.
    pub fn send_urgent(pkt: Packet, conn: Conn) -> Packet {
        Self::command(pkt, msg::SEND_URGENT, conn.local, Some(conn.remote))
    }

    /// Keep-alive on (`Some`) or off for `conn`.
    pub fn keep_alive(mut pkt: Packet, conn: Conn, keep_alive: Option<KeepAlive>) -> Packet {
        if let Some(k) = keep_alive {
            let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
            pkt.put_slice(&ms(k.idle).to_be_bytes());
            pkt.put_slice(&ms(k.interval).to_be_bytes());
            pkt.put_slice(&k.probes.to_be_bytes());
        }
        Self::command(pkt, msg::KEEPALIVE, conn.local, Some(conn.remote))
    }

    /// The application takes up to `bytes` more bytes of `conn`.
    pub fn read(mut pkt: Packet, conn: Conn, bytes: u32) -> Packet {
        pkt.put_slice(&bytes.to_be_bytes());
        Self::command(pkt, msg::READ, conn.local, Some(conn.remote))
    }

    /// A `DATA` event's connection and bytes, borrowed from the packet (no copy, unlike
    /// [`Self::event`]); `None` for any other packet.
    pub fn data(pkt: &Packet) -> Option<(Conn, &[u8])> {
        let meta = pkt.meta();
        match (meta.mark, v4(meta.dst), v4(meta.src)) {
            (msg::DATA, Some(local), Some(remote)) => Some((Conn { local, remote }, pkt.data())),
            _ => None,
        }
    }

    /// Decodes an event packet from TCP; `None` if it is not one.
    pub fn event(pkt: &Packet) -> Option<AppEvent> {
        let meta = pkt.meta();
        let conn = match (v4(meta.dst), v4(meta.src)) {
            (Some(local), Some(remote)) => Some(Conn { local, remote }),
            _ => None,
        };
        let num = || {
            let d = pkt.data();
            (d.len() >= 4).then(|| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        };
        Some(match meta.mark {
            msg::CONNECTED => AppEvent::Connected(conn?),
            msg::DATA => AppEvent::Data(conn?, pkt.data().to_vec()),
            msg::WRITABLE => AppEvent::Writable(conn?, num()?),
            msg::EOF => AppEvent::Eof(conn?),
            msg::CLOSED => AppEvent::Closed(conn?),
            msg::RESET => AppEvent::Reset(conn?, pkt.data().to_vec()),
            msg::SHORT => AppEvent::Short(conn?, num()?),
            msg::ERROR => AppEvent::Error(pkt.data().to_vec()),
            msg::SOFT_ERROR => AppEvent::SoftError(conn?, pkt.data().to_vec()),
            msg::URGENT => AppEvent::Urgent(conn?, num()?),
            msg::STALLED => AppEvent::Stalled(conn?),
            _ => return None,
        })
    }
}

/// A connection's key: local port, remote address, remote port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    /// Our port.
    pub local_port: u16,
    /// The peer's address.
    pub remote_ip: Ipv4Addr,
    /// The peer's port.
    pub remote_port: u16,
}

/// Settings of a TCP instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpProtocolConfig {
    /// Settings of every socket.
    pub socket: TcpConfig,
    /// Most half-open (SYN-RECEIVED) connections per listener; when full, the oldest
    /// is forgotten to make room (so a SYN flood cannot lock a listener out).
    pub backlog: usize,
    /// Most connections in all.
    pub max_connections: usize,
    /// Connections start in read mode: received bytes go to the application only as it
    /// asks for them ([`msg::READ`]). Default off: bytes are pushed as they arrive.
    pub app_reads: bool,
}

impl Default for TcpProtocolConfig {
    fn default() -> Self {
        TcpProtocolConfig {
            socket: TcpConfig::default(),
            backlog: 128,
            max_connections: 4096,
            app_reads: false,
        }
    }
}

#[derive(Debug)]
struct Listener {
    app: u16,
    /// Who may connect: an unspecified address or port matches any (RFC 9293 3.9.1.1:
    /// a LISTEN may name the remote socket fully, partly or not at all).
    remote: SocketAddrV4,
    /// Half-open connections, oldest first.
    half_open: Vec<ConnKey>,
}

#[derive(Debug)]
struct Connection {
    sock: TcpSocket,
    app: u16,
    /// Accepted from a listener and not yet established.
    half_open: bool,
    told_connected: bool,
    told_eof: bool,
    armed: Option<Instant>,
    /// Bytes the application still takes; `None`: everything, as it arrives.
    credit: Option<usize>,
}

/// The TCP protocol of a host.
#[protocol(name = "tcp")]
#[derive(Debug)]
pub struct Tcp {
    local: Ipv4Addr,
    config: TcpProtocolConfig,
    isn: IsnGenerator,
    conns: BTreeMap<ConnKey, Connection>,
    /// Listeners by local port; several may share a port with different remote
    /// sockets (RFC 9293 MUST-42).
    listeners: BTreeMap<u16, Vec<Listener>>,
    next_port: u16,
}

const EPHEMERAL: core::ops::RangeInclusive<u16> = 49152..=65535;

/// Most bytes in one `DATA` event.
const DATA_CHUNK: usize = 16 * 1024;

impl Tcp {
    /// TCP for a host with address `local`.
    pub fn new(local: Ipv4Addr, config: TcpProtocolConfig) -> Self {
        Tcp {
            local,
            config,
            isn: IsnGenerator::new([0, 0]),
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            next_port: *EPHEMERAL.start(),
        }
    }

    /// Connections held (any state but CLOSED).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The state of the connection `local_port` ↔ `remote_ip:remote_port`, if held.
    pub fn connection_state(&self, local_port: u16, remote: SocketAddrV4) -> Option<State> {
        let key = ConnKey {
            local_port,
            remote_ip: *remote.ip(),
            remote_port: remote.port(),
        };
        self.conns.get(&key).map(|c| c.sock.state())
    }

    /// Half-open connections held by listeners.
    pub fn half_open(&self) -> usize {
        self.listeners
            .values()
            .flatten()
            .map(|l| l.half_open.len())
            .sum()
    }

    /// The socket of a connection, for inspection.
    pub fn socket(&self, key: &ConnKey) -> Option<&TcpSocket> {
        self.conns.get(key).map(|c| &c.sock)
    }

    /// Every connection's key and socket.
    pub fn sockets(&self) -> impl Iterator<Item = (&ConnKey, &TcpSocket)> {
        self.conns.iter().map(|(k, c)| (k, &c.sock))
    }

    fn local_ep(&self, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(self.local, port)
    }

    fn conn_of(&self, key: &ConnKey) -> Conn {
        Conn {
            local: self.local_ep(key.local_port),
            remote: SocketAddrV4::new(key.remote_ip, key.remote_port),
        }
    }

    fn to_app(&self, cx: &mut Cx<Self>, app: u16, key: &ConnKey, mark: u32, bytes: &[u8]) {
        let mut pkt = cx.alloc();
        pkt.put_slice(bytes);
        self.event_to_app(cx, app, key, mark, pkt);
    }

    /// Sends `pkt` (its bytes already in place) to the application as event `mark`.
    fn event_to_app(&self, cx: &mut Cx<Self>, app: u16, key: &ConnKey, mark: u32, mut pkt: Packet) {
        let conn = self.conn_of(key);
        let meta = pkt.meta_mut();
        meta.mark = mark;
        meta.src = Some(SocketAddr::V4(conn.remote));
        meta.dst = Some(SocketAddr::V4(conn.local));
        if let Err(pkt) = cx.try_send(TcpPort::App(app), pkt) {
            cx.drop_packet(pkt, "TCP event for an unconnected application");
        }
    }

    fn app_error(cx: &mut Cx<Self>, app: u16, why: &str) {
        let mut pkt = cx.alloc();
        pkt.put_slice(why.as_bytes());
        pkt.meta_mut().mark = msg::ERROR;
        if let Err(pkt) = cx.try_send(TcpPort::App(app), pkt) {
            cx.drop_packet(pkt, "TCP error for an unconnected application");
        }
    }

    /// Sends a segment of a connection, with the TOS octet and DF it asks for.
    fn transmit_out(&self, cx: &mut Cx<Self>, remote: Ipv4Addr, out: &Outgoing) {
        if out.gso_size > 0 {
            return self.transmit_offloaded(cx, remote, out);
        }
        self.transmit(
            cx,
            remote,
            &out.segment,
            &out.payload,
            out.tos,
            out.dont_fragment,
        );
    }

    /// Sends a segment standing for several (TCP segmentation offload): the checksum
    /// left partial and the packet marked for segmentation into `gso_size` payloads.
    /// IPv4 fills in where its header starts.
    fn transmit_offloaded(&self, cx: &mut Cx<Self>, remote: Ipv4Addr, out: &Outgoing) {
        let mut pkt = cx.alloc();
        pkt.put_slice(&out.payload);
        let seg = &out.segment;
        pkt.push(seg.header_len());
        seg.emit_partial(self.local, remote, pkt.data_mut());
        let start = pkt.headroom() as u32;
        let meta = pkt.meta_mut();
        meta.src = Some(SocketAddr::new(IpAddr::V4(self.local), seg.src_port));
        meta.dst = Some(SocketAddr::new(IpAddr::V4(remote), seg.dst_port));
        meta.tos = out.tos;
        meta.dont_fragment = out.dont_fragment;
        meta.offload = Offload {
            gso: GsoKind::Tcp,
            gso_size: out.gso_size,
            csum_partial: true,
            csum_start: start,
            csum_offset: 16,
            net_start: start,
        };
        cx.send(TcpPort::Ip, pkt);
    }

    fn transmit(
        &self,
        cx: &mut Cx<Self>,
        remote: Ipv4Addr,
        seg: &Segment,
        payload: &[u8],
        tos: u8,
        dont_fragment: bool,
    ) {
        let mut pkt = cx.alloc();
        pkt.put_slice(payload);
        let hlen = seg.header_len();
        pkt.push(hlen);
        seg.emit(self.local, remote, pkt.data_mut());
        let meta = pkt.meta_mut();
        meta.src = Some(SocketAddr::new(IpAddr::V4(self.local), seg.src_port));
        meta.dst = Some(SocketAddr::new(IpAddr::V4(remote), seg.dst_port));
        meta.tos = tos;
        meta.dont_fragment = dont_fragment;
        cx.send(TcpPort::Ip, pkt);
    }

    /// Sends what the connection has to send, tells the application what happened,
    /// re-arms its timer, and forgets it once CLOSED.
    fn service(&mut self, cx: &mut Cx<Self>, key: ConnKey) {
        let now = cx.now();
        let Some(mut c) = self.conns.remove(&key) else {
            return;
        };
        while let Some(out) = c.sock.poll_transmit(now) {
            self.transmit_out(cx, key.remote_ip, &out);
        }
        let mut closed = false;
        while let Some(ev) = c.sock.poll_event() {
            match ev {
                TcpEvent::Connected => {
                    if c.half_open {
                        c.half_open = false;
                        self.forget_half_open(&key);
                    }
                    c.told_connected = true;
                    self.to_app(cx, c.app, &key, msg::CONNECTED, &[]);
                }
                TcpEvent::Readable => {}
                TcpEvent::Writable => {
                    if c.told_connected {
                        let room = c.sock.send_capacity() as u32;
                        self.to_app(cx, c.app, &key, msg::WRITABLE, &room.to_be_bytes());
                    }
                }
                TcpEvent::Reset | TcpEvent::Closed => closed = true,
                TcpEvent::SoftError => {
                    let why = match c.sock.soft_error() {
                        Some(IcmpError::Hard) => {
                            "ICMP: the peer's host or port is unreachable or prohibited"
                        }
                        _ => "ICMP: the network or host is unreachable or a hop timed out",
                    };
                    self.to_app(cx, c.app, &key, msg::SOFT_ERROR, why.as_bytes());
                }
                TcpEvent::Stalled => {
                    // RFC 9293 MUST-20: negative advice to IP at R1 (RFC 1122 3.3.1.4).
                    let mut advice = cx.alloc();
                    let meta = advice.meta_mut();
                    meta.mark = crate::ipv4::NEGATIVE_ADVICE;
                    meta.dst = Some(SocketAddr::new(IpAddr::V4(key.remote_ip), key.remote_port));
                    cx.send(TcpPort::Ip, advice);
                    if c.told_connected {
                        self.to_app(cx, c.app, &key, msg::STALLED, &[]);
                    }
                }
                TcpEvent::Urgent => {
                    let ahead = c.sock.urgent_pending() as u32;
                    self.to_app(cx, c.app, &key, msg::URGENT, &ahead.to_be_bytes());
                }
            }
        }
        // Push received bytes to the application.
        if c.told_connected {
            loop {
                let ready = c.sock.recv_queue();
                let want = c.credit.unwrap_or(usize::MAX).min(ready).min(DATA_CHUNK);
                if want == 0 {
                    // Nothing ready (is it the end?), or the application has not asked
                    // for more: then the bytes wait and the window closes.
                    if ready == 0 && c.sock.recv(&mut []) == Err(TcpError::Finished) && !c.told_eof
                    {
                        c.told_eof = true;
                        self.to_app(cx, c.app, &key, msg::EOF, &[]);
                    }
                    break;
                }
                // Straight from the receive buffer into the event packet.
                let mut pkt = cx.alloc();
                let Ok(n) = c.sock.recv(pkt.put(want)) else {
                    break;
                };
                pkt.truncate(n);
                if let Some(credit) = &mut c.credit {
                    *credit -= n;
                }
                self.event_to_app(cx, c.app, &key, msg::DATA, pkt);
            }
            // Reading may have opened the window: send the update.
            while let Some(out) = c.sock.poll_transmit(now) {
                self.transmit_out(cx, key.remote_ip, &out);
            }
        }
        if closed || c.sock.state() == State::Closed {
            if c.half_open {
                self.forget_half_open(&key);
            } else if c.told_connected || !c.half_open {
                match c.sock.error() {
                    Some(e) => {
                        let why = alloc::format!("{e}");
                        self.to_app(cx, c.app, &key, msg::RESET, why.as_bytes());
                    }
                    None => self.to_app(cx, c.app, &key, msg::CLOSED, &[]),
                }
            }
            cx.cancel_timer(&TcpTimer::ConnTimer(key));
            cx.count("TCP connections closed");
            return;
        }
        match c.sock.poll_at() {
            Some(at) => {
                let at = at.max(now);
                if c.armed != Some(at) {
                    cx.start_timer_at(TcpTimer::ConnTimer(key), at);
                    c.armed = Some(at);
                }
            }
            None => {
                if c.armed.take().is_some() {
                    cx.cancel_timer(&TcpTimer::ConnTimer(key));
                }
            }
        }
        self.conns.insert(key, c);
    }

    fn reply_rst(&self, cx: &mut Cx<Self>, src: Ipv4Addr, seg: &Segment, payload_len: usize) {
        if let Some(rst) = TcpSocket::rst_for(seg, payload_len) {
            self.transmit(cx, src, &rst, &[], 0, false);
        }
    }

    fn forget_half_open(&mut self, key: &ConnKey) {
        if let Some(list) = self.listeners.get_mut(&key.local_port) {
            for l in list {
                l.half_open.retain(|k| k != key);
            }
        }
    }

    /// The listener on `key`'s local port that takes a SYN from `key`'s remote socket:
    /// the most specific one (address and port named, then one of them, then neither).
    fn listener_for(&mut self, key: &ConnKey) -> Option<&mut Listener> {
        let remote = SocketAddrV4::new(key.remote_ip, key.remote_port);
        self.listeners
            .get_mut(&key.local_port)?
            .iter_mut()
            .filter(|l| {
                (l.remote.ip().is_unspecified() || l.remote.ip() == remote.ip())
                    && (l.remote.port() == 0 || l.remote.port() == remote.port())
            })
            .max_by_key(|l| {
                u8::from(!l.remote.ip().is_unspecified()) * 2 + u8::from(l.remote.port() != 0)
            })
    }

    fn accept(&mut self, cx: &mut Cx<Self>, key: ConnKey, seg: &Segment) -> bool {
        self.accept_after(cx, key, seg, None)
    }

    /// Accepts a SYN for a listener; with `after`, the ISS is beyond it (a new
    /// incarnation of a connection that sent up to `after`).
    fn accept_after(
        &mut self,
        cx: &mut Cx<Self>,
        key: ConnKey,
        seg: &Segment,
        after: Option<SeqNumber>,
    ) -> bool {
        let backlog = self.config.backlog.max(1);
        let Some(listener) = self.listener_for(&key) else {
            return false;
        };
        if listener.half_open.len() >= backlog {
            // Forget the oldest half-open connection (RFC 4987 2.3: recycling the oldest).
            let oldest = listener.half_open.remove(0);
            self.conns.remove(&oldest);
            cx.cancel_timer(&TcpTimer::ConnTimer(oldest));
            cx.count("TCP half-open connections recycled");
        }
        if self.conns.len() >= self.config.max_connections {
            return false;
        }
        let Some(listener) = self.listener_for(&key) else {
            return false;
        };
        listener.half_open.push(key);
        let app = listener.app;
        let local = SocketAddrV4::new(self.local, key.local_port);
        let remote = SocketAddrV4::new(key.remote_ip, key.remote_port);
        let mut sock = TcpSocket::new(self.config.socket.clone());
        let mut iss = self.isn.isn(cx.now(), local, remote);
        if let Some(after) = after
            && iss <= after
        {
            iss = after + (1 << 17);
        }
        // A fresh socket in CLOSED always accepts listen.
        let _ = sock.listen(local, iss);
        sock.set_remote(remote);
        let _ = sock.on_segment(cx.now(), seg, &[]);
        self.conns.insert(
            key,
            Connection {
                sock,
                app,
                half_open: true,
                told_connected: false,
                told_eof: false,
                armed: None,
                credit: self.config.app_reads.then_some(0),
            },
        );
        cx.count("TCP connections accepted");
        true
    }

    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Option<u16> {
        let span = usize::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                port + 1
            };
            let key = ConnKey {
                local_port: port,
                remote_ip: *remote.ip(),
                remote_port: remote.port(),
            };
            if !self.conns.contains_key(&key) && !self.listeners.contains_key(&port) {
                return Some(port);
            }
        }
        None
    }
}

#[protocol(ports(ip, icmp, app(u16)))]
impl Tcp {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let key = [cx.rng().u64(), cx.rng().u64()];
        self.isn = IsnGenerator::new(key);
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start());
        self.next_port = EPHEMERAL.start() + cx.rng().below(0, span) as u16;
    }

    /// A segment from IPv4.
    #[on_packet(port = "ip")]
    fn rx_ip(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let (Some(src), Some(dst)) = (v4(pkt.meta().src), v4(pkt.meta().dst)) else {
            return cx.drop_packet(pkt, "no IPv4 addresses");
        };
        let (src, dst) = (*src.ip(), *dst.ip());
        if dst != self.local {
            // RFC 9293 MUST-57: broadcast (limited or directed) and multicast segments are
            // dropped silently; so is anything else not for this host's address.
            return cx.drop_packet(pkt, "TCP to a broadcast, multicast or foreign address");
        }
        if src.is_broadcast() || src.is_multicast() || src.is_unspecified() {
            // RFC 9293 MUST-63 (and no RST back to such an address).
            return cx.drop_packet(pkt, "TCP from an invalid source address");
        }
        let (seg, hlen) = match Segment::parse(src, dst, pkt.data()) {
            Ok(x) => x,
            Err(e) => return cx.drop_packet(pkt, e.reason()),
        };
        let payload = &pkt.data()[hlen..];
        let key = ConnKey {
            local_port: seg.dst_port,
            remote_ip: src,
            remote_port: seg.src_port,
        };
        if let Some(c) = self.conns.get(&key)
            && c.sock.time_wait_accepts_syn(&seg)
            && self.listener_for(&key).is_some()
        {
            // A new incarnation ends TIME-WAIT (RFC 6191, RFC 9293 SHLD-4): the old
            // connection is forgotten and the SYN goes to the listener, with an ISS
            // beyond anything the old one sent (RFC 1122 4.2.2.13).
            let old = self.conns.remove(&key).expect("just seen");
            cx.cancel_timer(&TcpTimer::ConnTimer(key));
            cx.count("TCP TIME-WAIT ended by a new SYN (RFC 6191)");
            if old.told_connected {
                self.to_app(cx, old.app, &key, msg::CLOSED, &[]);
            }
            if self.accept_after(cx, key, &seg, Some(old.sock.snd_nxt())) {
                self.service(cx, key);
            } else {
                cx.count("TCP SYN refused: too many connections");
            }
            return;
        }
        if let Some(c) = self.conns.get_mut(&key) {
            let now = cx.now();
            // Bytes pushed to the application as they arrive skip the receive buffer
            // when nothing waits in it: this packet itself becomes the DATA event.
            c.sock
                .set_direct_delivery(c.told_connected && c.credit.is_none());
            let result = c
                .sock
                .on_segment_with_tos(now, &seg, payload, pkt.meta().tos);
            let direct = c.sock.take_direct();
            let app = c.app;
            // RFC 9293 MUST-58/59: segments that arrived together are all processed
            // before answering. The connection is serviced (ACK, data to send, events
            // to the application) by a timer due now, which fires once the node has
            // handled every packet of this instant (a batch read from a device).
            if c.armed != Some(now) {
                cx.start_timer_at(TcpTimer::ConnTimer(key), now);
                c.armed = Some(now);
            }
            if let Some(range) = direct {
                // Header and any bytes before RCV.NXT off, bytes past the window cut.
                let mut pkt = pkt;
                if pkt.pull(hlen + range.start).is_err() {
                    return cx.drop_packet(pkt, "TCP payload shorter than delivered");
                }
                pkt.truncate(range.len());
                *pkt.meta_mut() = PacketMeta::default();
                if let Err(reason) = result {
                    cx.count(reason.reason());
                }
                return self.event_to_app(cx, app, &key, msg::DATA, pkt);
            }
            if let Err(reason) = result {
                cx.drop_packet(pkt, reason.reason());
            }
            return;
        }
        if self.listener_for(&key).is_some() {
            if seg.flags & (SYN | ACK | RST) == SYN {
                if self.accept(cx, key, &seg) {
                    self.service(cx, key);
                } else {
                    cx.count("TCP SYN refused: too many connections");
                }
                return;
            }
            if seg.flags & RST == 0 {
                self.reply_rst(cx, src, &seg, payload.len());
            }
            return cx.drop_packet(pkt, "TCP segment for no connection");
        }
        let len = payload.len();
        self.reply_rst(cx, src, &seg, len);
        cx.drop_packet(pkt, "TCP segment for a closed port");
    }

    /// An ICMP error from ICMP's `errors(6)` port: the ICMP message, quoting the IPv4
    /// header and the first 8 bytes of one of our segments (RFC 9293 MUST-54).
    #[on_packet(port = "icmp")]
    fn rx_icmp(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        let d = pkt.data();
        let (Some(&icmp_type), Some(&code)) = (d.first(), d.get(1)) else {
            return cx.drop_packet(pkt, "ICMP error too short");
        };
        let Some(kind) = IcmpError::classify(icmp_type, code) else {
            // Source quench (MUST-55) and anything that is not an error.
            return cx.drop_packet(pkt, "ICMP message TCP ignores");
        };
        let quoted = &d[d.len().min(8)..];
        let ihl = quoted.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
        let (Some(src), Some(dst), Some(tcp)) = (
            quoted.get(12..16),
            quoted.get(16..20),
            quoted.get(ihl..ihl + 8).filter(|_| ihl >= 20),
        ) else {
            return cx.drop_packet(pkt, "ICMP error quotes too little");
        };
        if Ipv4Addr::new(src[0], src[1], src[2], src[3]) != self.local {
            return cx.drop_packet(pkt, "ICMP error about a segment we did not send");
        }
        let key = ConnKey {
            local_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            remote_ip: Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3]),
            remote_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        };
        let seq = SeqNumber(u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]));
        let Some(c) = self.conns.get_mut(&key) else {
            return cx.drop_packet(pkt, "ICMP error for no connection");
        };
        // Fragmentation needed with the next-hop MTU (RFC 1191): path MTU discovery.
        let result = match (icmp_type, code, d.get(6..8)) {
            (3, 4, Some(mtu)) if c.sock.config().path_mtu_discovery => {
                c.sock
                    .on_packet_too_big(cx.now(), seq, u16::from_be_bytes([mtu[0], mtu[1]]))
            }
            _ => c.sock.on_icmp_error(kind, seq),
        };
        match result {
            Ok(()) => {
                cx.count("TCP ICMP errors accepted");
                self.service(cx, key);
            }
            Err(reason) => cx.drop_packet(pkt, reason.reason()),
        }
    }

    /// A command from the application `app`.
    #[on_packet(port = "app")]
    fn rx_app(&mut self, cx: &mut Cx<Self>, pkt: Packet, app: u16) {
        let meta = *pkt.meta();
        let src = v4(meta.src);
        let dst = v4(meta.dst);
        let key_of = |src: Option<SocketAddrV4>, dst: Option<SocketAddrV4>| {
            Some(ConnKey {
                local_port: src?.port(),
                remote_ip: *dst?.ip(),
                remote_port: dst?.port(),
            })
        };
        if matches!(meta.mark, msg::LISTEN | msg::CONNECT)
            && src.is_some_and(|s| !s.ip().is_unspecified() && *s.ip() != self.local)
        {
            // RFC 9293 MUST-43: OPEN may name the local address; it must be this host's.
            return Self::app_error(
                cx,
                app,
                "listen/connect: the local address in meta().src is not this host's; \
                 leave it unspecified (0.0.0.0) or name the host's address",
            );
        }
        match meta.mark {
            msg::LISTEN => {
                let port = src.map_or(0, |s| s.port());
                let remote = dst.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
                let list = self.listeners.entry(port).or_default();
                if port == 0 || list.iter().any(|l| l.remote == remote) {
                    Self::app_error(
                        cx,
                        app,
                        "listen: the port is 0 or already listened on for this remote socket; \
                         set meta().src to a free port or meta().dst to another remote",
                    );
                } else {
                    list.push(Listener {
                        app,
                        remote,
                        half_open: Vec::new(),
                    });
                }
                if self.listeners.get(&port).is_some_and(|l| l.is_empty()) {
                    self.listeners.remove(&port);
                }
            }
            msg::UNLISTEN => {
                if let Some(port) = src.map(|s| s.port()) {
                    let remote = dst.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
                    if let Some(list) = self.listeners.get_mut(&port) {
                        list.retain(|l| l.remote != remote);
                        if list.is_empty() {
                            self.listeners.remove(&port);
                        }
                    }
                }
            }
            msg::CONNECT => {
                let Some(remote) = dst else {
                    return Self::app_error(
                        cx,
                        app,
                        "connect: set meta().dst to the peer's IPv4 endpoint",
                    );
                };
                let ip = remote.ip();
                if ip.is_broadcast()
                    || ip.is_multicast()
                    || ip.is_unspecified()
                    || remote.port() == 0
                {
                    // RFC 9293 MUST-46.
                    return Self::app_error(
                        cx,
                        app,
                        "connect: the peer must be a unicast IPv4 address with a non-zero port",
                    );
                }
                let port = match src.map(|s| s.port()).filter(|p| *p != 0) {
                    Some(p) => Some(p),
                    None => self.ephemeral_port(remote),
                };
                let Some(port) = port else {
                    return Self::app_error(
                        cx,
                        app,
                        "connect: no free ephemeral port; close connections first",
                    );
                };
                let key = ConnKey {
                    local_port: port,
                    remote_ip: *remote.ip(),
                    remote_port: remote.port(),
                };
                if self.conns.contains_key(&key) || self.conns.len() >= self.config.max_connections
                {
                    return Self::app_error(
                        cx,
                        app,
                        "connect: the connection exists or the connection limit is reached",
                    );
                }
                let local = self.local_ep(port);
                let mut sock = TcpSocket::new(self.config.socket.clone());
                let iss = self.isn.isn(cx.now(), local, remote);
                let _ = sock.connect(cx.now(), local, remote, iss);
                self.conns.insert(
                    key,
                    Connection {
                        sock,
                        app,
                        half_open: false,
                        told_connected: false,
                        told_eof: false,
                        armed: None,
                        credit: self.config.app_reads.then_some(0),
                    },
                );
                self.service(cx, key);
            }
            msg::SEND
            | msg::SEND_URGENT
            | msg::CLOSE
            | msg::ABORT
            | msg::KEEPALIVE
            | msg::READ
            | msg::DSCP => {
                let Some(key) = key_of(src, dst) else {
                    return cx.drop_packet(pkt, "TCP command without endpoints");
                };
                let Some(c) = self.conns.get_mut(&key) else {
                    return cx.drop_packet(pkt, "TCP command for no connection");
                };
                match meta.mark {
                    msg::SEND | msg::SEND_URGENT => {
                        let took = if meta.mark == msg::SEND {
                            c.sock.send(pkt.data())
                        } else {
                            c.sock.send_urgent(pkt.data())
                        }
                        .unwrap_or(0);
                        if took < pkt.len() {
                            cx.count("TCP send buffer full");
                            let app = c.app;
                            self.to_app(cx, app, &key, msg::SHORT, &(took as u32).to_be_bytes());
                        }
                    }
                    msg::CLOSE => c.sock.close(),
                    msg::KEEPALIVE => {
                        let d = pkt.data();
                        let word = |i: usize| {
                            u32::from_be_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]])
                        };
                        let keep_alive = match d.len() {
                            0 => None,
                            12 => Some(KeepAlive {
                                idle: Duration::from_millis(u64::from(word(0))),
                                interval: Duration::from_millis(u64::from(word(1))),
                                probes: word(2),
                            }),
                            _ => {
                                let app = c.app;
                                return Self::app_error(
                                    cx,
                                    app,
                                    "keep-alive: give 12 bytes (idle ms, interval ms, probes) or none",
                                );
                            }
                        };
                        c.sock.set_keep_alive(cx.now(), keep_alive);
                    }
                    msg::DSCP => match pkt.data() {
                        &[dscp] if dscp < 64 => c.sock.set_dscp(dscp),
                        _ => {
                            let app = c.app;
                            return Self::app_error(
                                cx,
                                app,
                                "dscp: give one byte, a Diffserv codepoint below 64",
                            );
                        }
                    },
                    msg::READ => {
                        let Some(&bytes) = pkt.data().first_chunk::<4>() else {
                            let app = c.app;
                            return Self::app_error(
                                cx,
                                app,
                                "read: give the byte count as a big-endian u32",
                            );
                        };
                        let more = u32::from_be_bytes(bytes) as usize;
                        c.credit = Some(c.credit.unwrap_or(0).saturating_add(more));
                    }
                    _ => c.sock.abort(),
                }
                self.service(cx, key);
            }
            _ => cx.drop_packet(pkt, "unknown TCP command"),
        }
    }

    /// A connection's timer.
    #[on_timer]
    fn conn_timer(&mut self, cx: &mut Cx<Self>, key: ConnKey) {
        if let Some(c) = self.conns.get_mut(&key) {
            c.armed = None;
            self.service(cx, key);
        }
    }
}
