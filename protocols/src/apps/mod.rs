//! Small applications for experiments and tests: a pinger, a UDP echo server and a UDP
//! client. Like every protocol here they depend on `vipe-rt` only.

mod pinger;
mod udp_client;
mod udp_echo;

pub use pinger::{PingOutcome, Pinger, PingerConfig, PingerPort, PingerTimer};
pub use udp_client::{UdpClient, UdpClientConfig, UdpClientPort, UdpClientTimer, UdpEvent};
pub use udp_echo::{UdpEcho, UdpEchoPort};
