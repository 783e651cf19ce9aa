//! A small HTTP/1.0 server and client over VIPE TCP (GET of files). Neither touches a
//! file system itself (protocols run everywhere, `no_std` included): the server reads
//! through an [`HttpFiles`] and the client writes the body into an [`HttpSink`] that the
//! platform side provides.
//!
//! Both follow TCP's flow control towards applications: they send no more than the
//! last `WRITABLE` event allowed, and take back what a `SHORT` answer refused.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddrV4;

use vipe_rt::prelude::*;

use crate::tcp::{AppEvent, Conn, TcpApp};

/// Largest chunk handed to TCP at once.
const CHUNK: usize = 64 * 1024;
/// Largest request head the server reads.
const MAX_REQUEST: usize = 8 * 1024;
/// Largest response head the client reads.
const MAX_HEAD: usize = 16 * 1024;

/// Where the server's files come from.
pub trait HttpFiles {
    /// The size of the file at `path` (the URL path without its leading `/`, never
    /// containing `..`), or `None` if there is no such file.
    fn size(&mut self, path: &str) -> Option<u64>;
    /// Copies bytes of `path` from `offset` into `buf`; returns how many (0 at the end
    /// or on error).
    fn read(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> usize;
}

/// Where the client's response body goes.
pub trait HttpSink {
    /// Takes the next bytes of the body; returns false to give up (e.g. a write error).
    fn write(&mut self, bytes: &[u8]) -> bool;
}

/// Files held in memory, by path: for tests and the simulator.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles(pub BTreeMap<String, Vec<u8>>);

impl HttpFiles for MemoryFiles {
    fn size(&mut self, path: &str) -> Option<u64> {
        self.0.get(path).map(|f| f.len() as u64)
    }
    fn read(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> usize {
        let Some(f) = self.0.get(path) else { return 0 };
        let start = (offset as usize).min(f.len());
        let n = buf.len().min(f.len() - start);
        buf[..n].copy_from_slice(&f[start..start + n]);
        n
    }
}

/// A body kept in memory: for tests and the simulator.
#[derive(Clone, Debug, Default)]
pub struct MemorySink(pub Vec<u8>);

impl HttpSink for MemorySink {
    fn write(&mut self, bytes: &[u8]) -> bool {
        self.0.extend_from_slice(bytes);
        true
    }
}

#[derive(Debug, Default)]
struct Session {
    request: Vec<u8>,
    /// Response head not yet taken by TCP.
    head: Vec<u8>,
    path: String,
    offset: u64,
    size: u64,
    credit: usize,
    last_send: usize,
    last_was_head: bool,
    responding: bool,
    closed: bool,
}

/// Counters of the server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpServerStats {
    /// Requests answered 200.
    pub ok: u64,
    /// Requests answered 404.
    pub not_found: u64,
    /// Requests answered 400 or 405.
    pub bad: u64,
    /// Body bytes handed to TCP.
    pub body_bytes: u64,
}

/// An HTTP/1.0 server for GET: connect its `tcp` port to TCP's `app(id)`.
#[protocol(name = "http-server")]
pub struct HttpServer {
    port: u16,
    files: Box<dyn HttpFiles>,
    sessions: BTreeMap<Conn, Session>,
    /// Counters.
    pub stats: HttpServerStats,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("port", &self.port)
            .field("sessions", &self.sessions.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl HttpServer {
    /// A server on TCP port `port` serving `files`.
    pub fn new(port: u16, files: Box<dyn HttpFiles>) -> Self {
        HttpServer {
            port,
            files,
            sessions: BTreeMap::new(),
            stats: HttpServerStats::default(),
        }
    }

    /// Connections being served.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    fn respond(&mut self, conn: Conn) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        let head_end = s.request.windows(4).position(|w| w == b"\r\n\r\n");
        if head_end.is_none() && s.request.len() < MAX_REQUEST {
            return;
        }
        s.responding = true;
        let text = String::from_utf8_lossy(&s.request[..head_end.unwrap_or(0)]);
        let mut words = text.lines().next().unwrap_or("").split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let path = target
            .split('?')
            .next()
            .unwrap_or("")
            .trim_start_matches('/');
        let status = if head_end.is_none() || !target.starts_with('/') {
            self.stats.bad += 1;
            "400 Bad Request"
        } else if method != "GET" {
            self.stats.bad += 1;
            "405 Method Not Allowed"
        } else if path.split('/').any(|p| p == "..") {
            self.stats.not_found += 1;
            "404 Not Found"
        } else {
            match self.files.size(path) {
                Some(size) => {
                    self.stats.ok += 1;
                    s.size = size;
                    s.path = String::from(path);
                    "200 OK"
                }
                None => {
                    self.stats.not_found += 1;
                    "404 Not Found"
                }
            }
        };
        s.head = format!(
            "HTTP/1.0 {status}\r\nServer: vipe\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
            s.size
        )
        .into_bytes();
    }

    fn push(&mut self, cx: &mut Cx<Self>, conn: Conn) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        if !s.responding || s.closed {
            return;
        }
        if !s.head.is_empty() {
            let n = s.head.len().min(s.credit);
            if n == 0 {
                return;
            }
            let mut pkt = cx.alloc();
            pkt.put_slice(&s.head[..n]);
            s.head.drain(..n);
            s.credit -= n;
            s.last_send = n;
            s.last_was_head = true;
            cx.send(HttpServerPort::Tcp, TcpApp::send(pkt, conn));
        }
        let left = s.size - s.offset;
        let n = (s.credit as u64).min(left).min(CHUNK as u64) as usize;
        if n > 0 && s.head.is_empty() {
            let mut pkt = cx.alloc();
            let got = self.files.read(&s.path, s.offset, pkt.put(n));
            if got < n {
                // The file shrank or failed: stop here (the length was promised).
                pkt.truncate(got);
                s.size = s.offset + got as u64;
            }
            s.offset += got as u64;
            s.credit -= got;
            s.last_send = got;
            s.last_was_head = false;
            self.stats.body_bytes += got as u64;
            if got > 0 {
                cx.send(HttpServerPort::Tcp, TcpApp::send(pkt, conn));
            }
        }
        if s.head.is_empty() && s.offset >= s.size {
            s.closed = true;
            let pkt = cx.alloc();
            cx.send(HttpServerPort::Tcp, TcpApp::close(pkt, conn));
        }
    }
}

#[protocol(ports(tcp))]
impl HttpServer {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(HttpServerPort::Tcp, TcpApp::listen(pkt, self.port));
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        match TcpApp::event(&pkt) {
            Some(AppEvent::Connected(conn)) => {
                self.sessions.insert(conn, Session::default());
            }
            Some(AppEvent::Writable(conn, room)) => {
                if let Some(s) = self.sessions.get_mut(&conn) {
                    s.credit = room;
                }
                self.push(cx, conn);
            }
            Some(AppEvent::Short(conn, took)) => {
                if let Some(s) = self.sessions.get_mut(&conn) {
                    let refused = s.last_send.saturating_sub(took);
                    if s.last_was_head {
                        // Rare: keep it simple and give up on this connection.
                        s.closed = true;
                    } else {
                        s.offset -= refused as u64;
                        self.stats.body_bytes -= refused as u64;
                        s.closed = false;
                    }
                    s.credit = 0;
                }
            }
            Some(AppEvent::Data(conn, bytes)) => {
                if let Some(s) = self.sessions.get_mut(&conn)
                    && !s.responding
                {
                    let room = MAX_REQUEST.saturating_sub(s.request.len());
                    s.request.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    self.respond(conn);
                    self.push(cx, conn);
                }
            }
            Some(AppEvent::Eof(conn)) => {
                // A client that closes before asking gets closed too.
                if let Some(s) = self.sessions.get_mut(&conn)
                    && !s.responding
                {
                    s.closed = true;
                    let pkt = cx.alloc();
                    cx.send(HttpServerPort::Tcp, TcpApp::close(pkt, conn));
                }
            }
            Some(AppEvent::Closed(conn)) | Some(AppEvent::Reset(conn, _)) => {
                self.sessions.remove(&conn);
            }
            _ => cx.drop_packet(pkt, "unexpected TCP event"),
        }
    }
}

