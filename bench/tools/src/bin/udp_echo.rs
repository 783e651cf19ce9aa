//! A hand-written UDP echo server: `recvmmsg` up to 32 datagrams (blocking until the
//! first, `MSG_WAITFORONE`), `sendmmsg` each back to its sender from the same buffers.
//! The yardstick of the Linux UDP backend's datagram rate (bench/linux-udp-echo.sh):
//! what VIPE's `udp_peer --listen` does, without VIPE. Prints how many it echoed.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use std::io::{IoSlice, IoSliceMut};
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use clap::Parser;
    use nix::sys::socket::{
        ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
    };

    /// Echo UDP datagrams.
    #[derive(Parser)]
    struct Args {
        /// Address:port to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    }

    /// The same batch and buffer sizes as VIPE's UDP backend.
    const BATCH: usize = 32;
    const MAX_DATAGRAM: usize = 65_507;
    let args = Args::parse();
    let socket = UdpSocket::bind(args.listen)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let fd = socket.as_raw_fd();
    let mut buffers: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0; MAX_DATAGRAM]).collect();
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let none: [ControlMessage<'_>; 0] = [];
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let (mut echoed, mut send_errors) = (0u64, 0u64);
    let mut got = [(0usize, None::<SockaddrStorage>); BATCH];
    while Instant::now() < end {
        let n = {
            let mut slots = buffers.iter_mut();
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
                [IoSliceMut::new(slots.next().expect("one buffer per slot"))]
            });
            match recvmmsg(
                fd,
                &mut recv_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(results) => {
                    let mut n = 0;
                    for (slot, msg) in got.iter_mut().zip(results) {
                        *slot = (msg.bytes, msg.address);
                        n += 1;
                    }
                    n
                }
                Err(_) => 0, // timeout (checks the time) or EINTR
            }
        };
        if n == 0 {
            continue;
        }
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(&buffers[i][..got[i].0])]);
        let addrs: [Option<SockaddrStorage>; BATCH] = std::array::from_fn(|i| got[i].1);
        match sendmmsg(
            fd,
            &mut send_headers,
            slices[..n].iter(),
            &addrs[..n],
            none,
            MsgFlags::empty(),
        ) {
            Ok(r) => echoed += r.count() as u64,
            Err(_) => send_errors += 1,
        }
    }
    println!("answered {echoed} ({send_errors} send calls failed)");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("udp-echo runs on Linux only");
    std::process::exit(2);
}
