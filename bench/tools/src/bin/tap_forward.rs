//! A minimal hand-written IPv4 forwarder between two TAP devices, with no VIPE in the
//! data path: the baseline of the platform-overhead benchmark (`bench/linux-forward.sh`).
//!
//! It batches exactly as VIPE's Linux loop does (epoll, edge-triggered; up to 32 frames
//! read per device per turn, round-robin; one `write` per frame) and does the least a
//! correct IPv4 router must: accept only IPv4 frames to its own MAC, check version,
//! header length and header checksum, drop on TTL ≤ 1, decrement the TTL with an
//! incremental checksum update (RFC 1624), and rewrite the MACs for the other side.
//! There is no ARP and no routing table: the next hop's MAC on each side is given on the
//! command line.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    forwarder::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tap-forward runs on Linux only");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod forwarder {
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use clap::Parser;
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    use vipe_platforms::linux::TapDevice;

    const BATCH: usize = 32;
    const BUFFER: usize = 2048;

    /// Forward IPv4 between two TAP devices.
    #[derive(Parser)]
    struct Args {
        /// The two TAP devices.
        #[arg(long, num_args = 2, required = true)]
        tap: Vec<String>,
        /// This forwarder's MAC on each side (the kernels' static neighbour entries).
        #[arg(long, num_args = 2, default_values = ["02:00:00:00:ee:00", "02:00:00:00:ee:01"])]
        mac: Vec<String>,
        /// The next hop's MAC on each side (the kernel interface behind each TAP).
        #[arg(long, num_args = 2, required = true)]
        peer_mac: Vec<String>,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    }

    fn parse_mac(text: &str) -> io::Result<[u8; 6]> {
        let bytes: Vec<u8> = text
            .split(':')
            .map(|b| u8::from_str_radix(b, 16))
            .collect::<Result<_, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{text}: {e}")))?;
        bytes.try_into().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{text}: a MAC has 6 bytes"),
            )
        })
    }

    struct Side {
        tap: TapDevice,
        mac: [u8; 6],
        peer_mac: [u8; 6],
        readable: bool,
    }

    #[derive(Default, Debug)]
    struct Counters {
        forwarded: u64,
        not_for_us: u64,
        not_ipv4: u64,
        bad_header: u64,
        ttl_expired: u64,
        write_errors: u64,
    }

    /// Turns a frame from one side into a frame for the other, in place; `false` drops it.
    fn forward(frame: &mut [u8], ours: [u8; 6], out: &Side, c: &mut Counters) -> bool {
        if frame.len() < 14 + 20 || frame[..6] != ours {
            c.not_for_us += 1;
            return false;
        }
        if frame[12..14] != [0x08, 0x00] {
            c.not_ipv4 += 1;
            return false;
        }
        let ip = &mut frame[14..];
        let header_len = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[0] >> 4 != 4 || header_len < 20 || header_len > total || total > ip.len() {
            c.bad_header += 1;
            return false;
        }
        let mut sum = 0u32;
        for pair in ip[..header_len].chunks_exact(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        if sum != 0xffff {
            c.bad_header += 1;
            return false;
        }
        if ip[8] <= 1 {
            c.ttl_expired += 1;
            return false;
        }
        // TTL − 1: the 16-bit word (TTL, protocol) drops by 0x0100 (RFC 1624, eqn. 3).
        let old = u16::from_be_bytes([ip[8], ip[9]]);
        ip[8] -= 1;
        let new = u16::from_be_bytes([ip[8], ip[9]]);
        let checksum = u16::from_be_bytes([ip[10], ip[11]]);
        let mut s = u32::from(!checksum) + u32::from(!old) + u32::from(new);
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
        frame[..6].copy_from_slice(&out.peer_mac);
        frame[6..12].copy_from_slice(&out.mac);
        true
    }

    pub(super) fn main() -> io::Result<()> {
        let args = Args::parse();
        let mut sides = Vec::new();
        for i in 0..2 {
            sides.push(Side {
                tap: TapDevice::open(&args.tap[i])?,
                mac: parse_mac(&args.mac[i])?,
                peer_mac: parse_mac(&args.peer_mac[i])?,
                readable: true,
            });
        }
        let mut poll = Poll::new()?;
        for (i, side) in sides.iter().enumerate() {
            poll.registry().register(
                &mut SourceFd(&side.tap.as_raw_fd()),
                Token(i),
                Interest::READABLE,
            )?;
        }
        let mut buffers = vec![[0u8; BUFFER]; BATCH];
        let mut lengths = [0usize; BATCH];
        let mut counters = Counters::default();
        let mut events = Events::with_capacity(8);
        let end = Instant::now() + Duration::from_secs_f64(args.seconds);
        while Instant::now() < end {
            let busy = sides.iter().any(|s| s.readable);
            let timeout = if busy {
                Duration::ZERO
            } else {
                end.saturating_duration_since(Instant::now())
            };
            match poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other?,
            }
            for event in &events {
                sides[event.token().0].readable = true;
            }
            for from in 0..2 {
                if !sides[from].readable {
                    continue;
                }
                // One batch of reads ...
                let mut n = 0;
                while n < BATCH {
                    match sides[from].tap.recv(&mut buffers[n]) {
                        Ok(len) => {
                            lengths[n] = len;
                            n += 1;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            sides[from].readable = false;
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                // ... then a write per forwarded frame.
                let ours = sides[from].mac;
                let (left, right) = sides.split_at_mut(1);
                let out = if from == 0 {
                    &mut right[0]
                } else {
                    &mut left[0]
                };
                for (buffer, len) in buffers.iter_mut().zip(&lengths).take(n) {
                    let frame = &mut buffer[..*len];
                    if forward(frame, ours, out, &mut counters) {
                        match out.tap.send(frame) {
                            Ok(_) => counters.forwarded += 1,
                            Err(_) => counters.write_errors += 1,
                        }
                    }
                }
            }
        }
        println!("{counters:?}");
        Ok(())
    }
}
