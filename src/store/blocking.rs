//! Blocking access to the same database for CLI commands (`optgate logs`,
//! `consent set`, ...), which may run while the daemon does: WAL lets them
//! read alongside it, and `busy_timeout` makes their writes wait their turn.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::sqlite::{ops, schema, SqliteTxn};
use super::{MessageOwner, StoreError, StoreTxn, StoredDelivery};

/// How long a CLI statement waits for the daemon's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A synchronous connection to the optgate database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: std::path::PathBuf,
}

impl Database {
    /// Opens an existing database read-only. Fails if the file is missing or
    /// its schema is not exactly this build's (older: the daemon migrates it).
    pub fn open_readonly(path: &Path) -> Result<Database, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        schema::check_current(&conn)?;
        Ok(Database {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens the database read-write, creating and migrating it as the
    /// daemon would. For CLI commands that change state.
    pub fn open(path: &Path) -> Result<Database, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        schema::migrate(&mut conn)?;
        Ok(Database {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Runs `work` on the committed state (no transaction of its own: each
    /// statement sees the latest commit; a read-only database only reads).
    pub fn read<T, E>(&self, work: impl FnOnce(&mut dyn StoreTxn) -> Result<T, E>) -> Result<T, E> {
        work(&mut SqliteTxn::new(&self.conn))
    }

    /// Runs `work` in one IMMEDIATE transaction and commits if it returns
    /// `Ok`; on `Err` nothing of it is kept. IMMEDIATE takes the write lock
    /// before the first read (waiting up to the busy timeout while the
    /// daemon commits), so what `work` reads is still true when it writes:
    /// a deferred transaction could read, lose the race to the daemon, and
    /// then fail at its first write.
    ///
    /// After the commit, a daemon running on this database is told to drop
    /// its cached consent rows, and this waits for its answer: when `write`
    /// returns, the daemon's very next decision reads the new state.
    pub fn write<T, E>(
        &mut self,
        work: impl FnOnce(&mut dyn StoreTxn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = work(&mut SqliteTxn::new(&tx))?;
        tx.commit().map_err(StoreError::from)?;
        if let super::cache::Notified::Failed(why) = super::cache::notify_daemon(&self.path) {
            tracing::warn!(%why, "the running daemon did not confirm; it sees the change within {:?}", super::cache::ENTRY_TTL);
        }
        Ok(value)
    }

    /// The owner of `carrier_id` if mapped within `ttl`.
    pub fn lookup_message_id(
        &self,
        carrier_id: &str,
        ttl: Duration,
    ) -> Result<Option<MessageOwner>, StoreError> {
        ops::lookup_message_id(&self.conn, carrier_id, ttl)
    }

    /// Up to `limit` stored deliveries of `account`, oldest first.
    pub fn pending_deliveries(
        &self,
        account: &str,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        ops::pending_deliveries(&self.conn, account, 0, limit)
    }

    /// Number of stored deliveries.
    pub fn count_deliveries(&self) -> Result<u64, StoreError> {
        ops::count_deliveries(&self.conn)
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema::version(&self.conn)
    }
}
