//! TAP devices (`IFF_TAP | IFF_NO_PI`): raw Ethernet frames to and from the kernel;
//! optionally with a virtio-net header in front of each frame (`IFF_VNET_HDR`) and the
//! kernel's offloads enabled (`TUNSETOFFLOAD`), so the kernel hands over and takes 64 KB
//! TCP/UDP segments with partial checksums instead of MTU-sized frames.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `_IOR('T', 210, unsigned int)`: the device's current name and TUN flags.
const TUNGETIFF: libc::c_ulong = 0x8004_54d2;
/// `_IO('T', 227)`: a descriptor of the network namespace the device is in (Linux 5.2+).
const TUNGETDEVNETNS: libc::c_ulong = 0x54e3;

/// Length of the virtio-net header (`struct virtio_net_hdr`) in front of each frame.
pub const VNET_HDR_LEN: usize = 10;

/// Which offloads a TAP device asks the kernel for (`TUNSETOFFLOAD`). Any of them needs
/// the virtio-net header, which then carries each frame's segmentation and checksum
/// state ([`vipe_rt::gso::Offload`] in the packet's metadata).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapOffloads {
    /// Frames may carry partial TCP/UDP checksums (`TUN_F_CSUM`); needed by the others.
    pub csum: bool,
    /// TCP segmentation offload over IPv4 (`TUN_F_TSO4`) and IPv6 (`TUN_F_TSO6`), with ECN.
    pub tso: bool,
    /// UDP segmentation offload (`TUN_F_USO4 | TUN_F_USO6`; kernels from 6.2 on).
    pub uso: bool,
}

impl TapOffloads {
    /// Every offload: checksum, TSO and USO (USO dropped if the kernel lacks it).
    pub const ALL: TapOffloads = TapOffloads {
        csum: true,
        tso: true,
        uso: true,
    };

    /// Whether any offload is asked for.
    pub fn any(&self) -> bool {
        self.csum || self.tso || self.uso
    }

    fn flags(&self) -> libc::c_uint {
        let mut flags = 0;
        if self.csum || self.tso || self.uso {
            flags |= libc::TUN_F_CSUM;
        }
        if self.tso {
            flags |= libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
        }
        if self.uso {
            flags |= libc::TUN_F_USO4 | libc::TUN_F_USO6;
        }
        flags
    }
}

/// An open TAP device.
#[derive(Debug)]
pub struct TapDevice {
    file: File,
    name: String,
    /// The offloads in force, if the device was opened with the virtio-net header.
    offloads: Option<TapOffloads>,
}

impl TapDevice {
    /// Opens the TAP device `name`, creating it if it does not exist (needs
    /// `CAP_NET_ADMIN`). The file descriptor is non-blocking.
    pub fn open(name: &str) -> io::Result<Self> {
        Self::open_inner(name, None)
    }

    /// Opens (or creates) the TAP device `name` with the virtio-net header and the kernel's
    /// `offloads` enabled: the kernel may then hand over TCP/UDP segments of up to 64 KB
    /// with partial checksums, and takes them back the same way. Offloads the kernel does
    /// not know (USO before 6.2) are left off; [`offloads`](Self::offloads) says which are
    /// on. Only the Ethernet/ARP/IPv4 stack understands such frames (IPv4 segments them
    /// before any other protocol sees them); frames a node sends without offload state go
    /// out as ordinary frames.
    pub fn open_with_offloads(name: &str, offloads: TapOffloads) -> io::Result<Self> {
        Self::open_inner(name, Some(offloads))
    }

