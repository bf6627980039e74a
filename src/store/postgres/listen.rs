//! LISTEN/NOTIFY: a consent change committed by any other connection (the
//! command line on another machine, `psql`, later another optgate) empties
//! this daemon's consent cache at once, so its very next message reads the
//! new state.
//!
//! The trigger that counts consent writes (`schema.rs`) also sends a
//! notification on [`CHANNEL`]; PostgreSQL delivers it after the commit,
//! with the writing server process's id. A thread of its own (the blocking
//! client may not run on a tokio worker) listens on a separate connection
//! and ignores the store thread's own writes, which keep the cache right by
//! themselves. After a (re)connect it empties the cache once, since
//! notifications sent meanwhile were lost.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::conn::connect;
use crate::store::cache::ConsentCache;

/// The notification channel of consent writes.
pub const CHANNEL: &str = "optgate_consent";

/// How often the listener checks that the store still exists.
const POLL: Duration = Duration::from_millis(500);

/// Starts the listener thread for the database at `url`. It ends when the
/// cache is dropped (the store and its users are gone). `own_pid` is the
/// store thread's server process id (0 while unknown).
pub fn spawn(
    url: String,
    cache: Weak<ConsentCache>,
    own_pid: Arc<AtomicI32>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("optgate-pg-listen".into())
        .spawn(move || run(&url, &cache, &own_pid))
}

fn run(url: &str, cache: &Weak<ConsentCache>, own_pid: &AtomicI32) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        let mut client = match connect(url, Duration::from_secs(2)) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "consent listener: cannot connect");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::debug!(error = %e, "consent listener: LISTEN failed");
            std::thread::sleep(backoff);
            continue;
        }
        backoff = Duration::from_millis(100);
        // Changes made while not listening were not seen.
        match cache.upgrade() {
            Some(c) => c.clear(),
            None => return,
        }
        loop {
            let next = client.notifications().timeout_iter(POLL).next();
            match next {
                Ok(Some(n)) => {
                    if n.process_id() == own_pid.load(Ordering::Relaxed) {
                        continue;
                    }
                    match cache.upgrade() {
                        Some(c) => c.clear(),
                        None => return,
                    }
                }
                Ok(None) => {
                    if cache.strong_count() == 0 {
                        return;
                    }
                    if client.is_closed() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "consent listener: connection lost");
                    break;
                }
            }
        }
    }
}
