//! [`Backend`], [`BatchTxn`] and [`StoreTxn`] over PostgreSQL: the store
//! thread's one connection, a transaction per batch, a savepoint per
//! request. Mirrors `store/sqlite/mod.rs`.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::GenericClient;

use super::{compliance, consent, ops, quiet, schema, Pg, PgConn};
use crate::config::Durability;
use crate::policy::ConsentStatus;
use crate::store::backend::{Backend, BatchTxn, DbError};
use crate::store::consent::{
    ChangeCount, ConsentFilter, ConsentRow, Event, EventRow, Flag, HeldRow, Key, NewHeld,
    OutboxRow, WebhookRow,
};
use crate::store::txn::StoreTxn;
use crate::store::{DeliveryKind, MessageOwner, StoreError, StoreOptions, StoredDelivery};

/// A failed begin or commit: nothing of the batch is durable.
fn commit_error(e: DbError) -> StoreError {
    StoreError::Commit(e)
}

/// Shortest and longest wait between reconnect attempts.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// Bound on one reconnect attempt: the store thread waits for it, with
/// the requests queued behind it.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The store thread's PostgreSQL connection.
pub struct PgBackend {
    conn: PgConn,
    opts: StoreOptions,
    target: String,
    /// Consent writes of other connections at the last batch.
    writes_elsewhere: Option<i64>,
    /// No reconnect attempt before this; doubled on each failure.
    retry_at: Instant,
    backoff: Duration,
    /// This connection's server process id, for the consent listener to
    /// tell the store thread's own writes from others'.
    own_pid: Arc<AtomicI32>,
}

impl PgBackend {
    /// Connects (bounded by `opts.connect_timeout`), sets the durability,
    /// and migrates the schema.
    pub fn open(opts: &StoreOptions) -> Result<PgBackend, StoreError> {
        Self::open_with_pid(opts, Arc::default())
    }

    /// [`PgBackend::open`], keeping the connection's server process id in
    /// `own_pid` (also after reconnects).
    pub fn open_with_pid(
        opts: &StoreOptions,
        own_pid: Arc<AtomicI32>,
    ) -> Result<PgBackend, StoreError> {
        let mut conn = Self::session(opts, opts.connect_timeout)?;
        schema::migrate(&mut conn)?;
        own_pid.store(backend_pid(&mut conn)?, Ordering::Relaxed);
        Ok(PgBackend {
            own_pid,
            conn,
            opts: opts.clone(),
            target: super::conn::redact(&opts.url),
            writes_elsewhere: None,
            retry_at: Instant::now(),
            backoff: RECONNECT_MIN,
        })
    }

    /// A connection with this store's session settings.
    fn session(opts: &StoreOptions, timeout: Duration) -> Result<PgConn, StoreError> {
        let mut conn = PgConn::connect(&opts.url, timeout)?;
        // full: a commit returns once its WAL is flushed; normal: it may
        // return before (a server crash can lose the last commits, never
        // corrupt), as SQLite's synchronous=NORMAL.
        let sync = match opts.durability {
            Durability::Full => "SET synchronous_commit = on",
            Durability::Normal => "SET synchronous_commit = off",
        };
        conn.client().batch_execute(sync)?;
        // A statement waiting longer than this for another session's lock
        // (a command-line write, a hand edit) fails instead of stalling the
        // store thread: SQLite's busy timeout.
        let ms = opts.busy_timeout.as_millis().max(1);
        conn.client()
            .batch_execute(&format!("SET lock_timeout = {ms}"))?;
        Ok(conn)
    }

    /// Reconnects when the connection was lost (server restarted, network),
    /// at most once per backoff period; until then every batch fails at
    /// once with the reason, so callers get their temporary error quickly.
    fn ensure_connected(&mut self) -> Result<(), StoreError> {
        let Some(lost) = self.conn.lost() else {
            return Ok(());
        };
        let now = Instant::now();
        if now < self.retry_at {
            return Err(StoreError::Commit(lost));
        }
        match Self::session(&self.opts, self.opts.connect_timeout.min(RECONNECT_TIMEOUT)) {
            Ok(mut conn) => {
                if let Ok(pid) = backend_pid(&mut conn) {
                    self.own_pid.store(pid, Ordering::Relaxed);
                }
                self.conn = conn;
                self.backoff = RECONNECT_MIN;
                // Unknown what changed meanwhile: the first batch drops the cache.
                self.writes_elsewhere = Some(-1);
                tracing::info!(store = %self.target, "reconnected to PostgreSQL");
                Ok(())
            }
            Err(e) => {
                self.retry_at = now + self.backoff;
                self.backoff = (self.backoff * 2).min(RECONNECT_MAX);
                tracing::warn!(store = %self.target, error = %e, retry_in = ?self.backoff, "PostgreSQL unreachable");
                Err(e)
            }
        }
    }
}

