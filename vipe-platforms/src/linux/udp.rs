//! UDP socket devices (IPv4 or IPv6), read and written in batches with `recvmmsg` and
//! `sendmmsg`: one system call moves up to [`BATCH`] datagrams.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};

/// Datagrams moved per system call at most.
pub const BATCH: usize = 32;

/// The largest UDP payload (IPv4: 65 535 − 20 − 8; IPv6 without jumbograms is smaller).
const MAX_DATAGRAM: usize = 65_507;

/// A UDP socket with preallocated batch buffers. Every call passes `MSG_DONTWAIT`
/// except a receive that is asked to wait ([`UdpDevice::recv_batch`] with `wait`).
pub(crate) struct UdpDevice {
    socket: mio::net::UdpSocket,
    /// The same socket (a second descriptor), for its blocking mode and receive timeout.
    control: UdpSocket,
    /// Whether the socket was made blocking with a receive timeout (for waits in
    /// `recvmmsg` itself); done once, the first time the loop waits there.
    blocking: bool,
    recv_headers: MultiHeaders<SockaddrStorage>,
    send_headers: MultiHeaders<SockaddrStorage>,
    /// One receive buffer per batch slot, each large enough for any datagram, so none is
    /// ever truncated. Allocated once.
    buffers: Vec<Box<[u8]>>,
}

impl std::fmt::Debug for UdpDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpDevice")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl UdpDevice {
    pub(crate) fn new(socket: UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        let control = socket.try_clone()?;
        Ok(UdpDevice {
            socket: mio::net::UdpSocket::from_std(socket),
            control,
            blocking: false,
            recv_headers: MultiHeaders::preallocate(BATCH, None),
            send_headers: MultiHeaders::preallocate(BATCH, None),
            buffers: (0..BATCH)
                .map(|_| vec![0; MAX_DATAGRAM].into_boxed_slice())
                .collect(),
        })
    }

    pub(crate) fn source(&mut self) -> &mut mio::net::UdpSocket {
        &mut self.socket
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Makes the socket blocking with receive timeout `timeout` (once), so that
    /// [`recv_batch`](Self::recv_batch) can wait in `recvmmsg`; every other call keeps
    /// passing `MSG_DONTWAIT`. With a timeout set, a signal interrupts the wait (`EINTR`)
    /// whatever `SA_RESTART` says.
    pub(crate) fn prepare_wait(&mut self, timeout: std::time::Duration) -> io::Result<()> {
        if !self.blocking {
            self.control.set_read_timeout(Some(timeout))?;
            self.control.set_nonblocking(false)?;
            self.blocking = true;
        }
        Ok(())
    }

    /// Receives up to [`BATCH`] datagrams in one call and hands each to `deliver` with its
    /// sender. Returns how many arrived (`WouldBlock` when none was waiting). With `wait`
    /// (after [`prepare_wait`](Self::prepare_wait)) it sleeps until the first datagram
    /// or the receive timeout (`WouldBlock`), like a blocking `recvmmsg` echo does.
    pub(crate) fn recv_batch(
        &mut self,
        wait: bool,
        mut deliver: impl FnMut(&[u8], Option<SocketAddr>),
    ) -> io::Result<usize> {
        let flags = if wait && self.blocking {
            MsgFlags::MSG_WAITFORONE
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        let fd = self.socket.as_raw_fd();
        let mut received = [(0usize, None::<SocketAddr>); BATCH];
        let count = {
            let mut slots = self.buffers.iter_mut();
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
                [IoSliceMut::new(
                    slots.next().expect("one buffer per batch slot"),
                )]
            });
            let results = recvmmsg(fd, &mut self.recv_headers, iovs.iter_mut(), flags, None)
                .map_err(io::Error::from)?;
            let mut count = 0;
            for (slot, msg) in received.iter_mut().zip(results) {
                *slot = (msg.bytes, msg.address.and_then(|a| to_std(&a)));
                count += 1;
            }
            count
        };
        for ((len, from), buf) in received[..count].iter().zip(&self.buffers) {
            deliver(&buf[..*len], *from);
        }
        Ok(count)
    }

    /// Sends `datagrams` (payload, destination) with as few calls as the kernel allows.
    /// Returns how many were sent before the first error; the error, if any, concerns
    /// the datagram right after them.
    pub(crate) fn send_batch(
        &mut self,
        datagrams: &[(&[u8], SocketAddr)],
    ) -> (usize, Option<io::Error>) {
        let fd = self.socket.as_raw_fd();
        let mut sent = 0;
        while sent < datagrams.len() {
            let chunk = &datagrams[sent..(sent + BATCH).min(datagrams.len())];
            // Fixed arrays, so a batch allocates nothing; only `chunk.len()` are used.
            let slices: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
                [IoSlice::new(chunk.get(i).map_or(&[][..], |(data, _)| data))]
            });
            let addrs: [Option<SockaddrStorage>; BATCH] =
                std::array::from_fn(|i| chunk.get(i).map(|(_, dst)| SockaddrStorage::from(*dst)));
            let none: [ControlMessage<'_>; 0] = [];
            match sendmmsg(
                fd,
                &mut self.send_headers,
                slices[..chunk.len()].iter(),
                &addrs[..chunk.len()],
                none,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(results) => {
                    let n = results.count();
                    if n == 0 {
                        return (sent, Some(io::ErrorKind::WouldBlock.into()));
                    }
                    sent += n;
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return (sent, Some(e.into())),
            }
        }
        (sent, None)
    }
}

fn to_std(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}
