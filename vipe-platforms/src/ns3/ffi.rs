//! The C shim's entry points (`ns3-shim/shim.cc`), as it declares them. Handles are
//! indices the shim hands out and checks; times are nanoseconds; addresses and ports are
//! in host byte order.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};

/// A VIPE node's wake-up is due.
pub(crate) type WakeFn = extern "C" fn(ctx: *mut c_void, node: u32);
/// A frame arrived: its payload (after the Ethernet header) is `packet`, readable with
/// [`vipe_ns3_packet_copy`] during the call only; `dst` and `src` point to 6 bytes each.
pub(crate) type FrameFn = extern "C" fn(
    ctx: *mut c_void,
    port: u32,
    packet: *const c_void,
    len: u32,
    dst: *const u8,
    src: *const u8,
    ethertype: u16,
);
/// A datagram arrived from `src_ip:src_port`.
pub(crate) type DatagramFn = extern "C" fn(
    ctx: *mut c_void,
    port: u32,
    packet: *const c_void,
    len: u32,
    src_ip: u32,
    src_port: u16,
);

// SAFETY: these declarations match the definitions in ns3-shim/shim.cc, which is compiled
// and linked into this crate by build.rs; every function is `noexcept`, so no C++
// exception crosses into Rust.
unsafe extern "C" {
    pub(crate) fn vipe_ns3_begin(
        ctx: *mut c_void,
        on_wake: WakeFn,
        on_frame: FrameFn,
        on_datagram: DatagramFn,
        seed: u32,
        run: u64,
    ) -> i32;
    pub(crate) fn vipe_ns3_end();
    pub(crate) fn vipe_ns3_set_default(name: *const c_char, value: *const c_char) -> i32;
    pub(crate) fn vipe_ns3_now() -> i64;
    pub(crate) fn vipe_ns3_event_count() -> u64;
    pub(crate) fn vipe_ns3_run_until(end_ns: i64);
    pub(crate) fn vipe_ns3_stop_now();
    pub(crate) fn vipe_ns3_node_create() -> u32;
    pub(crate) fn vipe_ns3_node_id(node: u32) -> u32;
    pub(crate) fn vipe_ns3_csma_channel(bits_per_second: u64, delay_ns: i64) -> u32;
    pub(crate) fn vipe_ns3_csma_attach(
        node: u32,
        channel: u32,
        mac: *const u8,
        queue_packets: u32,
    ) -> i32;
    pub(crate) fn vipe_ns3_p2p_link(
        a: u32,
        b: u32,
        bits_per_second: u64,
        delay_ns: i64,
        mac_a: *const u8,
        mac_b: *const u8,
        queue_packets: u32,
        out: *mut u32,
    ) -> i32;
    pub(crate) fn vipe_ns3_frame_listen(device: u32, port: u32) -> i32;
    pub(crate) fn vipe_ns3_frame_send(
        device: u32,
        payload: *const u8,
        len: u32,
        dst: *const u8,
        src: *const u8,
        ethertype: u16,
    ) -> i32;
    pub(crate) fn vipe_ns3_pcap(device: u32, path: *const c_char, promiscuous: i32) -> i32;
    pub(crate) fn vipe_ns3_internet_install(node: u32) -> i32;
    pub(crate) fn vipe_ns3_ipv4_add(device: u32, addr: u32, prefix: u8) -> i32;
    pub(crate) fn vipe_ns3_ipv4_default_route(node: u32, gateway: u32, interface: u32) -> i32;
    pub(crate) fn vipe_ns3_udp_open(node: u32, ip: u32, port: u16, port_token: u32) -> i32;
    pub(crate) fn vipe_ns3_udp_send(
        socket: u32,
        data: *const u8,
        len: u32,
        ip: u32,
        port: u16,
    ) -> i32;
    pub(crate) fn vipe_ns3_udp_echo_server(node: u32, port: u16) -> i32;
    pub(crate) fn vipe_ns3_tcp_bulk(
        sender: u32,
        receiver: u32,
        dst_ip: u32,
        port: u16,
        bytes: u64,
        start_ns: i64,
    ) -> i32;
    pub(crate) fn vipe_ns3_tcp_flow_received(flow: u32) -> u64;
    pub(crate) fn vipe_ns3_tcp_flow_cwnd(
        flow: u32,
        from: u64,
        times: *mut i64,
        cwnds: *mut u32,
        cap: u64,
    ) -> i64;
    pub(crate) fn vipe_ns3_packet_copy(packet: *const c_void, out: *mut u8, len: u32);
    pub(crate) fn vipe_ns3_wake_at(node: u32, at_ns: i64);
    pub(crate) fn vipe_ns3_wake_cancel(node: u32);
}

