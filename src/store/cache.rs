//! A read cache of consent rows in front of the store thread, so an MT to a
//! recipient whose state is already known is decided without a hop to the
//! SQLite thread.
//!
//! Correctness rests on who may write the consent table:
//! - the daemon's store thread: every consent write through a
//!   [`super::TxnEnv`] (`set_status`, `mark`, `set_updated_at`) removes the
//!   key as soon as the work that wrote it has run (before it is answered,
//!   so before a STOP is acknowledged), even if it was rolled back; a
//!   failed commit empties the cache;
//! - the command line ([`super::Database::write`]): after its commit it tells
//!   the running daemon over the control socket next to the database
//!   ([`control_path`]) and waits for the answer, which comes after the
//!   cache was emptied; so the change holds for the very next message;
//! - anything else (a hand edit with `sqlite3`): the backend reports it at
//!   the store thread's next batch ([`super::BatchTxn::changed_elsewhere`],
//!   `PRAGMA data_version` on SQLite) and the cache is emptied;
//!   and entries expire after [`ENTRY_TTL`] in any case.
//!
//! Only rows read on the store thread inside a batch transaction are put in
//! (never state the same work wrote: [`super::TxnEnv::fill_consent`]), so an
//! entry is never newer than the database and never older than the last
//! invalidation.
//!
//! This module knows the records ([`super::consent`]) but nothing of the
//! store thread or SQL; the store thread calls it, never the reverse.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::consent::{ConsentRow, Key};

/// How long an entry is trusted without being read again.
pub const ENTRY_TTL: Duration = Duration::from_secs(10);
/// Most entries kept; a full shard drops its expired entries, then all.
pub const CAPACITY: usize = 200_000;
const SHARDS: usize = 16;

type Map = HashMap<Key, Entry, foldhash::fast::RandomState>;

/// The decision-relevant part of a cached row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedState {
    pub status: crate::policy::ConsentStatus,
    pub opt_in_request_sent: bool,
    pub custom_forwarded: bool,
}

struct Entry {
    row: ConsentRow,
    at: Instant,
}

/// The cache; shared by the store thread (fills, invalidations) and the
/// sessions (look-ups).
pub struct ConsentCache {
    shards: Vec<Mutex<Map>>,
    hasher: foldhash::fast::RandomState,
    ttl: Duration,
    /// Moves at every invalidation from elsewhere (another instance's write
    /// announced by the listener) and every clear: a row read before it
    /// moved may predate that write and is not put ([`ConsentCache::put_if`]).
    epoch: AtomicU64,
}

impl std::fmt::Debug for ConsentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentCache")
            .field("len", &self.len())
            .finish()
    }
}

impl Default for ConsentCache {
    fn default() -> Self {
        Self::with_ttl(ENTRY_TTL)
    }
}

impl ConsentCache {
    /// An empty cache whose entries live `ttl`.
    pub fn with_ttl(ttl: Duration) -> Self {
        ConsentCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            hasher: foldhash::fast::RandomState::default(),
            ttl,
            epoch: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &Key) -> &Mutex<Map> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// The cached row of `key`, if present and fresh.
    pub fn get(&self, key: &Key) -> Option<ConsentRow> {
        let shard = self.shard(key).lock().ok()?;
        shard
            .get(key)
            .filter(|e| e.at.elapsed() < self.ttl)
            .map(|e| e.row.clone())
    }

    /// What the MT decision needs of the cached row of `key`, if present and
    /// fresh, without copying its strings.
    pub fn state(&self, key: &Key) -> Option<CachedState> {
        let shard = self.shard(key).lock().ok()?;
        shard
            .get(key)
            .filter(|e| e.at.elapsed() < self.ttl)
            .map(|e| CachedState {
                status: e.row.status,
                opt_in_request_sent: e.row.opt_in_request_sent,
                custom_forwarded: e.row.custom_forwarded,
            })
    }

    /// Whether `key` has a fresh entry (for tests and metrics).
    pub fn contains(&self, key: &Key) -> bool {
        self.state(key).is_some()
    }

    /// Puts a row read on the store thread. Not for rows the current store
    /// work wrote (see [`super::TxnEnv::fill_consent`]).
    #[cfg(test)]
    pub(super) fn put(&self, row: &ConsentRow) {
        self.put_if(row, self.epoch());
    }

    /// The invalidation epoch: read before a row is read from the
    /// database, passed to [`ConsentCache::put_if`] with it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Puts a row read on the store thread unless something was invalidated
    /// from elsewhere (or the cache cleared) since `epoch` was read: the row
    /// may then be older than a write another instance committed, whose
    /// notification already came and went. Checked under the shard's lock,
    /// and invalidations move the epoch before they remove, so a stale row
    /// is either refused here or removed after.
    pub(super) fn put_if(&self, row: &ConsentRow, epoch: u64) {
        let Ok(mut shard) = self.shard(&row.key).lock() else {
            return;
        };
        if self.epoch() != epoch {
            return;
        }
        if shard.len() >= CAPACITY / SHARDS && !shard.contains_key(&row.key) {
            let ttl = self.ttl;
            shard.retain(|_, e| e.at.elapsed() < ttl);
            if shard.len() >= CAPACITY / SHARDS {
                shard.clear();
            }
        }
        shard.insert(
            row.key.clone(),
            Entry {
                row: row.clone(),
                at: Instant::now(),
            },
        );
    }

