//! Runnable VIPE experiments. Each protocol here is written once against `vipe-rt`;
//! each experiment wires it into a platform and reports what happened.
//!
//! - [`heartbeat`]: a prober and a responder over a lossy link, with a retransmit timer
//!   per probe; reports RTTs, losses and retransmissions. Swept over seeds and
//!   parameters by the `heartbeat` experiment of `vipe-lab`
//!   (`cargo run --release -p vipe-lab -- run heartbeat`).
//! - [`tcphost`]: a host with VIPE TCP serving files and fetching a URL over HTTP/1.0.

pub mod chord;
pub mod chord_kv;
pub mod heartbeat;
pub mod overlay;
pub mod pastry;
pub mod platform;
pub mod sim_scale;
pub mod stats;
#[cfg(feature = "ns3")]
pub mod tcp_ns3;
pub mod tcphost;
