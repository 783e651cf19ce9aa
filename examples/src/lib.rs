//! Runnable VIPE experiments. Each protocol here is written once against `vipe-rt`;
//! each experiment wires it into a platform and reports what happened.
//!
//! - [`heartbeat`]: a prober and a responder over a lossy link, with a retransmit timer
//!   per probe; reports RTTs, losses and retransmissions (`cargo run -p vipe-examples
//!   --release --bin heartbeat`).

pub mod heartbeat;
pub mod overlay;
pub mod platform;
pub mod stats;
