//! The process-wide lock: ns-3's `Simulator` is a singleton, so at most one world may
//! exist in a process at a time. [`SimulatorLock`] is held by the world for its whole
//! life; a second world on another thread (a parallel test, say) waits for it, and a
//! second world on the same thread is refused instead of deadlocking.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, PoisonError};

static SIMULATOR: Mutex<()> = Mutex::new(());

thread_local! {
    static HELD_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Exclusive use of ns-3's simulator for as long as it is held.
pub(crate) struct SimulatorLock {
    _guard: MutexGuard<'static, ()>,
}

impl SimulatorLock {
    /// Waits until no other world exists; `None` if this thread already holds the lock.
    pub(crate) fn acquire() -> Option<Self> {
        if HELD_HERE.with(Cell::get) {
            return None;
        }
        // A world that panicked while holding the lock still ended the simulation in its
        // Drop, so a poisoned lock is safe to take over.
        let guard = SIMULATOR.lock().unwrap_or_else(PoisonError::into_inner);
        HELD_HERE.with(|h| h.set(true));
        Some(SimulatorLock { _guard: guard })
    }
}

impl Drop for SimulatorLock {
    fn drop(&mut self) {
        HELD_HERE.with(|h| h.set(false));
    }
}
