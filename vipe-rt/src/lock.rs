//! The one lock type protocols may use, for state shared across protocol instances.
//!
//! Handlers of one instance never run concurrently, so most protocols need no lock at
//! all. When several instances (perhaps on several nodes driven by several threads of a
//! platform) share state — a global statistics table, an oracle in an experiment — they
//! share it through a [`Lock`]. On `std` it is a `std::sync::Mutex` that ignores
//! poisoning (a panicking handler is isolated by the node, its data stays usable);
//! without `std` it is a spin lock.

use core::fmt;
use core::ops::{Deref, DerefMut};

/// A mutual-exclusion lock around a `T`.
pub struct Lock<T: ?Sized> {
    #[cfg(feature = "std")]
    inner: std::sync::Mutex<T>,
    #[cfg(not(feature = "std"))]
    inner: spin::Mutex<T>,
}

/// Access to the data of a held [`Lock`]; released on drop.
pub struct LockGuard<'a, T: ?Sized> {
    #[cfg(feature = "std")]
    inner: std::sync::MutexGuard<'a, T>,
    #[cfg(not(feature = "std"))]
    inner: spin::MutexGuard<'a, T>,
}

impl<T> Lock<T> {
    /// A new unlocked lock holding `value`.
    pub const fn new(value: T) -> Self {
        Lock {
            #[cfg(feature = "std")]
            inner: std::sync::Mutex::new(value),
            #[cfg(not(feature = "std"))]
            inner: spin::Mutex::new(value),
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        #[cfg(feature = "std")]
        {
            self.inner.into_inner().unwrap_or_else(|e| e.into_inner())
        }
        #[cfg(not(feature = "std"))]
        {
            self.inner.into_inner()
        }
    }
}

impl<T: ?Sized> Lock<T> {
    /// Waits for the lock and returns a guard giving access to the data.
    pub fn lock(&self) -> LockGuard<'_, T> {
        #[cfg(feature = "std")]
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        #[cfg(not(feature = "std"))]
        let inner = self.inner.lock();
        LockGuard { inner }
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("data", &&*self.lock())
            .finish()
    }
}

impl<T: ?Sized> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_gives_exclusive_access() {
        let lock = Lock::new(1);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2);
        assert_eq!(lock.into_inner(), 2);
    }
}
