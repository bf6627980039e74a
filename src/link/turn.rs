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

/// Most times one turn yields before it flushes anyway.
const SETTLE_YIELDS: usize = 4;

/// Whether a turn that has taken `taken` events and yielded `yielded`
/// times, with `inflight` requests waiting for answers, should let the
/// other tasks run (once more) before it flushes: more answers and
/// requests then share the write. Under load this halves the writes (and
/// the wake-ups of the peer they cause); a quiet connection (few requests
/// in flight, as with window 1) flushes at once, because nothing else is
/// coming. At most [`SETTLE_YIELDS`] yields, so a slow carrier with many
/// requests in flight costs a few scheduler passes per turn, not a spin.
pub fn settle(taken: usize, yielded: usize, inflight: usize) -> bool {
    taken < SETTLE_BELOW && yielded < SETTLE_YIELDS && inflight >= SETTLE_MIN_INFLIGHT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_only_short_turns_of_busy_connections() {
        assert!(settle(1, 0, 100));
        assert!(settle(1, SETTLE_YIELDS - 1, 100));
        assert!(!settle(1, SETTLE_YIELDS, 100), "a few yields, then flush");
        assert!(!settle(1, 0, 1), "window 1: nothing more is coming");
        assert!(!settle(SETTLE_BELOW, 0, 100), "a full turn flushes at once");
    }
}
