//! UDP socket devices (IPv4 or IPv6), read and written in batches with `recvmmsg` and
//! `sendmmsg`: one system call moves up to [`BATCH`] datagrams.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use vipe_rt::Packet;

/// Datagrams moved per system call at most.
pub const BATCH: usize = 32;

/// The largest UDP payload (IPv4: 65 535 − 20 − 8; IPv6 without jumbograms is smaller).
const MAX_DATAGRAM: usize = 65_507;

/// A UDP socket with preallocated batch headers. Every call passes `MSG_DONTWAIT`
/// except a receive that is asked to wait ([`UdpDevice::recv_batch`] with `wait`).
///
/// The `mmsghdr` arrays, their addresses and I/O vectors are built once and point into
/// boxes this device owns (they never move), so a batch fills in lengths and buffer
/// pointers only: no address is converted through an intermediate type and nothing is
/// copied but the datagrams' own bytes.
pub(crate) struct UdpDevice {
    socket: mio::net::UdpSocket,
    /// The same socket (a second descriptor), for its blocking mode and receive timeout.
    control: UdpSocket,
    /// Whether the socket was made blocking with a receive timeout (for waits in
    /// `recvmmsg` itself); done once, the first time the loop waits there.
    blocking: bool,
    recv: Headers<2>,
    send: Headers<1>,
    /// Per batch slot, the packet a datagram is received into (its tailroom, taken with
    /// `put`, is the first part of the slot's receive buffer, and its length is in
    /// `room`): most datagrams land in their packet and are never copied. A slot stays
    /// armed until a datagram arrives in it; only emptied slots are armed again.
    armed: Vec<Option<Packet>>,
    room: Vec<usize>,
    /// Per batch slot, the rest of the receive buffer: whatever of a datagram does not
    /// fit its packet's tailroom lands here and is copied on, so none is ever truncated.
    overflow: Vec<Box<[u8]>>,
}

/// `BATCH` message headers, each with its own address buffer and `IOV` I/O vectors.
struct Headers<const IOV: usize> {
    msgs: Box<[libc::mmsghdr]>,
    names: Box<[libc::sockaddr_storage]>,
    iovs: Box<[[libc::iovec; IOV]]>,
}

