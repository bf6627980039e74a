//! Store errors.

use std::path::PathBuf;
use std::sync::Arc;

use super::backend::DbError;

/// Why a store request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A statement of this request failed (the driver's error); nothing of
    /// it was committed.
    #[error("database: {0}")]
    Database(DbError),
    /// The batch holding this request failed to commit: nothing in it is durable.
    #[error("commit failed: {0}")]
    Commit(DbError),
    /// The PostgreSQL server could not be reached or refused the connection
    /// (daemon start: exit 69).
    #[error("cannot connect to PostgreSQL: {why}")]
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
        /// Schema version of the database.
        found: u32,
        /// Version this build writes.
        latest: u32,
    },
    /// A read-only open found a database the daemon has not migrated yet.
    #[error(
        "database schema version {found} is older than {latest}; start the daemon once to migrate"
    )]
    SchemaTooOld {
        /// Schema version of the database.
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
    /// Another running instance has this `[store] instance` name (daemon
    /// start: exit 69, so a supervisor retries once the other has gone).
    #[error("store.instance {name:?} is already running ({holder}); give each instance its own [store] instance name")]
    InstanceTaken {
        /// The name.
        name: String,
        /// What the instances table says of the running one.
        holder: String,
    },
}

impl StoreError {
    /// The driver error inside, for a failed commit of a batch that had it.
    pub fn db_error(&self) -> Option<&DbError> {
        match self {
            StoreError::Database(e) | StoreError::Commit(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the request lost a race with another transaction (a
    /// deadlock, 40P01, or a serialization failure, 40001, on PostgreSQL)
    /// and would succeed if run again; nothing of it was kept.
    pub fn is_retryable(&self) -> bool {
        let Some(e) = self.db_error() else {
            return false;
        };
        e.downcast_ref::<postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|c| {
                *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            })
    }

    /// Whether starting failed because the store is unreachable (exit 69,
    /// EX_UNAVAILABLE) rather than misconfigured or broken.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } | StoreError::InstanceTaken { .. } => true,
            StoreError::Database(e) | StoreError::Commit(e) => e
                .downcast_ref::<postgres::Error>()
                .is_some_and(|e| e.is_closed() || e.as_db_error().is_none()),
            _ => false,
        }
    }
}