/// How a fetch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The whole body arrived (status 200, length as announced if announced).
    Complete {
        /// Body bytes.
        bytes: u64,
    },
    /// It failed, saying why.
    Failed(String),
}

/// An HTTP/1.0 client fetching one URL: connect its `tcp` port to TCP's `app(id)`.
#[protocol(name = "http-client")]
pub struct HttpClient {
    server: SocketAddrV4,
    path: String,
    sink: Box<dyn HttpSink>,
    conn: Option<Conn>,
    head: Vec<u8>,
    status: Option<u16>,
    length: Option<u64>,
    received: u64,
    /// How the fetch ended, once it has.
    pub outcome: Option<FetchOutcome>,
    /// When the connection was established.
    pub connected_at: Option<Instant>,
    /// When the outcome was decided.
    pub finished_at: Option<Instant>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("server", &self.server)
            .field("path", &self.path)
            .field("received", &self.received)
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// Splits `http://A.B.C.D[:PORT]/PATH` into the endpoint and the path.
pub fn parse_url(url: &str) -> Result<(SocketAddrV4, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http://A.B.C.D[:PORT]/PATH URLs are supported"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (ip, port) = match host.split_once(':') {
        Some((ip, port)) => (
            ip,
            port.parse::<u16>()
                .map_err(|_| format!("{url:?}: the port {port:?} is not a number"))?,
        ),
        None => (host, 80),
    };
    let ip = ip
        .parse()
        .map_err(|_| format!("{url:?}: the host must be an IPv4 address (no DNS here)"))?;
    Ok((SocketAddrV4::new(ip, port), String::from(path)))
}

