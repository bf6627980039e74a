//! Rate limit for log lines a peer causes (malformed PDUs, refused binds, a
//! full gateway): at most one line per key per interval, and the next line
//! that passes says how many were suppressed. A carrier that sent 90,000 bad
//! PDUs a second used to write as many warnings; now it writes one a second.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys remembered; past it, idle keys are forgotten, and if all are
/// busy the new ones share one slot (so a flood from many addresses is
/// still bounded, in memory and in lines).
const MAX_KEYS: usize = 4096;

#[derive(Debug)]
struct Slot {
    last: Instant,
    suppressed: u64,
}

/// One line per key per interval. Keys are peer addresses (or anything
/// else naming the cause); `None` is the shared overflow slot.
#[derive(Debug)]
pub struct LogLimiter<K> {
    interval: Duration,
    slots: Mutex<HashMap<Option<K>, Slot>>,
}

impl<K: Eq + Hash> LogLimiter<K> {
    /// At most one line per key per `interval`.
    pub fn new(interval: Duration) -> LogLimiter<K> {
        LogLimiter {
            interval,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(suppressed)` when a line for `key` may be written now, with
    /// the number of lines held back since the last one; `None` when this
    /// line must be dropped (it is counted for the next).
    pub fn allow(&self, key: K) -> Option<u64> {
        self.allow_at(key, Instant::now())
    }

    /// [`LogLimiter::allow`] at a given time (for tests).
    pub fn allow_at(&self, key: K, now: Instant) -> Option<u64> {
        // A poisoned lock only means another thread panicked mid-update of
        // counters; the map is still usable.
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = Some(key);
        if !slots.contains_key(&key) && slots.len() >= MAX_KEYS {
            let interval = self.interval;
            slots.retain(|_, s| now.saturating_duration_since(s.last) < interval);
            if slots.len() >= MAX_KEYS {
                key = None;
            }
        }
        match slots.get_mut(&key) {
            None => {
                slots.insert(
                    key,
                    Slot {
                        last: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
            Some(s) if now.saturating_duration_since(s.last) >= self.interval => {
                s.last = now;
                Some(std::mem::take(&mut s.suppressed))
            }
            Some(s) => {
                s.suppressed += 1;
                None
            }
        }
    }
}

/// Warnings a platform causes (malformed PDUs, lost framing, refused binds):
/// at most one a second per platform address.
pub fn platform_warnings() -> &'static LogLimiter<std::net::IpAddr> {
    static L: std::sync::OnceLock<LogLimiter<std::net::IpAddr>> = std::sync::OnceLock::new();
    L.get_or_init(|| LogLimiter::new(Duration::from_secs(1)))
}

/// Warnings the carrier causes (malformed PDUs): at most one a second per
/// carrier bind (by its index; every bind goes to the one carrier address).
pub fn carrier_warnings() -> &'static LogLimiter<usize> {
    static L: std::sync::OnceLock<LogLimiter<usize>> = std::sync::OnceLock::new();
    L.get_or_init(|| LogLimiter::new(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn one_line_per_key_per_interval_then_the_suppressed_count() {
        let l = LogLimiter::new(SEC);
        let t0 = Instant::now();
        assert_eq!(l.allow_at("a", t0), Some(0));
        for i in 1..=1000 {
            assert_eq!(l.allow_at("a", t0 + Duration::from_micros(i)), None);
        }
        // Another peer is not held back by the first.
        assert_eq!(l.allow_at("b", t0 + Duration::from_millis(1)), Some(0));
        assert_eq!(l.allow_at("a", t0 + Duration::from_millis(999)), None);
        assert_eq!(l.allow_at("a", t0 + SEC), Some(1001));
        assert_eq!(l.allow_at("a", t0 + SEC + SEC / 2), None);
        assert_eq!(l.allow_at("a", t0 + 3 * SEC), Some(1));
        assert_eq!(l.allow_at("b", t0 + 3 * SEC), Some(0));
    }

    #[test]
    fn many_keys_stay_bounded() {
        let l = LogLimiter::new(SEC);
        let t0 = Instant::now();
        let allowed = (0..MAX_KEYS as u32 * 2)
            .filter(|&k| l.allow_at(k, t0).is_some())
            .count();
        // MAX_KEYS keys of their own, then one line for all the rest.
        assert_eq!(allowed, MAX_KEYS + 1);
        assert!(l.slots.lock().map(|s| s.len()).unwrap_or(0) <= MAX_KEYS + 1);
        // Once idle, old keys make room for new ones.
        assert_eq!(l.allow_at(u32::MAX, t0 + 2 * SEC), Some(0));
        assert!(l.slots.lock().map(|s| s.len()).unwrap_or(0) <= 2);
    }
}