// Safe wrappers. The shim checks every handle and does nothing (or reports failure) when
// no world is active, so these are sound for any argument; pointers passed are to live
// Rust buffers of the stated length.

/// Simulated time now.
pub(crate) fn now() -> vipe_rt::Instant {
    // SAFETY: takes no pointers; reads the simulator's clock.
    let ns = unsafe { vipe_ns3_now() };
    vipe_rt::Instant::from_nanos(ns.max(0) as u64)
}

/// Events ns-3 has executed in this world so far.
pub(crate) fn event_count() -> u64 {
    // SAFETY: takes no pointers.
    unsafe { vipe_ns3_event_count() }
}

/// Makes `Simulator::Run` return after the current event.
pub(crate) fn stop_now() {
    // SAFETY: takes no pointers.
    unsafe { vipe_ns3_stop_now() }
}

/// Wakes VIPE node `node` at `at`, replacing its pending wake-up.
pub(crate) fn wake_at(node: u32, at: vipe_rt::Instant) {
    // SAFETY: takes no pointers; the node index is only a key in the shim.
    unsafe { vipe_ns3_wake_at(node, nanos(at.as_nanos())) }
}

/// Removes VIPE node `node`'s pending wake-up from the scheduler.
pub(crate) fn wake_cancel(node: u32) {
    // SAFETY: takes no pointers.
    unsafe { vipe_ns3_wake_cancel(node) }
}

/// Sends an Ethernet frame's payload on `device`; whether the device took it.
pub(crate) fn frame_send(
    device: u32,
    payload: &[u8],
    dst: &[u8; 6],
    src: &[u8; 6],
    ethertype: u16,
) -> bool {
    let Ok(len) = u32::try_from(payload.len()) else {
        return false;
    };
    // SAFETY: `payload` holds `len` bytes and `dst`/`src` 6 each, all live for the call;
    // the shim copies them into an ns-3 packet and keeps no pointer.
    unsafe {
        vipe_ns3_frame_send(
            device,
            payload.as_ptr(),
            len,
            dst.as_ptr(),
            src.as_ptr(),
            ethertype,
        ) == 1
    }
}

/// Sends a datagram from `socket` to `to`; whether ns-3's stack took it.
pub(crate) fn udp_send(socket: u32, data: &[u8], to: std::net::SocketAddrV4) -> bool {
    let Ok(len) = u32::try_from(data.len()) else {
        return false;
    };
    // SAFETY: `data` holds `len` bytes, live for the call; the shim copies them.
    unsafe { vipe_ns3_udp_send(socket, data.as_ptr(), len, u32::from(*to.ip()), to.port()) == 1 }
}

/// Copies the `len` bytes of a packet the shim passed to a callback into `out`.
///
/// # Safety
/// `packet` must be the packet pointer of the callback now running, holding `len`
/// bytes, and `out` must be `len` bytes long.
pub(crate) unsafe fn packet_copy(packet: *const c_void, out: &mut [u8]) {
    // SAFETY: the caller guarantees `packet` is live and holds `out.len()` bytes; `out`
    // is writable for that length.
    unsafe { vipe_ns3_packet_copy(packet, out.as_mut_ptr(), out.len() as u32) }
}

/// A `u64` of nanoseconds as ns-3's signed time (saturating).
pub(crate) fn nanos(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}
