//! Lock poisoning, handled in one place.
//!
//! A thread that panics while holding a lock poisons it. Every structure behind a lock here is
//! left consistent statement by statement (maps of latest values, queues), so the service keeps
//! serving with what the lock holds instead of turning one panic into a panic on every later
//! access. Call `.lock_or_recover()` / `.read_or_recover()` / `.write_or_recover()` instead of
//! `.lock().unwrap()`.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `lock`, recovering the guard of a poisoned mutex.
pub trait LockOrRecover<T: ?Sized> {
    /// The guard, whether or not a holder panicked.
    fn lock_or_recover(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> LockOrRecover<T> for Mutex<T> {
    fn lock_or_recover(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `read` / `write`, recovering the guard of a poisoned lock.
pub trait RwLockOrRecover<T: ?Sized> {
    /// A read guard, whether or not a writer panicked.
    fn read_or_recover(&self) -> RwLockReadGuard<'_, T>;
    /// The write guard, whether or not a writer panicked.
    fn write_or_recover(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> RwLockOrRecover<T> for RwLock<T> {
    fn read_or_recover(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_or_recover(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::LockOrRecover;

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let m = Arc::new(Mutex::new(1));
        let m2 = Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *m.lock_or_recover() += 1;
        assert_eq!(*m.lock_or_recover(), 2);
    }
}
