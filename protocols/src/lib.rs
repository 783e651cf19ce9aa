//! The VIPE protocol collection. Protocols depend on `vipe-rt` only (the narrow waist),
//! so each one runs unchanged on every platform.
//!
//! - [`wire`]: header formats (Ethernet II and 802.1Q, ARP, IPv4, IPv6 with its extension
//!   headers, ICMP, UDP, TCP and its SACK option, RIPv2), each a `#[derive(Header)]` struct.
//! - [`ethernet`], [`arp`], [`ipv4`], [`icmp`], [`udp`], [`tcp`]: the protocols.
//! - [`apps`]: a pinger, a UDP echo server, a UDP client.
//! - [`stack`]: wiring a host's or a router's stack into a node.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod apps;
pub mod arp;
pub mod chord;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod pastry;
pub mod stack;
pub mod tcp;
pub mod udp;
pub mod wire;
