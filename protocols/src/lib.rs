//! The VIPE protocol collection. Protocols depend on `vipe-rt` only (the narrow waist),
//! so each one runs unchanged on every platform.
//!
//! - [`wire`]: header formats (Ethernet II and 802.1Q, ARP, IPv4, ICMP, UDP, TCP), each a
//!   `#[derive(Header)]` struct.
#![no_std]
#![forbid(unsafe_code)]

pub mod wire;
