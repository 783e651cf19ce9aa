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
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Echoes datagrams back to their sender, and notes when its one timer fired.
#[protocol]
struct EchoWithTimer {
    timer_after: Duration,
    started: Option<Instant>,
    fired_after: Option<Duration>,
    echoed: u32,
}

#[protocol]
impl EchoWithTimer {
    #[on_start]
    fn start(&mut self, cx: &mut Cx<Self>) {
        self.started = Some(cx.now());
        cx.start_timer(EchoWithTimerTimer::Once, self.timer_after);
    }

    #[on_timer]
    fn once(&mut self, cx: &mut Cx<Self>) {
        self.fired_after = self.started.map(|s| cx.now().saturating_duration_since(s));
    }

    #[on_packet(port = "net")]
    fn net(&mut self, cx: &mut Cx<Self>, mut pkt: Packet) {
        let from = pkt.meta().src;
        pkt.meta_mut().dst = from;
        self.echoed += 1;
        cx.send(EchoWithTimerPort::Net, pkt);
    }
}

#[test]
fn a_lone_udp_device_is_waited_on_in_recvmmsg_and_timers_stay_exact() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let runner = std::thread::spawn(move || {
        let mut node = Node::new(NodeId(0));
        let dev = node.add_device("udp", DeviceKind::Datagram);
        let echo = node.add(EchoWithTimer {
            timer_after: Duration::from_millis(1500),
            started: None,
            fired_after: None,
            echoed: 0,
        });
        node.attach(dev, echo.port(EchoWithTimerPort::Net)).unwrap();
        let mut platform = LinuxPlatform::new(node).unwrap();
        platform.add_udp(dev, server).unwrap();
        let reason = platform
            .run(Some(StdDuration::from_millis(1800)), |_| false)
            .unwrap();
        let stats = platform.stats().clone();
        let node = platform.into_node();
        let e = node.protocol(echo).unwrap();
        (reason, stats, e.fired_after, e.echoed)
    });
    // Datagrams while the loop waits in `recvmmsg` (the timer is more than a second
    // away) and after it went back to epoll for the timer.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(StdDuration::from_secs(2)))
        .unwrap();
    let mut answered = 0;
    let begin = WallClock::now();
    for (i, at) in [50u64, 200, 400, 1000, 1300, 1600].into_iter().enumerate() {
        let at = StdDuration::from_millis(at);
        std::thread::sleep(at.saturating_sub(begin.elapsed()));
        client.send_to(&[i as u8; 20], addr).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).expect("echo");
        assert_eq!((n, from, buf[0]), (20, addr, i as u8));
        answered += 1;
    }
    let (reason, stats, fired_after, echoed) = runner.join().unwrap();
    assert_eq!(reason, StopReason::TimeLimit);
    assert_eq!((answered, echoed), (6, 6));
    assert!(
        stats.device_waits >= 3,
        "the first datagrams were waited for in recvmmsg: {stats:?}"
    );
    let fired = fired_after.expect("the timer fired").as_nanos();
    assert!(
        (1_500_000_000..1_520_000_000).contains(&fired),
        "a 1.5 s timer fired after {fired} ns"
    );
}

#[test]
fn sigint_stops_a_loop_waiting_in_recvmmsg() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_udp_peer"))
        .args(["--listen", "127.0.0.1:0", "--seconds", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("udp_peer starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .parse()
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(StdDuration::from_secs(2)))
        .unwrap();
    client.send_to(b"ping", addr).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(client.recv_from(&mut buf).expect("echo").0, 4);
    // The loop now sleeps in recvmmsg (no timer, 30 s limit): SIGINT must end it.
    std::thread::sleep(StdDuration::from_millis(100));
    let start = WallClock::now();
    // SAFETY: kill has no memory preconditions; the pid is our own child's.
    #[allow(unsafe_code)]
    let rc = unsafe { kill(child.id() as i32, 2) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert!(
        start.elapsed() < StdDuration::from_secs(2),
        "SIGINT took {:?}",
        start.elapsed()
    );
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("answered 1"), "{rest}");
}
