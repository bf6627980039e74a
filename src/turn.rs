//! How a connection task's loop turn is shaped (platform sessions and
//! carrier binds alike): wait for one event, take every event that is ready
//! without waiting, then write everything with one flush. Under load many
//! PDUs share each write system call.

/// Events taken without waiting per turn, so a busy peer can not starve
/// the timers.
pub const DRAIN_BUDGET: usize = 1024;

/// A turn that found fewer events than this may yield once before its
/// flush (see [`settle`]).
const SETTLE_BELOW: usize = 64;

/// Requests in flight from which more answers are surely on their way.
const SETTLE_MIN_INFLIGHT: usize = 8;

/// Whether a turn that has taken `taken` events, with `inflight` requests
/// waiting for answers, should let the other tasks run once before it
/// flushes: more answers and requests then share the write. Under load
/// this halves the writes; a quiet connection (few requests in flight, as
/// with window 1) flushes at once, because nothing else is coming.
pub fn settle(taken: usize, inflight: usize) -> bool {
    taken < SETTLE_BELOW && inflight >= SETTLE_MIN_INFLIGHT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_only_short_turns_of_busy_connections() {
        assert!(settle(1, 100));
        assert!(!settle(1, 1), "window 1: nothing more is coming");
        assert!(!settle(SETTLE_BELOW, 100), "a full turn flushes at once");
    }
}
