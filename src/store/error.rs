//! Store errors.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a store request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A statement of this request failed; nothing of it was committed.
    #[error("sqlite: {0}")]
    Sqlite(Arc<rusqlite::Error>),
    /// The batch holding this request failed to commit: nothing in it is durable.
    #[error("commit failed: {0}")]
    Commit(Arc<rusqlite::Error>),
    /// A PostgreSQL statement or commit failed.
    #[error("postgres: {}", pg_reason(.0))]
    Postgres(Arc<postgres::Error>),
    /// The PostgreSQL server could not be reached or refused the connection
    /// (daemon start: exit 69).
    #[error("cannot connect to PostgreSQL at {target}: {why}")]
    Connect {
        /// The connection string with the password blanked out.
        target: String,
        /// Why, in one line.
        why: String,
    },
    /// `max_stored_deliveries` reached; the carrier should get ESME_RMSGQFUL.
    #[error("stored deliveries full ({limit})")]
    Full {
        /// The configured bound.
        limit: u64,
    },
    /// Id map rows are not being committed (the store keeps failing) and
    /// `limit` are already waiting: this mapping is dropped.
    #[error("id map backlog full ({limit} rows waiting); the store is not committing")]
    IdMapBacklog {
        /// Rows waiting.
        limit: u64,
    },
    /// The store was closed or its thread has ended.
    #[error("store is closed")]
    Closed,
    /// The database directory could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: Arc<std::io::Error>,
    },
    /// The store thread could not be started.
    #[error("cannot start the store thread: {0}")]
    Thread(Arc<std::io::Error>),
    /// The database was written by a newer optgate.
    #[error("database schema version {found} is newer than this optgate's ({latest})")]
    SchemaTooNew {
        /// `user_version` of the file.
        found: u32,
        /// Version this build writes.
        latest: u32,
    },
    /// A read-only open found a database the daemon has not migrated yet.
    #[error(
        "database schema version {found} is older than {latest}; start the daemon once to migrate"
    )]
    SchemaTooOld {
        /// `user_version` of the file.
        found: u32,
        /// Version this build writes.
        latest: u32,
    },
    /// The database file can not be written (permissions, read-only mount).
    #[error("database {0} is read-only")]
    ReadOnly(PathBuf),
    /// The database is not in WAL mode and could not be switched to it.
    #[error("cannot enable WAL journal mode (got {0:?})")]
    NotWal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(Arc::new(e))
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(Arc::new(e))
    }
}

/// A server error's severity, message and detail on one line (the driver's
/// own Display says only "db error").
fn pg_reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl StoreError {
    /// Whether starting failed because the store is unreachable (exit 69,
    /// EX_UNAVAILABLE) rather than misconfigured or broken.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Postgres(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }
}
