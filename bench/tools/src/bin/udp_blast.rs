//! Sends UDP datagrams of one size to one destination as fast as the kernel takes them
//! (`sendmmsg`, 64 per call) for a fixed time, then prints how many it sent.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use std::io::IoSlice;
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use clap::Parser;
    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

    /// Blast UDP datagrams.
    #[derive(Parser)]
    struct Args {
        /// Destination address:port.
        #[arg(long)]
        dst: SocketAddr,
        /// IPv4 packet size in bytes (20-byte IP header + 8-byte UDP header + payload).
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Seconds to send for.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    }

    const BATCH: usize = 64;
    let args = Args::parse();
    let payload = args.size.checked_sub(28).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--size must be at least 28 (IP + UDP headers)",
        )
    })?;
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.connect(args.dst)?;
    let data = vec![0x5a_u8; payload];
    let slices: Vec<[IoSlice<'_>; 1]> = (0..BATCH).map(|_| [IoSlice::new(&data)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = vec![None; BATCH];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let none: [ControlMessage<'_>; 0] = [];
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let (mut sent, mut refused) = (0u64, 0u64);
    while Instant::now() < end {
        for _ in 0..16 {
            match sendmmsg(
                socket.as_raw_fd(),
                &mut headers,
                slices.iter(),
                &addrs,
                none,
                MsgFlags::empty(),
            ) {
                Ok(r) => sent += r.count() as u64,
                // ENOBUFS and friends: the device queue is full; keep pushing.
                Err(_) => refused += 1,
            }
        }
    }
    println!("sent {sent} datagrams ({refused} calls refused)");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("udp-blast runs on Linux only");
    std::process::exit(2);
}