impl HttpClient {
    /// A client fetching `path` (starting with `/`) from `server`, writing the body to
    /// `sink`.
    pub fn new(server: SocketAddrV4, path: String, sink: Box<dyn HttpSink>) -> Self {
        HttpClient {
            server,
            path,
            sink,
            conn: None,
            head: Vec::new(),
            status: None,
            length: None,
            received: 0,
            outcome: None,
            connected_at: None,
            finished_at: None,
        }
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn fail(&mut self, cx: &mut Cx<Self>, why: String) {
        if self.outcome.is_none() {
            self.outcome = Some(FetchOutcome::Failed(why));
            self.finished_at = Some(cx.now());
        }
        if let Some(conn) = self.conn {
            let pkt = cx.alloc();
            cx.send(HttpClientPort::Tcp, TcpApp::abort(pkt, conn));
        }
    }

    fn body(&mut self, cx: &mut Cx<Self>, bytes: &[u8]) {
        self.received += bytes.len() as u64;
        if !self.sink.write(bytes) {
            self.fail(cx, String::from("the body could not be written"));
        }
    }

    fn data(&mut self, cx: &mut Cx<Self>, bytes: &[u8]) {
        if self.status.is_some() {
            return self.body(cx, bytes);
        }
        self.head.extend_from_slice(bytes);
        let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.head.len() > MAX_HEAD {
                self.fail(cx, String::from("the response head is too long"));
            }
            return;
        };
        let text = String::from_utf8_lossy(&self.head[..end]).into_owned();
        let mut lines = text.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse::<u16>().ok());
        let Some(status) = status else {
            return self.fail(cx, format!("not an HTTP response: {:?}", lines.next()));
        };
        self.status = Some(status);
        for line in lines {
            if let Some((k, v)) = line.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                self.length = v.trim().parse().ok();
            }
        }
        if status != 200 {
            return self.fail(cx, format!("the server answered {status}"));
        }
        let rest = self.head.split_off(end + 4);
        self.body(cx, &rest);
    }
}

#[protocol(ports(tcp))]
impl HttpClient {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        let pkt = cx.alloc();
        cx.send(HttpClientPort::Tcp, TcpApp::connect(pkt, self.server));
    }

    #[on_packet(port = "tcp")]
    fn event(&mut self, cx: &mut Cx<Self>, pkt: Packet) {
        if let Some((_, bytes)) = TcpApp::data(&pkt) {
            // The body, straight from the event packet.
            if self.outcome.is_none() {
                self.data(cx, bytes);
            }
            return;
        }
        match TcpApp::event(&pkt) {
            Some(AppEvent::Connected(conn)) => {
                self.conn = Some(conn);
                self.connected_at = Some(cx.now());
                let req = format!(
                    "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: vipe\r\n\r\n",
                    self.path, self.server
                );
                let mut pkt = cx.alloc();
                pkt.put_slice(req.as_bytes());
                cx.send(HttpClientPort::Tcp, TcpApp::send(pkt, conn));
            }
            Some(AppEvent::Eof(conn)) => {
                if self.outcome.is_none() {
                    self.outcome = Some(match (self.status, self.length) {
                        (Some(200), Some(n)) if n != self.received => FetchOutcome::Failed(
                            format!("the body ended after {} of {n} bytes", self.received),
                        ),
                        (Some(200), _) => FetchOutcome::Complete {
                            bytes: self.received,
                        },
                        _ => FetchOutcome::Failed(String::from(
                            "the connection closed before a response",
                        )),
                    });
                }
                self.finished_at.get_or_insert(cx.now());
                let pkt = cx.alloc();
                cx.send(HttpClientPort::Tcp, TcpApp::close(pkt, conn));
            }
            Some(AppEvent::Reset(_, why)) => {
                let why = String::from_utf8_lossy(&why).into_owned();
                self.fail(cx, format!("the connection failed: {why}"));
            }
            Some(AppEvent::Error(why)) => {
                let why = String::from_utf8_lossy(&why).into_owned();
                self.fail(cx, why);
            }
            Some(AppEvent::Short(..)) => {
                self.fail(cx, String::from("the request did not fit the send buffer"))
            }
            _ => {}
        }
    }
}
