//! # vipe-platforms — where VIPE nodes run
//!
//! Each platform drives [`vipe_rt::Node`]s through the same sans-IO surface (feed input,
//! advance time, drain transmits, sleep until the next deadline). One module per
//! platform, chosen at compile time by cargo feature:
//!
//! | feature | platform |
//! |---|---|
//! | `sim` (default) | [`sim`]: the built-in deterministic discrete-event simulator |
//! | `linux` | `linux`: an epoll event loop over TAP devices and UDP sockets |
//! | `ns3` | `ns3`: VIPE nodes inside the ns-3 3.37 simulator (needs `libns3-dev`) |
//!
//! The bare-metal backend joins behind its own feature.
#![warn(missing_docs)]
#![deny(unsafe_code)]

#[cfg(not(any(feature = "sim", feature = "linux", feature = "ns3")))]
compile_error!(
    "vipe-platforms: no platform selected. Enable one with a cargo feature, e.g. \
     `--features sim` (the built-in simulator, the default)."
);

#[cfg(any(feature = "sim", feature = "linux"))]
mod pcap;

#[cfg(feature = "sim")]
pub mod sim;

#[cfg(feature = "linux")]
pub mod linux;

#[cfg(feature = "ns3")]
pub mod ns3;
