//! The Linux event loop itself: nanosecond-resolution deadlines through timerfd, no busy
//! loop when idle, and a device that vanishes is reported instead of spun on.
#![cfg(target_os = "linux")]

use std::net::UdpSocket;
use std::time::{Duration as StdDuration, Instant as WallClock};

use vipe_platforms::linux::{LinuxPlatform, StopReason, TapDevice};
use vipe_rt::prelude::*;

/// Ticks every `period` until it has ticked `limit` times.
#[protocol]
struct Ticker {
    period: Duration,
    limit: u32,
    ticks: u32,
}

#[protocol]
impl Ticker {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        cx.start_periodic(TickerTimer::Tick, self.period);
    }

    #[on_timer]
    fn tick(&mut self, cx: &mut Cx<Self>) {
        self.ticks += 1;
        if self.ticks == self.limit {
            cx.cancel_timer(&TickerTimer::Tick);
        }
    }
}

#[test]
fn sub_millisecond_timers_are_not_rounded_up_to_milliseconds() {
    let mut node = Node::new(NodeId(0));
    let ticker = node.add(Ticker {
        period: Duration::from_micros(200),
        limit: 50,
        ticks: 0,
    });
    let mut platform = LinuxPlatform::new(node).unwrap();
    let start = WallClock::now();
    platform
        .run(Some(StdDuration::from_secs(5)), |n| {
            n.protocol(ticker).is_some_and(|t| t.ticks == 50)
        })
        .unwrap();
    let elapsed = start.elapsed();
    // 50 × 200 µs = 10 ms. Millisecond epoll timeouts would need at least 50 ms.
    assert!(
        elapsed < StdDuration::from_millis(40),
        "50 ticks of 200 µs took {elapsed:?}"
    );
}

#[test]
fn an_idle_loop_sleeps() {
    let mut node = Node::new(NodeId(0));
    let dev = node.add_device("udp", DeviceKind::Datagram);
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform
        .add_udp(dev, UdpSocket::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let reason = platform
        .run(Some(StdDuration::from_millis(300)), |_| false)
        .unwrap();
    assert_eq!(reason, StopReason::TimeLimit);
    assert!(
        platform.stats().wakeups <= 2,
        "woke {} times with nothing to do",
        platform.stats().wakeups
    );
}

#[test]
fn a_vanished_tap_is_an_error_not_a_busy_loop() {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let root = unsafe { geteuid() } == 0;
    if !root {
        eprintln!("\n!!! SKIPPED: needs root for TAP devices. CI runs as root. !!!\n");
        return;
    }
    let name = format!("vgone{}", std::process::id() % 10000);
    let tap = TapDevice::open(&name).unwrap();
    tap.set_up().unwrap();
    let mut node = Node::new(NodeId(0));
    let dev = node.add_device(&name, DeviceKind::Frame);
    let mut platform = LinuxPlatform::new(node).unwrap();
    platform.add_tap(dev, tap).unwrap();
    let del = std::process::Command::new("ip")
        .args(["link", "del", &name])
        .output()
        .unwrap();
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    let result = platform.run(Some(StdDuration::from_millis(500)), |_| false);
    match result {
        Err(e) => assert!(e.to_string().contains("every device failed"), "{e}"),
        Ok(reason) => assert_eq!(reason, StopReason::TimeLimit),
    }
    assert!(
        platform.stats().wakeups < 10,
        "no busy loop: {} wakeups",
        platform.stats().wakeups
    );
}

unsafe extern "C" {
    fn geteuid() -> u32;
}