    fn open_inner(name: &str, offloads: Option<TapOffloads>) -> io::Result<Self> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "TAP name {name:?} must be 1 to {} bytes",
                    libc::IFNAMSIZ - 1
                ),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| io::Error::new(e.kind(), format!("opening /dev/net/tun: {e}")))?;
        let mut ifr = ifreq(name);
        let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
        if offloads.is_some() {
            flags |= libc::IFF_VNET_HDR;
        }
        ifr.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: `file` is an open /dev/net/tun descriptor and `ifr` is a fully
        // initialised `ifreq` that outlives the call; TUNSETIFF reads and writes only it.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut ifr) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("TUNSETIFF {name}: {e} (needs root or CAP_NET_ADMIN)"),
            ));
        }
        let mut tap = TapDevice {
            file,
            name: name.to_owned(),
            offloads: None,
        };
        if let Some(mut wanted) = offloads {
            if let Err(e) = tap.set_offload(wanted.flags()) {
                if !wanted.uso {
                    return Err(e);
                }
                // A kernel without USO refuses the whole request: ask again without it.
                wanted.uso = false;
                tap.set_offload(wanted.flags())?;
            }
            tap.offloads = Some(wanted);
        }
        Ok(tap)
    }

    fn set_offload(&self, flags: libc::c_uint) -> io::Result<()> {
        // SAFETY: `file` is an open TAP descriptor; TUNSETOFFLOAD takes its argument by
        // value and touches no memory of ours.
        #[allow(unsafe_code)]
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                libc::c_ulong::from(flags),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("TUNSETOFFLOAD {:#x} on {}: {e}", flags, self.name),
            ));
        }
        Ok(())
    }

    /// The offloads in force; `None` when the device has no virtio-net header (every
    /// frame is an ordinary frame).
    pub fn offloads(&self) -> Option<TapOffloads> {
        self.offloads
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the interface's MTU.
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let mut ifr = ifreq(&self.name);
        ifr.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        control_socket_ioctl(libc::SIOCSIFMTU, &mut ifr)
    }

    /// Brings the interface up.
    pub fn set_up(&self) -> io::Result<()> {
        let mut ifr = ifreq(&self.name);
        control_socket_ioctl(libc::SIOCGIFFLAGS, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS just filled the flags member of the union.
        #[allow(unsafe_code)]
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
        control_socket_ioctl(libc::SIOCSIFFLAGS, &mut ifr)
    }

    /// Whether the interface is administratively up (`IFF_UP`), wherever it is now: a
    /// TAP device is often moved into another network namespace after it is opened
    /// (`ip link set NAME netns NS`), so the flags are read in the device's own
    /// namespace (found with `TUNGETDEVNETNS`; on kernels before 5.2, in ours). Until the
    /// interface is up the kernel refuses frames written to it (`EIO`).
    pub fn is_up(&self) -> io::Result<bool> {
        let mut ifr = ifreq("");
        // SAFETY: `self.file` is an attached TAP descriptor and `ifr` a valid `ifreq`
        // that outlives the call; TUNGETIFF only writes the name and flags into it.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), TUNGETIFF, &mut ifr) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = self.socket_in_device_namespace()?;
        // SAFETY: `socket` is a valid socket descriptor and `ifr` (carrying the device's
        // current name) a valid `ifreq`; SIOCGIFFLAGS only writes its flags member.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: SIOCGIFFLAGS just filled the flags member of the union.
        #[allow(unsafe_code)]
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        Ok(flags & libc::IFF_UP as libc::c_short != 0)
    }

    /// Waits until the interface is up ([`TapDevice::is_up`]), polling every 20 ms, at
    /// most `timeout`; returns whether it came up.
    pub fn wait_until_up(&self, timeout: std::time::Duration) -> io::Result<bool> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.is_up()? {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A datagram socket in the network namespace the device is in now, for interface
    /// ioctls: made on a short-lived thread that enters that namespace (`setns` changes
    /// only the calling thread's namespace; the socket stays bound to it).
    fn socket_in_device_namespace(&self) -> io::Result<OwnedFd> {
        // SAFETY: TUNGETDEVNETNS takes no argument and returns a new descriptor or -1.
        #[allow(unsafe_code)]
        let ns = unsafe { libc::ioctl(self.file.as_raw_fd(), TUNGETDEVNETNS) };
        let ns = if ns < 0 {
            None // kernels before 5.2: the device is taken to be in our namespace
        } else {
            // SAFETY: the ioctl returned a fresh descriptor that nothing else owns.
            #[allow(unsafe_code)]
            Some(unsafe { OwnedFd::from_raw_fd(ns) })
        };
        let make = move || -> io::Result<OwnedFd> {
            if let Some(ns) = &ns {
                // SAFETY: `ns` is a valid namespace descriptor; setns affects this
                // thread only.
                #[allow(unsafe_code)]
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            // SAFETY: socket has no memory preconditions; it returns a new descriptor or -1.
            #[allow(unsafe_code)]
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            #[allow(unsafe_code)]
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        };
        std::thread::scope(|s| s.spawn(make).join())
            .map_err(|_| io::Error::other("namespace thread panicked"))?
    }

    /// Reads one frame into `buf` (behind its virtio-net header, if the device has one);
    /// `WouldBlock` when none is waiting.
    ///
    /// The read is a raw system call, not glibc's `read`: that one is a thread
    /// cancellation point, and once a process has started any thread (this module does,
    /// briefly, to make a socket in another namespace; a tracing writer may) glibc wraps
    /// every such call in turning asynchronous cancellation on and off, two atomic
    /// operations per frame (about 6% of a forwarding router's time).
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the descriptor stays open while `self.file` lives, and the kernel
        // writes at most `buf.len()` bytes into `buf`, which is valid and writable.
        #[allow(unsafe_code)]
        let n = unsafe {
            libc::syscall(
                libc::SYS_read,
                self.file.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        syscall_result(n)
    }

    /// Writes one frame (behind its virtio-net header, if the device has one); a raw
    /// system call, like [`recv`](Self::recv).
    #[inline]
    pub fn send(&mut self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: the descriptor stays open while `self.file` lives, and the kernel only
        // reads `frame.len()` bytes from `frame`, which is valid.
        #[allow(unsafe_code)]
        let n = unsafe {
            libc::syscall(
                libc::SYS_write,
                self.file.as_raw_fd(),
                frame.as_ptr(),
                frame.len(),
            )
        };
        syscall_result(n)
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// A byte count from `syscall`, or the error it reported through `errno`.
#[inline]
fn syscall_result(n: libc::c_long) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The descriptor, to register the device with another event loop.
impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: `ifreq` is plain old data (a name array and a union of integers), for which
    // all-zero bytes are a valid value.
    #[allow(unsafe_code)]
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    ifr
}

/// Runs an interface ioctl on a throwaway datagram socket.
fn control_socket_ioctl(request: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    // SAFETY: `socket` is a valid socket descriptor and `ifr` a valid `ifreq` for the
    // interface ioctls used here, which only access it.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), request, ifr as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct virtio_net_hdr` in the host's byte order (the legacy TAP layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

pub(crate) const VNET_F_NEEDS_CSUM: u8 = 1;
pub(crate) const VNET_GSO_NONE: u8 = 0;
pub(crate) const VNET_GSO_TCPV4: u8 = 1;
pub(crate) const VNET_GSO_TCPV6: u8 = 4;
pub(crate) const VNET_GSO_UDP_L4: u8 = 5;
pub(crate) const VNET_GSO_ECN: u8 = 0x80;

impl VnetHdr {
    pub(crate) fn parse(b: &[u8]) -> Option<VnetHdr> {
        let b: &[u8; VNET_HDR_LEN] = b.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    pub(crate) fn bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }
}
