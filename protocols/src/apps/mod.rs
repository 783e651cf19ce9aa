//! Small applications for experiments and tests: a pinger, a UDP echo server, a UDP
//! client, and an HTTP/1.0 server and client over TCP. Like every protocol here they
//! depend on `vipe-rt` only.

pub mod http;
mod pinger;
mod udp_client;
mod udp_echo;

pub use http::{
    FetchOutcome, HttpClient, HttpClientPort, HttpFiles, HttpServer, HttpServerPort, HttpSink,
    MemoryFiles, MemorySink,
};
pub use pinger::{PingOutcome, Pinger, PingerConfig, PingerPort, PingerTimer};
pub use udp_client::{UdpClient, UdpClientConfig, UdpClientPort, UdpClientTimer, UdpEvent};
pub use udp_echo::{UdpEcho, UdpEchoPort};
