//! A hand-written UDP echo server: `recvmmsg` up to 32 datagrams (blocking until the
//! first, `MSG_WAITFORONE`), then `sendmmsg` of the same message headers, so each
//! datagram goes back to its sender from the buffer it arrived in with the address the
//! kernel wrote (no conversion, no copy). The yardstick of the Linux UDP backend's
//! datagram rate (bench/linux-udp-echo.sh): what VIPE's `udp_peer --listen` does, without
//! VIPE. Prints how many it echoed.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    }

    const BATCH: usize = 32;
    const MAX_DATAGRAM: usize = 65_507;
    let args = Args::parse();
    let socket = UdpSocket::bind(args.listen)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let fd = socket.as_raw_fd();
    let mut buffers: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0; MAX_DATAGRAM]).collect();
    let mut names: Vec<libc::sockaddr_storage> = (0..BATCH)
        // SAFETY: a plain C struct for which all-zero bytes are valid.
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    let mut iovs: Vec<libc::iovec> = buffers
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH)
        // SAFETY: a plain C struct for which all-zero bytes are valid (null pointers).
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    for i in 0..BATCH {
        msgs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        msgs[i].msg_hdr.msg_iov = &mut iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let (mut echoed, mut send_errors) = (0u64, 0u64);
    while Instant::now() < end {
        for i in 0..BATCH {
            msgs[i].msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            iovs[i].iov_len = MAX_DATAGRAM;
        }
        // SAFETY: the headers point at `names`, `iovs` and `buffers`, all alive, writable
        // for their lengths and not otherwise touched during the call.
        #[allow(unsafe_code)]
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            continue; // timeout (checks the time) or EINTR
        }
        let n = n as usize;
        // Each datagram back to the address it came from, from its own buffer.
        for i in 0..n {
            iovs[i].iov_len = msgs[i].msg_len as usize;
        }
        // SAFETY: as above; the kernel only reads the first `n` headers and their data.
        #[allow(unsafe_code)]
        let sent = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, 0) };
        if sent < 0 {
            send_errors += 1;
        } else {
            echoed += sent as u64;
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