impl<const IOV: usize> Headers<IOV> {
    fn new() -> Self {
        // SAFETY: message headers, socket addresses and I/O vectors are plain C structs
        // for which all-zero bytes are valid (null pointers, zero lengths, AF_UNSPEC).
        #[allow(unsafe_code)]
        let mut headers = unsafe {
            Headers {
                msgs: zeroed_batch(),
                names: zeroed_batch(),
                iovs: zeroed_batch(),
            }
        };
        for i in 0..BATCH {
            let hdr = &mut headers.msgs[i].msg_hdr;
            hdr.msg_name = (&mut headers.names[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_iov = headers.iovs[i].as_mut_ptr();
            hdr.msg_iovlen = IOV;
        }
        headers
    }
}

/// [`BATCH`] all-zero values of `T`.
///
/// # Safety
/// All-zero bytes must be a valid `T` (a plain C struct).
#[allow(unsafe_code)]
unsafe fn zeroed_batch<T>() -> Box<[T]> {
    (0..BATCH)
        // SAFETY: the caller promises all-zero bytes are a valid `T`.
        .map(|_| unsafe { std::mem::zeroed() })
        .collect()
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
            recv: Headers::new(),
            send: Headers::new(),
            armed: (0..BATCH).map(|_| None).collect(),
            room: vec![0; BATCH],
            overflow: (0..BATCH)
                .map(|_| vec![0; MAX_DATAGRAM].into_boxed_slice())
                .collect(),
        }
        .with_overflow_vectors())
    }

    /// Points each receive slot's second I/O vector at its overflow buffer (once: the
    /// boxes never move).
    fn with_overflow_vectors(mut self) -> Self {
        for (iov, rest) in self.recv.iovs.iter_mut().zip(self.overflow.iter_mut()) {
            iov[1] = libc::iovec {
                iov_base: rest.as_mut_ptr().cast(),
                iov_len: rest.len(),
            };
        }
        self
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

    /// Receives up to [`BATCH`] datagrams in one call, each into a packet (from `alloc`,
    /// kept armed between calls), and hands each to `deliver` with its sender. Returns
    /// how many arrived (`WouldBlock` when none was waiting). With `wait` (after
    /// [`prepare_wait`](Self::prepare_wait)) it sleeps until the first datagram or the
    /// receive timeout (`WouldBlock`), like a blocking `recvmmsg` echo does.
    pub(crate) fn recv_batch(
        &mut self,
        wait: bool,
        mut alloc: impl FnMut() -> Packet,
        mut deliver: impl FnMut(Packet, Option<SocketAddr>),
    ) -> io::Result<usize> {
        let flags = if wait && self.blocking {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        for (i, slot) in self.armed.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let mut pkt = alloc();
            self.room[i] = pkt.tailroom();
            let first = pkt.put(self.room[i]);
            self.recv.iovs[i][0] = libc::iovec {
                iov_base: first.as_mut_ptr().cast(),
                iov_len: first.len(),
            };
            self.recv.msgs[i].msg_hdr.msg_namelen = SOCKADDR_STORAGE_LEN;
            *slot = Some(pkt);
        }
        // SAFETY: the headers point at this device's address buffers and I/O vectors,
        // which point at the armed packets' tailrooms and the overflow buffers: all valid
        // and writable for their lengths, and untouched by anything else until the call
        // returns. The kernel writes at most BATCH headers.
        #[allow(unsafe_code)]
        let n = unsafe {
            libc::syscall(
                libc::SYS_recvmmsg,
                self.socket.as_raw_fd(),
                self.recv.msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut::<libc::timespec>(),
            )
        };
        if n < 0 {
            // Every slot stays armed as it is.
            return Err(io::Error::last_os_error());
        }
        let count = n as usize;
        for i in 0..count {
            let Some(mut pkt) = self.armed[i].take() else {
                continue; // cannot happen: every slot was armed before the call
            };
            let (len, room) = (self.recv.msgs[i].msg_len as usize, self.room[i]);
            if len <= room {
                pkt.truncate(len);
            } else {
                // Longer than the packet's tailroom: the rest landed in the overflow.
                pkt.put_slice(&self.overflow[i][..len - room]);
            }
            let from = from_sockaddr(&self.recv.names[i], self.recv.msgs[i].msg_hdr.msg_namelen);
            deliver(pkt, from);
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
            for (i, (data, dst)) in chunk.iter().enumerate() {
                self.send.iovs[i] = [libc::iovec {
                    // The kernel only reads from it.
                    iov_base: data.as_ptr().cast_mut().cast(),
                    iov_len: data.len(),
                }];
                self.send.msgs[i].msg_hdr.msg_namelen = to_sockaddr(*dst, &mut self.send.names[i]);
            }
            // SAFETY: the first `chunk.len()` headers point at this device's address
            // buffers and I/O vectors, which point at the datagrams in `chunk`: valid for
            // reading for their lengths while the call runs.
            #[allow(unsafe_code)]
            let n = unsafe {
                libc::syscall(
                    libc::SYS_sendmmsg,
                    fd,
                    self.send.msgs.as_mut_ptr(),
                    chunk.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return (sent, Some(e));
            }
            if n == 0 {
                return (sent, Some(io::ErrorKind::WouldBlock.into()));
            }
            sent += n as usize;
        }
        (sent, None)
    }
}

const SOCKADDR_STORAGE_LEN: libc::socklen_t =
    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;

/// The sender's address the kernel wrote into `name` (`len` bytes), if it is IPv4 or IPv6.
fn from_sockaddr(name: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(name.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // and aligned enough for.
            #[allow(unsafe_code)]
            let sin =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            #[allow(unsafe_code)]
            let sin6 =
                unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` into `name` as the kernel takes it; returns its length.
fn to_sockaddr(addr: SocketAddr, name: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
            #[allow(unsafe_code)]
            let sin =
                unsafe { &mut *(name as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for a sockaddr_in6.
            #[allow(unsafe_code)]
            let sin6 =
                unsafe { &mut *(name as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_flowinfo = v6.flowinfo().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            sin6.sin6_scope_id = v6.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}
