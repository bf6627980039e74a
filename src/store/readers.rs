//! Read connections beside the store thread, on PostgreSQL (`[store]
//! pool_size`): the admin API's and page's listings, counts and downloads
//! run on connections of their own, so a slow read (a CSV download, a
//! search) never holds up the store thread's group commit, and several
//! reads run at once. They read committed state, as another daemon or the
//! command line would.
//!
//! At most `pool_size` reads run at a time, each on a thread of its own
//! (the blocking client drives its own runtime, which may start neither on
//! a tokio worker nor on tokio's blocking pool). Connections are opened when a read finds none idle, kept for
//! the next, and dropped once lost (the next read connects again). On
//! SQLite, reads stay on the store thread ([`Store::read`]).
//!
//! [`Store::read`]: super::Store::read

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::postgres::{PgConn, PgTxn};
use super::{StoreError, StoreTxn};

/// A read that runs longer than this is cancelled by the server.
const STATEMENT_TIMEOUT: &str = "30s";

/// The read connections of one store.
pub struct Readers {
    url: String,
    connect_timeout: Duration,
    permits: Semaphore,
    idle: Mutex<Vec<PgConn>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("url", &super::postgres::conn::redact(&self.url))
            .field("idle", &self.idle())
            .finish()
    }
}

impl Drop for Readers {
    /// Closing a connection blocks on the client's runtime, which may not
    /// run on the tokio thread that drops the last store handle: idle
    /// connections are closed on a plain thread.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(v) => std::mem::take(v),
            Err(e) => std::mem::take(e.into_inner()),
        };
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("optgate-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

impl Readers {
    /// Up to `size` (at least 1) connections to the database at `url`.
    pub fn new(url: String, size: u32, connect_timeout: Duration) -> Self {
        Self {
            url,
            connect_timeout,
            permits: Semaphore::new(usize::try_from(size.max(1)).unwrap_or(1)),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Connections open and idle now (for tests).
    pub fn idle(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Runs `work` on a read connection (waiting for one while `pool_size`
    /// reads run).
    pub async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTxn) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let this = Arc::clone(self);
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A plain thread: the blocking client's runtime may not start on a
        // tokio worker nor on tokio's blocking pool. Admin reads are few;
        // a thread each costs microseconds against the query.
        std::thread::Builder::new()
            .name("optgate-pg-read".into())
            .spawn(move || {
                let _ = tx.send(this.read_blocking(work));
            })
            .map_err(|e| StoreError::Thread(Arc::new(e)))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn read_blocking<T>(
        &self,
        work: impl FnOnce(&mut dyn StoreTxn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = work(&mut PgTxn::new(conn.autocommit()));
        if conn.lost().is_none() {
            if let Ok(mut v) = self.idle.lock() {
                v.push(conn);
            }
        }
        out
    }

    fn connect(&self) -> Result<PgConn, StoreError> {
        let mut conn = PgConn::connect(&self.url, self.connect_timeout)?;
        conn.client()
            .batch_execute(&format!(
                "SET default_transaction_read_only = on; SET statement_timeout = '{STATEMENT_TIMEOUT}'"
            ))
            .map_err(StoreError::from)?;
        Ok(conn)
    }
}