/// The server process serving `conn`.
fn backend_pid(conn: &mut PgConn) -> Result<i32, StoreError> {
    Ok(conn
        .client()
        .query_one("SELECT pg_backend_pid()", &[])?
        .get(0))
}

impl Backend for PgBackend {
    fn run_batch(
        &mut self,
        work: &mut dyn FnMut(&mut dyn BatchTxn) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.ensure_connected()?;
        let PgConn { client, stmts } = &mut self.conn;
        let mut tx = client
            .transaction()
            .map_err(|e| commit_error(stmts.note_lost(e)))?;
        stmts.begin();
        let mut t = PgTxn {
            pg: Pg::new(&mut tx, stmts),
            writes_elsewhere: Some(&mut self.writes_elsewhere),
        };
        // On Err the transaction is dropped, which rolls it back.
        work(&mut t)?;
        // PostgreSQL answers COMMIT of an aborted transaction with a
        // rollback, not an error: never report such a batch as durable.
        if let Some(e) = stmts.doomed() {
            return Err(commit_error(e));
        }
        tx.commit()
            .map_err(|e| commit_error(self.conn.stmts.note_lost(e)))
    }

    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError> {
        self.ensure_connected()?;
        ops::purge_message_ids(&mut self.conn.autocommit(), ttl, limit)
    }

    fn count_deliveries(&mut self) -> Result<u64, StoreError> {
        self.ensure_connected()?;
        ops::count_deliveries(&mut self.conn.autocommit())
    }

    fn describe(&self) -> String {
        self.target.clone()
    }
}

/// [`StoreTxn`] over a PostgreSQL client or transaction.
pub struct PgTxn<'a, C: GenericClient> {
    pg: Pg<'a, C>,
    /// The store thread's count of other connections' consent writes
    /// (`None` where nobody caches).
    writes_elsewhere: Option<&'a mut Option<i64>>,
}

impl<'a, C: GenericClient> PgTxn<'a, C> {
    /// The interface over `pg` (command line, tests).
    pub fn new(pg: Pg<'a, C>) -> Self {
        PgTxn {
            pg,
            writes_elsewhere: None,
        }
    }
}

impl<C: GenericClient> BatchTxn for PgTxn<'_, C> {
    fn savepoint(&mut self) -> Result<(), StoreError> {
        let sql = if self.pg.stmts.release_pending {
            "RELEASE SAVEPOINT optgate_work; SAVEPOINT optgate_work"
        } else {
            "SAVEPOINT optgate_work"
        };
        self.pg.batch(sql)?;
        self.pg.stmts.release_pending = false;
        self.pg.stmts.in_savepoint = true;
        Ok(())
    }

    fn release(&mut self) -> Result<(), StoreError> {
        // Sent with the next SAVEPOINT, or implied by COMMIT.
        self.pg.stmts.in_savepoint = false;
        self.pg.stmts.release_pending = true;
        Ok(())
    }

    fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        // Still "in" the savepoint: a failure here dooms the transaction.
        self.pg.stmts.in_savepoint = false;
        self.pg
            .batch("ROLLBACK TO SAVEPOINT optgate_work; RELEASE SAVEPOINT optgate_work")
    }

    fn aborted(&mut self) -> Option<StoreError> {
        // A lost connection (server gone, network) abandons the whole
        // transaction, and so does a failed statement outside a savepoint
        // (PostgreSQL, unlike SQLite, then refuses everything until the end);
        // a statement error inside a savepoint undoes only that request.
        self.pg.stmts.doomed().map(StoreError::Commit)
    }

    fn changed_elsewhere(&mut self) -> bool {
        // Other connections' consent writes reach the cache key by key
        // through the listener (listen.rs), which also notices a lost
        // notification; here only a reconnect of the store thread's own
        // connection (`Some(-1)`: unknown what changed meanwhile) drops it.
        let Some(last) = self.writes_elsewhere.as_deref_mut() else {
            return false;
        };
        let moved = *last == Some(-1);
        *last = Some(0);
        moved
    }

    fn as_txn(&mut self) -> &mut dyn StoreTxn {
        self
    }
}

