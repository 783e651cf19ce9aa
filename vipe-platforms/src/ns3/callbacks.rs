//! The functions ns-3 calls back through the shim. Each runs its work inside
//! `catch_unwind`: a panic is recorded, the simulation is stopped after the current
//! event, and the callback returns normally — a panic never unwinds into C++.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::NodeView;
use super::ffi;
use super::state::State;

/// A "stop now?" condition, checked after every callback while a run has one.
pub(crate) type DoneFn = dyn for<'v> FnMut(&NodeView<'v>) -> bool;

/// What the shim's `ctx` pointer points to: the world's state, behind a `RefCell` so a
/// callback re-entering another (which ns-3 should never do) is caught, not aliased.
pub(crate) struct Shared {
    pub(crate) state: RefCell<State>,
    /// The current run's condition; set only for the duration of a run (the pointer's
    /// lifetime is erased, see `Ns3World::run_inner`).
    pub(crate) done: Cell<Option<*mut DoneFn>>,
    /// Datagrams ns-3 delivered while a callback was running: a node that sends to its
    /// own address gets the datagram inside the send (ns-3's loopback is synchronous).
    /// They are handed to the node when the running callback's work is done, so that
    /// handlers never re-enter, as on every other platform.
    pub(crate) deferred: RefCell<VecDeque<(u32, Vec<u8>, SocketAddr)>>,
}

/// Headroom left in front of a received frame (the Ethernet header is pushed into it).
const RX_HEADROOM: usize = 64;

/// Runs `work` on the state for callback `what`, catching panics.
fn guard(ctx: *mut c_void, what: &'static str, work: impl FnOnce(&mut State)) {
    // SAFETY: `ctx` is the `Shared` the world registered with vipe_ns3_begin. The world
    // keeps it alive until vipe_ns3_end returns, and the shim calls back only between
    // those; the world holds no Rust reference to it while ns-3 runs.
    let shared = unsafe { &*ctx.cast::<Shared>() };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Ok(mut state) = shared.state.try_borrow_mut() else {
            return Err(format!("{what} callback re-entered another callback"));
        };
        if state.failure.is_some() {
            return Ok(());
        }
        work(&mut state);
        loop {
            let next = shared.deferred.borrow_mut().pop_front();
            let Some((port, bytes, src)) = next else {
                break;
            };
            if let Some(pool) = state.pool(port) {
                let mut pkt = pool.alloc();
                pkt.put_slice(&bytes);
                pkt.meta_mut().src = Some(src);
                state.deliver(port, pkt);
            }
        }
        if let Some(done) = shared.done.get() {
            let view = NodeView {
                nodes: &state.nodes,
            };
            // SAFETY: `done` points to the closure `run_inner` borrowed for this run; it
            // is cleared before that borrow ends, and nothing else calls it meanwhile.
            if unsafe { (*done)(&view) } {
                ffi::stop_now();
            }
        }
        Ok(())
    }));
    let failure = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(why)) => why,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string panic payload>".to_string());
            format!("{what} callback panicked: {message}")
        }
    };
    tracing::error!(%failure, "ns-3 simulation stopped");
    // The RefMut was released when the closure returned or unwound.
    if let Ok(mut state) = shared.state.try_borrow_mut() {
        state.failure.get_or_insert(failure);
    }
    ffi::stop_now();
}

/// A VIPE node's wake-up.
pub(crate) extern "C" fn on_wake(ctx: *mut c_void, node: u32) {
    guard(ctx, "timer", |state| state.wake(node));
}

/// A frame from a CSMA or point-to-point device: the Ethernet header is rebuilt from the
/// addresses and EtherType ns-3 passes, the payload copied behind it.
pub(crate) extern "C" fn on_frame(
    ctx: *mut c_void,
    port: u32,
    packet: *const c_void,
    len: u32,
    dst: *const u8,
    src: *const u8,
    ethertype: u16,
) {
    guard(ctx, "frame", |state| {
        let Some(pool) = state.pool(port) else {
            return;
        };
        let mut pkt = pool.alloc_with_headroom(RX_HEADROOM);
        // SAFETY: the shim passes the packet of this callback with `len` bytes, and
        // `put(len)` is exactly `len` writable bytes.
        unsafe { ffi::packet_copy(packet, pkt.put(len as usize)) };
        let header = pkt.push(14);
        // SAFETY: `dst` and `src` point to 6-byte arrays on the shim's stack that live
        // for the duration of this call.
        unsafe {
            header[0..6].copy_from_slice(std::slice::from_raw_parts(dst, 6));
            header[6..12].copy_from_slice(std::slice::from_raw_parts(src, 6));
        }
        header[12..14].copy_from_slice(&ethertype.to_be_bytes());
        state.deliver(port, pkt);
    });
}

/// A datagram from an ns-3 UDP socket.
pub(crate) extern "C" fn on_datagram(
    ctx: *mut c_void,
    port: u32,
    packet: *const c_void,
    len: u32,
    src_ip: u32,
    src_port: u16,
) {
    let src = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(src_ip), src_port));
    // SAFETY: as in `guard`: `ctx` is the world's `Shared`, alive while ns-3 runs.
    let shared = unsafe { &*ctx.cast::<Shared>() };
    if shared.state.try_borrow_mut().is_err() {
        // Delivered inside another callback (a send to our own address): keep a copy
        // for when that callback's work is done.
        let mut bytes = vec![0; len as usize];
        // SAFETY: the shim passes the packet of this callback with `len` bytes.
        unsafe { ffi::packet_copy(packet, &mut bytes) };
        shared.deferred.borrow_mut().push_back((port, bytes, src));
        return;
    }
    guard(ctx, "datagram", |state| {
        let Some(pool) = state.pool(port) else {
            return;
        };
        let mut pkt = pool.alloc();
        // SAFETY: the shim passes the packet of this callback with `len` bytes, and
        // `put(len)` is exactly `len` writable bytes.
        unsafe { ffi::packet_copy(packet, pkt.put(len as usize)) };
        pkt.meta_mut().src = Some(src);
        state.deliver(port, pkt);
    });
}
