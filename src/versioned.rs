//! A value that is replaced rarely (SIGHUP) and read on every message.
//!
//! Reading an `RwLock<Arc<T>>` takes the lock and clones the `Arc`: four
//! atomic writes on cache lines every core shares, per read. A reader that
//! keeps a [`Cached`] copy instead only loads the version number (a plain
//! read of a line that is written once per reload) and takes the lock again
//! only after a reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The shared value and its version.
#[derive(Debug)]
pub struct Versioned<T> {
    value: RwLock<Arc<T>>,
    version: AtomicU64,
}

/// A reader's copy of a [`Versioned`] value.
pub type Cached<T> = Option<(u64, Arc<T>)>;

impl<T> Versioned<T> {
    /// Starts at version 0 with `value`.
    pub fn new(value: T) -> Self {
        Versioned {
            value: RwLock::new(Arc::new(value)),
            version: AtomicU64::new(0),
        }
    }

    /// The current value.
    pub fn load(&self) -> Arc<T> {
        self.value
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Replaces the value; readers see it at their next [`Versioned::cached`].
    pub fn store(&self, value: T) {
        match self.value.write() {
            Ok(mut g) => *g = Arc::new(value),
            Err(e) => *e.into_inner() = Arc::new(value),
        }
        // After the write: a reader that sees the new version reads the new
        // value (or a newer one).
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The current value through the reader's copy, refreshed only when the
    /// version moved; with the version it is (a reader may remember what it
    /// derived from this value under that number).
    pub fn cached<'a>(&self, copy: &'a mut Cached<T>) -> (u64, &'a Arc<T>) {
        let now = self.version.load(Ordering::Acquire);
        if copy.as_ref().map_or(true, |(v, _)| *v != now) {
            *copy = None;
        }
        let (version, value) = copy.get_or_insert_with(|| (now, self.load()));
        (*version, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_follows_every_store() {
        let v = Versioned::new(1);
        let mut copy = None;
        assert_eq!(**v.cached(&mut copy).1, 1);
        let (version, first) = v.cached(&mut copy);
        let first = Arc::as_ptr(first);
        assert_eq!(
            v.cached(&mut copy),
            (version, &v.load()),
            "no reload without a store"
        );
        assert_eq!(Arc::as_ptr(v.cached(&mut copy).1), first);
        v.store(2);
        let (moved, value) = v.cached(&mut copy);
        assert_eq!((moved > version, **value), (true, 2));
        assert_eq!(*v.load(), 2);
    }
}
