//! A token bucket shared by all carrier binds: `[upstream] max_tps`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits submits to the carrier to `rate` per second over all binds
/// (0 = unlimited). Burst is one second's worth of tokens.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A bucket that refills `rate` tokens per second; `rate == 0` never limits.
    pub fn new(rate: u32) -> TokenBucket {
        TokenBucket {
            rate: f64::from(rate),
            state: Mutex::new((f64::from(rate), Instant::now())),
        }
    }

    /// Takes one token, or says how long until one is available.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        // A poisoned lock only means another thread panicked mid-update of two
        // plain numbers; the values are still usable.
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(st.1).as_secs_f64();
        st.0 = (st.0 + elapsed * self.rate).min(self.rate.max(1.0));
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - st.0) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let b = TokenBucket::new(0);
        let now = Instant::now();
        for _ in 0..10_000 {
            assert!(b.take(now).is_ok());
        }
    }

    #[test]
    fn limited_allows_a_burst_then_refills() {
        let b = TokenBucket::new(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(b.take(t0 + Duration::from_millis(100)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(100)).is_err());
    }
}
