//! A timerfd on the monotonic clock, so the loop wakes for deadlines with nanosecond
//! resolution (epoll's own timeout is whole milliseconds).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(crate) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create takes no pointers; the result is checked below.
        #[allow(unsafe_code)]
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        #[allow(unsafe_code)]
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TimerFd { fd })
    }

    /// Fires once, `after` from now (at once for zero); `None` disarms.
    pub(crate) fn set(&self, after: Option<Duration>) -> io::Result<()> {
        let value = match after {
            // A zero it_value disarms, so "now" is one nanosecond.
            Some(d) => libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(d.subsec_nanos().max(u32::from(d.as_secs() == 0))),
            },
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec that outlives the call; the old value is
        // not requested (null).
        #[allow(unsafe_code)]
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry so the descriptor stops being readable.
    pub(crate) fn clear(&self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a local 8-byte buffer.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
