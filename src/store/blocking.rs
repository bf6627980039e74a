//! Blocking access to the same database for CLI commands (`optgate logs`,
//! `consent set`, ...), which may run while the daemon does: WAL lets them
//! read alongside it, and `busy_timeout` makes their writes wait their turn.
//! On PostgreSQL ([`Database::open_postgres`]) the same calls run over one
//! connection; call them from a plain thread, never a tokio worker (the
//! blocking client drives its own runtime).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::postgres::{schema as pg_schema, PgConn, PgTxn};
use super::sqlite::{schema, SqliteTxn};
use super::{MessageOwner, StoreError, StoreTxn, StoredDelivery};
use crate::config::{StoreBackend, StoreConfig};

/// How long a CLI statement waits for the daemon's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A synchronous connection to the optgate database.
pub struct Database {
    inner: Inner,
    /// The SQLite file, or the `[store] path` whose control socket a daemon
    /// on the same machine serves (also with PostgreSQL).
    path: std::path::PathBuf,
}

enum Inner {
    Sqlite(Connection),
    /// In a cell: reads take `&self` as on SQLite, and a PostgreSQL client
    /// needs `&mut` for every statement.
    Postgres(Box<std::cell::RefCell<PgConn>>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            Inner::Sqlite(_) => "sqlite",
            Inner::Postgres(_) => "postgres",
        };
        f.debug_struct("Database")
            .field("backend", &kind)
            .field("path", &self.path)
            .finish()
    }
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
            inner: Inner::Sqlite(conn),
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
            inner: Inner::Sqlite(conn),
            path: path.to_path_buf(),
        })
    }

    /// Connects to the PostgreSQL database at `url` (bounded by `timeout`)
    /// and migrates it as the daemon would. `control` is the `[store] path`
    /// a daemon on this machine serves its control socket beside.
    pub fn open_postgres(
        url: &str,
        timeout: Duration,
        control: &Path,
    ) -> Result<Database, StoreError> {
        let mut conn = PgConn::connect(url, timeout)?;
        let ms = BUSY_TIMEOUT.as_millis();
        conn.client()
            .batch_execute(&format!("SET lock_timeout = {ms}"))
            .map_err(StoreError::from)?;
        pg_schema::migrate(&mut conn)?;
        Ok(Database {
            inner: Inner::Postgres(Box::new(std::cell::RefCell::new(conn))),
            path: control.to_path_buf(),
        })
    }

    /// Opens the store `cfg` names: read-write, migrated.
    pub fn open_config(cfg: &StoreConfig) -> Result<Database, StoreError> {
        match cfg.backend {
            StoreBackend::Sqlite => Self::open(Path::new(&cfg.path)),
            StoreBackend::Postgres => {
                Self::open_postgres(&cfg.url, Duration::from_secs(10), Path::new(&cfg.path))
            }
        }
    }

    /// Runs `work` on the committed state (no transaction of its own: each
    /// statement sees the latest commit; a read-only database only reads).
    pub fn read<T, E>(&self, work: impl FnOnce(&mut dyn StoreTxn) -> Result<T, E>) -> Result<T, E> {
        match &self.inner {
            Inner::Sqlite(conn) => work(&mut SqliteTxn::new(conn)),
            Inner::Postgres(cell) => {
                let mut conn = cell.borrow_mut();
                work(&mut PgTxn::new(conn.autocommit()))
            }
        }
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
        let value = match &mut self.inner {
            Inner::Sqlite(conn) => {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(StoreError::from)?;
                let value = work(&mut SqliteTxn::new(&tx))?;
                tx.commit().map_err(StoreError::from)?;
                value
            }
            // REPEATABLE READ: if the daemon changes a row this work read
            // before the work writes it, the write fails (could not
            // serialize) instead of overwriting a change it never saw.
            Inner::Postgres(cell) => cell
                .get_mut()
                .transaction_with("BEGIN ISOLATION LEVEL REPEATABLE READ", |pg| {
                    work(&mut PgTxn::new(pg))
                })?,
        };
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
        self.read(|t| t.lookup_message_id(carrier_id, ttl))
    }

    /// Up to `limit` stored deliveries of `account`, oldest first.
    pub fn pending_deliveries(
        &self,
        account: &str,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        self.read(|t| t.pending_deliveries(account, 0, limit))
    }

    /// Number of stored deliveries.
    pub fn count_deliveries(&self) -> Result<u64, StoreError> {
        self.read(|t| t.count_deliveries())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        match &self.inner {
            Inner::Sqlite(conn) => schema::version(conn),
            Inner::Postgres(cell) => pg_schema::version(&mut cell.borrow_mut()),
        }
    }
}
