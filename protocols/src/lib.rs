//! The VIPE protocol collection. Protocols depend on `vipe-rt` only (the narrow waist),
//! so each one runs unchanged on every platform.
//!
//! Ethernet, ARP, IPv4, ICMP and UDP land with the header-derive work; this crate is the
//! place they go.
#![no_std]
