//! Memory: the heap each run allocates at its peak (a counting allocator the `vipe-lab`
//! binary installs; each run lives on one thread, so per-thread counters separate
//! parallel runs), the process's peak RSS, and the memory available for sizing `--jobs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The system allocator, counting the bytes each thread holds and its peak.
pub struct TrackingAllocator;

static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // Signed: a block freed on another thread than the one that allocated it moves the
    // counts of both; runs allocate and free on their own thread, so their peaks hold.
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

#[inline]
fn add(bytes: isize) {
    // `try_with`: a thread being torn down has no counters left; its frees go uncounted.
    let _ = CURRENT.try_with(|current| {
        let now = current.get() + bytes;
        current.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to `System` with the caller's layout and pointer, which
// upholds `GlobalAlloc`'s contract; the counting touches only const-initialised
// thread-locals (no allocation, no destructor), so it cannot re-enter the allocator.
unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to `System` unchanged.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to `System` unchanged.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (we forward every
        // allocation there).
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` and `layout` come from a `System` allocation; the caller upholds
        // `new_size`'s requirements.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        new
    }
}

impl TrackingAllocator {
    /// Marks the allocator as installed (call once from `main`), so that
    /// [`RunMemory::finish`] reports numbers instead of `None`.
    pub fn installed() {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Measures the heap one run allocates on the current thread.
pub struct RunMemory {
    base: isize,
}

impl RunMemory {
    /// Starts measuring: the peak is reset to what the thread holds now.
    pub fn start() -> RunMemory {
        let base = CURRENT.with(Cell::get);
        PEAK.with(|p| p.set(base));
        RunMemory { base }
    }

    /// The peak heap the run held above what the thread held when it started, in bytes;
    /// `None` when the tracking allocator is not installed (library use, tests).
    pub fn finish(self) -> Option<u64> {
        if !INSTALLED.load(Ordering::Relaxed) {
            return None;
        }
        let peak = PEAK.with(Cell::get);
        Some((peak - self.base).max(0) as u64)
    }
}

/// The process's peak resident set size so far (`VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    proc_status_kib("/proc/self/status", "VmHWM:")
}

/// Memory available to new work (`MemAvailable`), in bytes.
pub fn available() -> Option<u64> {
    proc_status_kib("/proc/meminfo", "MemAvailable:")
}

fn proc_status_kib(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes as people read them: `512 B`, `3.4 MiB`, `9.0 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read() {
        assert!(peak_rss().unwrap() > 0);
        assert!(available().unwrap() > 0);
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    }
}
