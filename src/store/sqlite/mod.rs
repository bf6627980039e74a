//! The SQLite backend: one database file in WAL mode, written by the store
//! thread (group commits, `BEGIN IMMEDIATE`) and read alongside by the
//! command line. The only place (with `blocking.rs`) that names rusqlite.

pub(super) mod compliance;
pub(super) mod consent;
pub(super) mod counts;
pub(super) mod ops;
pub(super) mod quiet;
pub mod schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::backend::{Backend, BatchTxn};
use super::consent::{
    ChangeCount, ConsentFilter, ConsentRow, Event, EventRow, Flag, HeldRow, Key, NewHeld,
    OutboxRow, WebhookRow,
};
use super::txn::StoreTxn;
use super::{DeliveryKind, MessageOwner, StoreError, StoreOptions, StoredDelivery};
use crate::config::Durability;
use crate::policy::ConsentStatus;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(Arc::new(e))
    }
}

fn commit_error(e: rusqlite::Error) -> StoreError {
    StoreError::Commit(Arc::new(e))
}

/// The store thread's SQLite database.
pub struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
    /// `PRAGMA data_version` at the last batch.
    data_version: Option<i64>,
}

impl SqliteBackend {
    /// Opens (creating the directory and file, and migrating) the database
    /// at `opts.path` read-write in WAL mode.
    pub fn open(opts: &StoreOptions) -> Result<SqliteBackend, StoreError> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source: Arc::new(e),
            })?;
        }
        let mut conn = Connection::open(&opts.path)?;
        // SQLite silently falls back to read-only for an unwritable file;
        // fail at start with a clear reason instead of on every write.
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(StoreError::ReadOnly(opts.path.clone()));
        }
        conn.busy_timeout(opts.busy_timeout)?;
        // Room for every statement of the hot path plus the variants of the
        // console's log query, so a page view never evicts the MT's.
        conn.set_prepared_statement_cache_capacity(128);
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal(mode));
        }
        let sync = match opts.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteBackend {
            conn,
            path: opts.path.clone(),
            data_version: None,
        })
    }
}

impl Backend for SqliteBackend {
    fn run_batch(
        &mut self,
        work: &mut dyn FnMut(&mut dyn BatchTxn) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(commit_error)?;
        let mut t = SqliteTxn {
            c: &tx,
            data_version: Some(&mut self.data_version),
        };
        // On Err the transaction is dropped, which rolls it back.
        work(&mut t)?;
        tx.commit().map_err(commit_error)
    }

    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError> {
        ops::purge_message_ids(&self.conn, ttl, limit)
    }

    fn count_deliveries(&mut self) -> Result<u64, StoreError> {
        ops::count_deliveries(&self.conn)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// [`StoreTxn`] over a SQLite connection or transaction (statements run
/// in whatever transaction the connection is in).
pub struct SqliteTxn<'c> {
    pub(in crate::store) c: &'c Connection,
    /// The store thread's last `PRAGMA data_version` (`None` for the
    /// command line, which does not track other writers).
    pub(in crate::store) data_version: Option<&'c mut Option<i64>>,
}

impl<'c> SqliteTxn<'c> {
    /// The interface over `c`.
    pub(in crate::store) fn new(c: &'c Connection) -> Self {
        SqliteTxn {
            c,
            data_version: None,
        }
    }

    /// Cached statements: rusqlite's Savepoint parses its SQL on every use,
    /// which showed up on the hot path.
    fn exec_cached(&self, sql: &str) -> Result<(), StoreError> {
        self.c.prepare_cached(sql)?.execute([])?;
        Ok(())
    }
}

impl BatchTxn for SqliteTxn<'_> {
    fn savepoint(&mut self) -> Result<(), StoreError> {
        self.exec_cached("SAVEPOINT optgate_work")
    }

    fn release(&mut self) -> Result<(), StoreError> {
        self.exec_cached("RELEASE optgate_work")
    }

    fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        self.exec_cached("ROLLBACK TO optgate_work")?;
        self.exec_cached("RELEASE optgate_work")
    }

    fn aborted(&mut self) -> Option<StoreError> {
        // Some errors (I/O, disk full) make SQLite roll the transaction
        // back; later statements would then autocommit one by one.
        self.c.is_autocommit().then(|| {
            commit_error(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("transaction rolled back by SQLite".into()),
            ))
        })
    }

    fn changed_elsewhere(&mut self) -> bool {
        let Some(last) = self.data_version.as_deref_mut() else {
            return false;
        };
        let version = self
            .c
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)));
        match version {
            Ok(v) => {
                let moved = last.is_some_and(|old| old != v);
                *last = Some(v);
                moved
            }
            Err(_) => false,
        }
    }

    fn as_txn(&mut self) -> &mut dyn StoreTxn {
        self
    }
}

impl StoreTxn for SqliteTxn<'_> {
    fn consent(&mut self, key: &Key) -> Result<ConsentRow, StoreError> {
        consent::get(self.c, key)
    }

    fn set_status(
        &mut self,
        key: &Key,
        status: ConsentStatus,
        source: &str,
        message_ids: &str,
    ) -> Result<ConsentStatus, StoreError> {
        consent::set_status(self.c, key, status, source, message_ids)
    }

    fn set_updated_at(&mut self, key: &Key, at_ms: i64) -> Result<(), StoreError> {
        consent::set_updated_at(self.c, key, at_ms)
    }

    fn mark(&mut self, key: &Key, flag: Flag) -> Result<(), StoreError> {
        consent::mark(self.c, key, flag)
    }

    fn list_consent(
        &mut self,
        filter: &ConsentFilter,
        after: Option<&Key>,
        limit: u32,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        consent::list_consent(self.c, filter, after, limit)
    }

    fn insert_event(&mut self, event: &Event) -> Result<(), StoreError> {
        consent::insert_event(self.c, event)
    }

    fn list_events(
        &mut self,
        recipient: Option<&str>,
        since_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        consent::list_events(self.c, recipient, since_ms, limit)
    }

    fn hold(&mut self, held: &NewHeld<'_>) -> Result<i64, StoreError> {
        consent::hold(self.c, held)
    }

    fn held_count(&mut self, key: &Key) -> Result<u32, StoreError> {
        consent::held_count(self.c, key)
    }

    fn take_held(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
        consent::take_held(self.c, key)
    }

    fn take_expired(&mut self, now_ms: i64, limit: u32) -> Result<Vec<HeldRow>, StoreError> {
        consent::take_expired(self.c, now_ms, limit)
    }

    fn held_group(&mut self, group_id: i64) -> Result<Vec<HeldRow>, StoreError> {
        consent::held_group(self.c, group_id)
    }

    fn delete_held_group(&mut self, group_id: i64) -> Result<usize, StoreError> {
        consent::delete_held_group(self.c, group_id)
    }

    fn replace_held(
        &mut self,
        id: i64,
        pdu: &[u8],
        registered_delivery: u8,
    ) -> Result<bool, StoreError> {
        consent::replace_held(self.c, id, pdu, registered_delivery)
    }

    fn list_held(
        &mut self,
        recipient: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HeldRow>, StoreError> {
        consent::list_held(self.c, recipient, limit)
    }

    fn count_held(&mut self) -> Result<u64, StoreError> {
        consent::count_held(self.c)
    }

    fn settled_held_keys(&mut self, limit: u32) -> Result<Vec<(Key, ConsentStatus)>, StoreError> {
        consent::settled_held_keys(self.c, limit)
    }

    fn outbox_push(
        &mut self,
        kind: &str,
        key: &Key,
        account: &str,
        optgate_id: Option<&str>,
        pdu: &[u8],
    ) -> Result<i64, StoreError> {
        consent::outbox_push(self.c, kind, key, account, optgate_id, pdu)
    }

    fn outbox_pending(&mut self, from_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        consent::outbox_pending(self.c, from_id, limit)
    }

    fn outbox_done(&mut self, id: i64) -> Result<(), StoreError> {
        consent::outbox_done(self.c, id)
    }

    fn outbox_attempted(&mut self, id: i64) -> Result<(), StoreError> {
        consent::outbox_attempted(self.c, id)
    }

    fn outbox_handed(&mut self, id: i64, at: Option<i64>) -> Result<(), StoreError> {
        consent::outbox_handed(self.c, id, at)
    }

    fn insert_delivery(
        &mut self,
        account: &str,
        kind: DeliveryKind,
        pdu: &[u8],
    ) -> Result<u64, StoreError> {
        ops::insert_delivery(self.c, account, kind, pdu)
    }

    fn pending_deliveries(
        &mut self,
        account: &str,
        from_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        ops::pending_deliveries(self.c, account, from_id, limit)
    }

    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError> {
        ops::delete_delivery(self.c, id)
    }

    fn count_deliveries(&mut self) -> Result<u64, StoreError> {
        ops::count_deliveries(self.c)
    }

    fn map_message_id(
        &mut self,
        carrier_id: &str,
        account: &str,
        optgate_id: Option<&str>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        ops::map_message_id(self.c, carrier_id, account, optgate_id, ttl)
    }

    fn lookup_message_id(
        &mut self,
        carrier_id: &str,
        ttl: Duration,
    ) -> Result<Option<MessageOwner>, StoreError> {
        ops::lookup_message_id(self.c, carrier_id, ttl)
    }

    fn newest_message_id_at(&mut self) -> Result<Option<i64>, StoreError> {
        ops::newest_message_id_at(self.c)
    }

    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError> {
        ops::purge_message_ids(self.c, ttl, limit)
    }

    fn consent_counts(&mut self) -> Result<Vec<(String, ConsentStatus, u64)>, StoreError> {
        counts::consent_counts(self.c)
    }

    fn held_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        counts::held_counts(self.c)
    }

    fn consent_changes_since(&mut self, from_ms: i64) -> Result<Vec<ChangeCount>, StoreError> {
        counts::consent_changes_since(self.c, from_ms)
    }

    fn touch(&mut self) -> Result<(), StoreError> {
        ops::touch(self.c)
    }

    fn outbox_received(&mut self, id: i64, at_ms: i64) -> Result<(), StoreError> {
        compliance::outbox_received(self.c, id, at_ms)
    }

    fn outbox_received_at(&mut self, id: i64) -> Result<Option<i64>, StoreError> {
        compliance::outbox_received_at(self.c, id)
    }

    fn events_of_kind(
        &mut self,
        kind: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        compliance::events_of_kind(self.c, kind, after_id, limit)
    }

    fn event(&mut self, id: i64) -> Result<Option<EventRow>, StoreError> {
        compliance::event(self.c, id)
    }

    fn webhook_cursor(&mut self, url: &str) -> Result<Option<i64>, StoreError> {
        compliance::webhook_cursor(self.c, url)
    }

    fn set_webhook_cursor(&mut self, url: &str, last_event: i64) -> Result<(), StoreError> {
        compliance::set_webhook_cursor(self.c, url, last_event)
    }

    fn last_event_id(&mut self) -> Result<i64, StoreError> {
        compliance::last_event_id(self.c)
    }

    fn events_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        compliance::events_after(self.c, after_id, limit)
    }

    fn webhook_push(
        &mut self,
        url: &str,
        event_id: i64,
        recipient: &str,
        body: &str,
    ) -> Result<i64, StoreError> {
        compliance::webhook_push(self.c, url, event_id, recipient, body)
    }

    fn webhook_pending(&mut self, url: &str, limit: u32) -> Result<Vec<WebhookRow>, StoreError> {
        compliance::webhook_pending(self.c, url, limit)
    }

    fn webhook_done(&mut self, id: i64) -> Result<(), StoreError> {
        compliance::webhook_done(self.c, id)
    }

    fn webhook_retry(&mut self, id: i64, next_at: i64) -> Result<(), StoreError> {
        compliance::webhook_retry(self.c, id, next_at)
    }

    fn purge_events(&mut self, before_ms: i64, limit: u32) -> Result<usize, StoreError> {
        compliance::purge_events(self.c, before_ms, limit)
    }

    fn purge_deliveries(&mut self, before_secs: i64, limit: u32) -> Result<usize, StoreError> {
        compliance::purge_deliveries(self.c, before_secs, limit)
    }

    fn set_held_quiet(&mut self, group_id: i64, until_ms: i64) -> Result<(), StoreError> {
        quiet::set_held_quiet(self.c, group_id, until_ms)
    }

    fn defer_held(&mut self, key: &Key, until_ms: i64, all: bool) -> Result<(), StoreError> {
        quiet::defer_held(self.c, key, until_ms, all)
    }

    fn due_quiet_keys(&mut self, now_ms: i64, limit: u32) -> Result<Vec<Key>, StoreError> {
        quiet::due_quiet_keys(self.c, now_ms, limit)
    }

    fn take_quiet(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
        quiet::take_quiet(self.c, key)
    }
}
