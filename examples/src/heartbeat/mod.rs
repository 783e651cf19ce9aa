//! Heartbeat: a prober sends numbered probes to a responder over a lossy link, arms a
//! retransmit timer per probe (a timer with a payload: the sequence number) and measures
//! the round-trip time of each answered probe.

pub mod experiment;
pub mod protocol;
pub mod wire;

pub use experiment::{HeartbeatConfig, HeartbeatReport, run, run_with};
pub use protocol::{ProbeOutcome, Prober, ProberConfig, Responder};
