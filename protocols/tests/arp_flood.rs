//! A flood of ARP requests from 100,000 random senders (each asking for our address, so
//! each would be learned) leaves the ARP instance's memory flat: the cache stays at its
//! bound and evicts the least recently learned entry, counted. The same flood against an
//! unbounded cache grows the heap by megabytes, so the measurement can tell the two apart.
//! Heap bytes are counted by a global allocator in this test binary only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicIsize, Ordering};

use vipe_protocols::arp::{Arp, ArpConfig, ArpPort};
use vipe_protocols::wire::ArpPacket;
use vipe_rt::prelude::*;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Floods a fresh ARP instance with `senders` requests for ME; returns the live heap
/// bytes after the first tenth and after all, the cache length and the evictions.
fn flood(cache_limit: usize, senders: u32) -> (isize, isize, usize, u64) {
    let mut config = ArpConfig::new([2, 0, 0, 0, 0, 2], vec![ME]);
    config.announce = false;
    config.cache_limit = cache_limit;
    let mut node = Node::new(NodeId(0));
    let arp = node.add(Arp::new(config));
    let wire = node.add_device("wire", DeviceKind::Frame);
    node.attach(wire, arp.port(ArpPort::Arp)).unwrap();
    node.start(Instant::ZERO);
    // xorshift32: distinct-enough random senders without a dependency.
    let mut x = 0x9e37_79b9u32;
    let mut after_tenth = 0;
    for i in 0..senders {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let spa = Ipv4Addr::from(x); // xorshift32 repeats no value within its period
        let sha = [
            2,
            (x >> 24) as u8,
            (x >> 16) as u8,
            (x >> 8) as u8,
            x as u8,
            7,
        ];
        let req = ArpPacket {
            htype: 1,
            ptype: 0x0800,
            hlen: 6,
            plen: 4,
            oper: 1,
            sha,
            spa: spa.octets(),
            tha: [0; 6],
            tpa: ME.octets(),
        };
        let mut frame = Packet::from_slice(&[]);
        req.push_onto(&mut frame).unwrap();
        node.handle_input(Instant::from_nanos(u64::from(i) * 1000), wire, frame);
        while node.poll_transmit().is_some() {} // the replies
        if i + 1 == senders / 10 {
            after_tenth = LIVE.load(Ordering::Relaxed);
        }
    }
    let end = LIVE.load(Ordering::Relaxed);
    let len = node.protocol(arp).unwrap().cache_len();
    let evictions = node.stats().counter_total("arp cache evictions");
    (after_tenth, end, len, evictions)
}

#[test]
fn a_flood_of_100000_random_senders_keeps_arp_memory_flat() {
    let (tenth, end, len, evictions) = flood(1024, 100_000);
    assert_eq!(len, 1024, "the cache holds its bound");
    assert_eq!(
        evictions,
        100_000 - 1024,
        "every entry beyond it evicts one"
    );
    let growth = end - tenth;
    eprintln!("bounded: heap after 10,000 senders {tenth} B, after 100,000 {end} B");
    assert!(
        growth.abs() < 16 * 1024,
        "memory grew by {growth} B between 10,000 and 100,000 senders"
    );

    // The same flood without the bound: the measurement sees the growth.
    let (tenth, end, len, evictions) = flood(usize::MAX, 100_000);
    eprintln!("unbounded: heap after 10,000 senders {tenth} B, after 100,000 {end} B");
    assert_eq!((len, evictions), (100_000, 0));
    assert!(
        end - tenth > 2_000_000,
        "an unbounded cache of 90,000 more entries takes megabytes: {}",
        end - tenth
    );
}
