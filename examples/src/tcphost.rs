//! The `tcphost` example's node: a VIPE host (Ethernet, ARP, IPv4, ICMP, UDP, TCP) with
//! an HTTP/1.0 server over a directory and/or an HTTP/1.0 client fetching one URL into a
//! file. Shared by the `tcphost` binary and the Linux interop tests, so what the tests
//! check is what the binary runs.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use vipe_protocols::apps::{
    FetchOutcome, HttpClient, HttpClientPort, HttpFiles, HttpServer, HttpServerPort, HttpSink,
    http::parse_url,
};
use vipe_protocols::ipv4::Interface;
use vipe_protocols::stack;
use vipe_protocols::tcp::{Tcp, TcpConfig, TcpPort, TcpProtocolConfig};
use vipe_rt::prelude::*;

/// What the host runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpHostConfig {
    /// This host's MAC address.
    pub mac: [u8; 6],
    /// Its address.
    pub addr: Ipv4Addr,
    /// Its on-link prefix length.
    pub prefix_len: u8,
    /// Its default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Serve the files of this directory over HTTP/1.0 ...
    pub http_root: Option<PathBuf>,
    /// ... on this port.
    pub port: u16,
    /// Fetch this `http://A.B.C.D[:PORT]/PATH` URL ...
    pub fetch: Option<String>,
    /// ... into this file.
    pub out: Option<PathBuf>,
    /// TCP settings.
    pub tcp: TcpConfig,
    /// The device takes TCP segmentation offload (a Linux TAP opened with offloads):
    /// TCP sends new data in segments of up to 64 KB (`TcpConfig::tso_max`) and IPv4
    /// hands them to the device whole. Default off.
    pub tso: bool,
}

impl TcpHostConfig {
    /// A host at `addr/prefix_len` with the default TCP settings for a TAP link: 4 MiB
    /// buffers (window scaling), 1460-byte MSS.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Self {
        TcpHostConfig {
            mac: [0x02, 0, 0, 0, 0x7c, 0x02],
            addr,
            prefix_len,
            gateway: None,
            http_root: None,
            port: 80,
            fetch: None,
            out: None,
            tcp: TcpConfig {
                send_buffer: 4 << 20,
                recv_buffer: 4 << 20,
                initial_window: Some(10),
                ..TcpConfig::default()
            },
            tso: false,
        }
    }
}

/// The host's protocol instances that the caller looks at.
#[derive(Clone, Copy, Debug)]
pub struct TcpHost {
    /// TCP.
    pub tcp: Handle<Tcp>,
    /// The HTTP server, if serving.
    pub server: Option<Handle<HttpServer>>,
    /// The HTTP client, if fetching.
    pub client: Option<Handle<HttpClient>>,
}

impl TcpHost {
    /// How the fetch ended, if there is one and it has.
    pub fn outcome(&self, node: &Node) -> Option<FetchOutcome> {
        let client = self.client?;
        node.protocol(client)?.outcome.clone()
    }

    /// Time from the fetch's handshake to its end, once it ended.
    pub fn fetch_time(&self, node: &Node) -> Option<Duration> {
        let c = node.protocol(self.client?)?;
        Some(c.finished_at? - c.connected_at?)
    }
}

/// Files under a directory; paths with `..` never reach here (the server refuses them).
pub struct DirFiles {
    root: PathBuf,
    open: Option<(String, File, u64)>,
}

impl DirFiles {
    /// Serves the files under `root`.
    pub fn new(root: &Path) -> Self {
        DirFiles {
            root: root.to_path_buf(),
            open: None,
        }
    }

    fn file(&mut self, path: &str) -> Option<&mut (String, File, u64)> {
        if self.open.as_ref().is_none_or(|(p, _, _)| p != path) {
            let full = self.root.join(path);
            if !full.is_file() {
                return None;
            }
            self.open = Some((path.to_owned(), File::open(full).ok()?, 0));
        }
        self.open.as_mut()
    }
}

impl HttpFiles for DirFiles {
    fn size(&mut self, path: &str) -> Option<u64> {
        let path = if path.is_empty() { "index.html" } else { path };
        let (_, f, _) = self.file(path)?;
        f.metadata().ok().map(|m| m.len())
    }

    fn read(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> usize {
        let path = if path.is_empty() { "index.html" } else { path };
        let Some((_, f, pos)) = self.file(path) else {
            return 0;
        };
        if *pos != offset {
            if f.seek(SeekFrom::Start(offset)).is_err() {
                return 0;
            }
            *pos = offset;
        }
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        *pos += n as u64;
        n
    }
}

/// Writes the body into a file.
pub struct FileSink(BufWriter<File>);

impl FileSink {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, String> {
        File::create(path)
            .map(|f| FileSink(BufWriter::with_capacity(1 << 20, f)))
            .map_err(|e| format!("--out {}: {e}", path.display()))
    }
}

impl HttpSink for FileSink {
    fn write(&mut self, bytes: &[u8]) -> bool {
        self.0.write_all(bytes).is_ok()
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = self.0.flush();
    }
}

/// Discards the body (a fetch without `--out`).
struct Discard;

impl HttpSink for Discard {
    fn write(&mut self, _bytes: &[u8]) -> bool {
        true
    }
}

/// Builds the host on `dev`.
pub fn build(node: &mut Node, dev: DeviceId, config: &TcpHostConfig) -> Result<TcpHost, String> {
    let iface = Interface {
        addr: config.addr,
        prefix_len: config.prefix_len,
        mtu: 1500,
    };
    let host =
        stack::host(node, dev, config.mac, iface, config.gateway).map_err(|e| e.to_string())?;
    let mut socket = config.tcp.clone();
    if config.tso {
        node.protocol_mut(host.ipv4)
            .ok_or("IPv4 missing from the host stack")?
            .set_tso(0, true);
        if socket.tso_max == 0 {
            socket.tso_max = 64 * 1024;
        }
    }
    let tcp = stack::add_tcp(
        node,
        &host,
        config.addr,
        TcpProtocolConfig {
            socket,
            ..TcpProtocolConfig::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let server = match &config.http_root {
        Some(root) => {
            if !root.is_dir() {
                return Err(format!("--http-root {}: not a directory", root.display()));
            }
            let server = node.add(HttpServer::new(config.port, Box::new(DirFiles::new(root))));
            node.connect(tcp.port(TcpPort::App(1)), server.port(HttpServerPort::Tcp))
                .map_err(|e| e.to_string())?;
            Some(server)
        }
        None => None,
    };
    let client = match &config.fetch {
        Some(url) => {
            let (server, path) = parse_url(url)?;
            let sink: Box<dyn HttpSink> = match &config.out {
                Some(out) => Box::new(FileSink::create(out)?),
                None => Box::new(Discard),
            };
            let client = node.add(HttpClient::new(server, path, sink));
            node.connect(tcp.port(TcpPort::App(2)), client.port(HttpClientPort::Tcp))
                .map_err(|e| e.to_string())?;
            Some(client)
        }
        None => None,
    };
    Ok(TcpHost {
        tcp,
        server,
        client,
    })
}