    /// Forgets `key`, written by another connection (another instance, the
    /// command line elsewhere): also refuses rows read before (see
    /// [`ConsentCache::put_if`]).
    pub fn invalidate_elsewhere(&self, key: &Key) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.invalidate(key);
    }

    /// Forgets `key`.
    pub fn invalidate(&self, key: &Key) {
        if let Ok(mut shard) = self.shard(key).lock() {
            shard.remove(key);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for s in &self.shards {
            if let Ok(mut s) = s.lock() {
                s.clear();
            }
        }
    }

    /// Number of entries (fresh or not).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The control socket of the daemon using the database at `db`.
pub fn control_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-ctl");
    PathBuf::from(s)
}

/// What the daemon answers on the control socket once its cache is empty.
pub const CONTROL_ACK: &[u8] = b"ok\n";
/// What the command line sends after a consent write.
pub const CONTROL_INVALIDATE: &[u8] = b"invalidate\n";

/// Outcome of telling a running daemon about a write.
#[derive(Debug, PartialEq, Eq)]
pub enum Notified {
    /// The daemon emptied its cache.
    Daemon,
    /// No daemon listens on this database.
    NoDaemon,
    /// A daemon may run but did not confirm; it sees the change within
    /// [`ENTRY_TTL`].
    Failed(String),
}

/// Tells the daemon running on `db` (if any) that consent was written, and
/// waits until it has dropped its cached rows.
pub fn notify_daemon(db: &Path) -> Notified {
    use std::io::{ErrorKind, Read, Write};
    use std::os::unix::net::UnixStream;
    let path = control_path(db);
    let mut s = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Notified::NoDaemon
        }
        Err(e) => return Notified::Failed(format!("{}: {e}", path.display())),
    };
    let io = (|| {
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(CONTROL_INVALIDATE)?;
        let mut buf = [0u8; 3];
        s.read_exact(&mut buf)?;
        Ok::<_, std::io::Error>(buf)
    })();
    match io {
        Ok(buf) if buf == CONTROL_ACK => Notified::Daemon,
        Ok(_) => Notified::Failed(format!("{}: unexpected answer", path.display())),
        Err(e) => Notified::Failed(format!("{}: {e}", path.display())),
    }
}

/// Serves the control socket of the database at `db` until `shutdown`:
/// each connection that sends [`CONTROL_INVALIDATE`] empties `cache` and
/// is answered [`CONTROL_ACK`]. Without a socket (path too long, another
/// daemon on the same file) it logs why; changes from the command line then
/// reach this daemon within [`ENTRY_TTL`].
pub async fn serve_control(
    db: PathBuf,
    cache: std::sync::Arc<ConsentCache>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = control_path(&db);
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        tracing::warn!(path = %path.display(), "another daemon serves this database's control socket; command-line consent changes reach this one within the cache TTL");
        return;
    }
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "control socket unavailable; command-line consent changes reach the daemon within the cache TTL");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((mut s, _)) = accepted else { continue };
                let cache = cache.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
                    if let Ok(Ok(n)) = read {
                        if buf[..n].starts_with(CONTROL_INVALIDATE.trim_ascii_end()) {
                            cache.clear();
                            tracing::debug!("consent cache emptied on request of the command line");
                            let _ = s.write_all(CONTROL_ACK).await;
                        }
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ConsentStatus;

    fn row(r: &str, s: ConsentStatus) -> ConsentRow {
        let mut row = ConsentRow::none(Key {
            campaign: "c".into(),
            sender: String::new(),
            recipient: r.into(),
        });
        row.status = s;
        row
    }

    #[test]
    fn fill_get_invalidate_clear() {
        let c = ConsentCache::default();
        let a = row("1", ConsentStatus::Active);
        assert_eq!(c.get(&a.key), None);
        c.put(&a);
        assert_eq!(c.get(&a.key), Some(a.clone()));
        c.invalidate(&a.key);
        assert_eq!(c.get(&a.key), None);
        c.put(&a);
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn entries_expire() {
        let c = ConsentCache::with_ttl(Duration::from_millis(20));
        let a = row("1", ConsentStatus::Active);
        c.put(&a);
        assert!(c.contains(&a.key));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!c.contains(&a.key));
    }

    #[test]
    fn capacity_is_bounded() {
        let c = ConsentCache::default();
        for i in 0..(CAPACITY + 5_000) {
            c.put(&row(&i.to_string(), ConsentStatus::Active));
        }
        assert!(c.len() <= CAPACITY);
        assert!(!c.is_empty());
    }

    #[test]
    fn no_daemon_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(notify_daemon(&dir.path().join("x.db")), Notified::NoDaemon);
    }
}