impl<C: GenericClient> StoreTxn for PgTxn<'_, C> {
    fn consent(&mut self, key: &Key) -> Result<ConsentRow, StoreError> {
        consent::get(&mut self.pg, key)
    }

    fn set_status(
        &mut self,
        key: &Key,
        status: ConsentStatus,
        source: &str,
        message_ids: &str,
    ) -> Result<ConsentStatus, StoreError> {
        consent::set_status(&mut self.pg, key, status, source, message_ids)
    }

    fn set_updated_at(&mut self, key: &Key, at_ms: i64) -> Result<(), StoreError> {
        consent::set_updated_at(&mut self.pg, key, at_ms)
    }

    fn mark(&mut self, key: &Key, flag: Flag) -> Result<(), StoreError> {
        consent::mark(&mut self.pg, key, flag)
    }

    fn list_consent(
        &mut self,
        filter: &ConsentFilter,
        after: Option<&Key>,
        limit: u32,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        consent::list_consent(&mut self.pg, filter, after, limit)
    }

    fn insert_event(&mut self, event: &Event) -> Result<(), StoreError> {
        consent::insert_event(&mut self.pg, event)
    }

    fn list_events(
        &mut self,
        recipient: Option<&str>,
        since_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        consent::list_events(&mut self.pg, recipient, since_ms, limit)
    }

    fn hold(&mut self, held: &NewHeld<'_>) -> Result<i64, StoreError> {
        consent::hold(&mut self.pg, held)
    }

    fn held_count(&mut self, key: &Key) -> Result<u32, StoreError> {
        consent::held_count(&mut self.pg, key)
    }

    fn take_held(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
        consent::take_held(&mut self.pg, key)
    }

    fn take_expired(&mut self, now_ms: i64, limit: u32) -> Result<Vec<HeldRow>, StoreError> {
        consent::take_expired(&mut self.pg, now_ms, limit)
    }

    fn held_group(&mut self, group_id: i64) -> Result<Vec<HeldRow>, StoreError> {
        consent::held_group(&mut self.pg, group_id)
    }

    fn delete_held_group(&mut self, group_id: i64) -> Result<usize, StoreError> {
        consent::delete_held_group(&mut self.pg, group_id)
    }

    fn replace_held(
        &mut self,
        id: i64,
        pdu: &[u8],
        registered_delivery: u8,
    ) -> Result<bool, StoreError> {
        consent::replace_held(&mut self.pg, id, pdu, registered_delivery)
    }

    fn list_held(
        &mut self,
        recipient: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HeldRow>, StoreError> {
        consent::list_held(&mut self.pg, recipient, limit)
    }

    fn count_held(&mut self) -> Result<u64, StoreError> {
        consent::count_held(&mut self.pg)
    }

    fn settled_held_keys(&mut self, limit: u32) -> Result<Vec<(Key, ConsentStatus)>, StoreError> {
        consent::settled_held_keys(&mut self.pg, limit)
    }

    fn outbox_push(
        &mut self,
        kind: &str,
        key: &Key,
        account: &str,
        optgate_id: Option<&str>,
        pdu: &[u8],
    ) -> Result<i64, StoreError> {
        consent::outbox_push(&mut self.pg, kind, key, account, optgate_id, pdu)
    }

    fn outbox_pending(&mut self, from_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        consent::outbox_pending(&mut self.pg, from_id, limit)
    }

    fn outbox_done(&mut self, id: i64) -> Result<(), StoreError> {
        consent::outbox_done(&mut self.pg, id)
    }

    fn outbox_attempted(&mut self, id: i64) -> Result<(), StoreError> {
        consent::outbox_attempted(&mut self.pg, id)
    }

    fn outbox_handed(&mut self, id: i64, at: Option<i64>) -> Result<(), StoreError> {
        consent::outbox_handed(&mut self.pg, id, at)
    }

    fn insert_delivery(
        &mut self,
        account: &str,
        kind: DeliveryKind,
        pdu: &[u8],
    ) -> Result<u64, StoreError> {
        ops::insert_delivery(&mut self.pg, account, kind, pdu)
    }

    fn pending_deliveries(
        &mut self,
        account: &str,
        from_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        ops::pending_deliveries(&mut self.pg, account, from_id, limit)
    }

    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError> {
        ops::delete_delivery(&mut self.pg, id)
    }

    fn insert_deliveries(
        &mut self,
        rows: &[(&str, DeliveryKind, &[u8])],
    ) -> Result<Vec<u64>, StoreError> {
        ops::insert_deliveries(&mut self.pg, rows)
    }

    fn delete_deliveries(&mut self, ids: &[u64]) -> Result<Vec<bool>, StoreError> {
        ops::delete_deliveries(&mut self.pg, ids)
    }

    fn count_deliveries(&mut self) -> Result<u64, StoreError> {
        ops::count_deliveries(&mut self.pg)
    }

    fn map_message_id(
        &mut self,
        carrier_id: &str,
        account: &str,
        optgate_id: Option<&str>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        ops::map_message_id(&mut self.pg, carrier_id, account, optgate_id, ttl)
    }

    fn map_message_ids(
        &mut self,
        rows: &[(&str, &str, Option<&str>)],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        ops::map_message_ids(&mut self.pg, rows, ttl)
    }

    fn lookup_message_id(
        &mut self,
        carrier_id: &str,
        ttl: Duration,
    ) -> Result<Option<MessageOwner>, StoreError> {
        ops::lookup_message_id(&mut self.pg, carrier_id, ttl)
    }

    fn newest_message_id_at(&mut self) -> Result<Option<i64>, StoreError> {
        ops::newest_message_id_at(&mut self.pg)
    }

    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError> {
        ops::purge_message_ids(&mut self.pg, ttl, limit)
    }

    fn consent_counts(&mut self) -> Result<Vec<(String, ConsentStatus, u64)>, StoreError> {
        consent::consent_counts(&mut self.pg)
    }

    fn held_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        consent::held_counts(&mut self.pg)
    }

    fn consent_changes_since(&mut self, from_ms: i64) -> Result<Vec<ChangeCount>, StoreError> {
        consent::consent_changes_since(&mut self.pg, from_ms)
    }

    fn touch(&mut self) -> Result<(), StoreError> {
        ops::touch(&mut self.pg)
    }

    fn outbox_received(&mut self, id: i64, at_ms: i64) -> Result<(), StoreError> {
        compliance::outbox_received(&mut self.pg, id, at_ms)
    }

    fn outbox_received_at(&mut self, id: i64) -> Result<Option<i64>, StoreError> {
        compliance::outbox_received_at(&mut self.pg, id)
    }

    fn events_of_kind(
        &mut self,
        kind: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        compliance::events_of_kind(&mut self.pg, kind, after_id, limit)
    }

    fn event(&mut self, id: i64) -> Result<Option<EventRow>, StoreError> {
        compliance::event(&mut self.pg, id)
    }

    fn webhook_cursor(&mut self, url: &str) -> Result<Option<i64>, StoreError> {
        compliance::webhook_cursor(&mut self.pg, url)
    }

    fn set_webhook_cursor(&mut self, url: &str, last_event: i64) -> Result<(), StoreError> {
        compliance::set_webhook_cursor(&mut self.pg, url, last_event)
    }

    fn last_event_id(&mut self) -> Result<i64, StoreError> {
        compliance::last_event_id(&mut self.pg)
    }

    fn events_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        compliance::events_after(&mut self.pg, after_id, limit)
    }

    fn webhook_push(
        &mut self,
        url: &str,
        event_id: i64,
        recipient: &str,
        body: &str,
    ) -> Result<i64, StoreError> {
        compliance::webhook_push(&mut self.pg, url, event_id, recipient, body)
    }

    fn webhook_pending(&mut self, url: &str, limit: u32) -> Result<Vec<WebhookRow>, StoreError> {
        compliance::webhook_pending(&mut self.pg, url, limit)
    }

    fn webhook_done(&mut self, id: i64) -> Result<(), StoreError> {
        compliance::webhook_done(&mut self.pg, id)
    }

    fn webhook_retry(&mut self, id: i64, next_at: i64) -> Result<(), StoreError> {
        compliance::webhook_retry(&mut self.pg, id, next_at)
    }

    fn purge_events(&mut self, before_ms: i64, limit: u32) -> Result<usize, StoreError> {
        compliance::purge_events(&mut self.pg, before_ms, limit)
    }

    fn purge_deliveries(&mut self, before_secs: i64, limit: u32) -> Result<usize, StoreError> {
        compliance::purge_deliveries(&mut self.pg, before_secs, limit)
    }

    fn set_held_quiet(&mut self, group_id: i64, until_ms: i64) -> Result<(), StoreError> {
        quiet::set_held_quiet(&mut self.pg, group_id, until_ms)
    }

    fn defer_held(&mut self, key: &Key, until_ms: i64, all: bool) -> Result<(), StoreError> {
        quiet::defer_held(&mut self.pg, key, until_ms, all)
    }

    fn due_quiet_keys(&mut self, now_ms: i64, limit: u32) -> Result<Vec<Key>, StoreError> {
        quiet::due_quiet_keys(&mut self.pg, now_ms, limit)
    }

    fn take_quiet(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
        quiet::take_quiet(&mut self.pg, key)
    }
}
