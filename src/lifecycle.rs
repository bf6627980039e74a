//! Shutdown in two phases (see `Daemon::shutdown`): phase 1 closes the
//! platform listener and unbinds the platforms while the carrier binds keep
//! serving their answers; phase 2 (a [`Phase`] begun with a deadline) has
//! the carrier binds answer what is still queued, wait for what is with the
//! carrier until the deadline, and unbind.

use std::sync::{Arc, OnceLock};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A shutdown phase every task of one kind watches: begun once, with the
/// deadline its work must be done by.
#[derive(Clone, Debug, Default)]
pub struct Phase {
    token: CancellationToken,
    deadline: Arc<OnceLock<Instant>>,
}

impl Phase {
    /// A phase not begun yet.
    pub fn new() -> Phase {
        Phase::default()
    }

    /// Begins the phase; its work must be done by `deadline`. A second call
    /// keeps the first deadline.
    pub fn begin(&self, deadline: Instant) {
        let _ = self.deadline.set(deadline);
        self.token.cancel();
    }

    /// Resolves once the phase has begun.
    pub async fn begun(&self) {
        self.token.cancelled().await
    }

    /// Whether the phase has begun.
    pub fn has_begun(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The earlier of `other` and the phase's deadline (`other` while the
    /// phase has not begun).
    pub fn bound(&self, other: Instant) -> Instant {
        self.deadline.get().map_or(other, |d| other.min(*d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_phase_begins_once_with_its_first_deadline() {
        let p = Phase::new();
        let later = Instant::now() + Duration::from_secs(60);
        assert!(!p.has_begun());
        assert_eq!(p.bound(later), later, "no deadline before it begins");
        let soon = Instant::now() + Duration::from_secs(1);
        let watcher = p.clone();
        let waiting = tokio::spawn(async move { watcher.begun().await });
        p.begin(soon);
        p.begin(later);
        waiting.await.unwrap();
        assert!(p.has_begun());
        assert_eq!(p.bound(later), soon, "the first deadline stays");
    }
}
