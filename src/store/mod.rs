//! Durable state: one backend-neutral interface, run on its own OS thread.
//!
//! - [`StoreTxn`] (`txn.rs`) says *what* is read and written: a consent row,
//!   an event, a held message, a delivery, the outbox, the id map. The
//!   consent engine, the admin API and the command line use only it; no
//!   driver type leaves this module. [`TxnEnv`] (`env.rs`) is what the
//!   daemon's work gets: the backend's `StoreTxn` plus the consent cache
//!   and the bound on stored deliveries.
//! - [`Store`] is the daemon's async handle. Requests travel over a bounded
//!   channel to the store thread, which drains up to `batch_max` of them,
//!   runs them in one transaction, each in a savepoint, and commits once
//!   (group commit); each waiter is answered only after that commit, so an
//!   `Ok` means durable. A failed commit is reported to every waiter of the
//!   batch and the thread carries on (the disk may recover).
//!   [`Store::transact`] runs a closure over a [`TxnEnv`] (a [`StoreTxn`])
//!   inside that batch: the engine's read–decide–write is synchronous,
//!   atomic and ordered with every other request.
//! - [`Backend`] / [`BatchTxn`] (`backend.rs`) are what the store thread
//!   (`worker.rs`, written once) needs of a database; [`sqlite`] is the
//!   SQLite backend (SQL, schema, migrations), [`postgres`] the PostgreSQL
//!   one (its SQL functions are public for its own tests against a real
//!   server; the engine still uses only [`StoreTxn`]). [`Store::open`] picks
//!   the backend from [`StoreOptions::backend`].
//! - [`consent`] holds the records (keys, rows, events, held, outbox);
//!   [`cache`] the consent read cache in front of the store thread.
//! - [`Database`] is the blocking API over the same data for CLI commands.
//! - [`Store::read`] runs the admin API's reads: on PostgreSQL on up to
//!   `[store] pool_size` connections of their own (`readers.rs`), beside
//!   the store thread; on SQLite on the store thread.

mod backend;
mod blocking;
pub mod cache;
pub mod consent;
mod env;
mod error;
mod options;
pub mod postgres;
mod readers;
pub mod sqlite;
mod txn;
mod worker;

pub use backend::{Backend, BatchTxn, DbError};
pub use env::TxnEnv;
pub use sqlite::schema;
pub use txn::StoreTxn;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub use blocking::Database;
pub use error::StoreError;
pub use options::StoreOptions;

use crate::config::StoreBackend;
use worker::Request;

/// Whether a stored delivery is a mobile-originated message or a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// Mobile-originated message.
    Mo,
    /// Delivery receipt.
    Dlr,
}

impl DeliveryKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Mo => "mo",
            DeliveryKind::Dlr => "dlr",
        }
    }
}

/// An MO or receipt waiting for a platform bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDelivery {
    /// Id to pass to [`Store::ack_delivery`]; increases with insertion order.
    pub id: u64,
    /// MO or receipt.
    pub kind: DeliveryKind,
    /// The encoded deliver_sm / data_sm as received.
    pub pdu: Vec<u8>,
}

/// Who sent the message a carrier id belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageOwner {
    /// The platform account (`system_id`).
    pub account: String,
    /// optgate's own id when the platform was given one (released holds).
    pub optgate_id: Option<String>,
}

/// Counters of the store thread (for tests and metrics).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    failed_commits: AtomicU64,
    requests: AtomicU64,
    lost_writes: AtomicU64,
    last_commit_nanos: AtomicU64,
}

/// A snapshot of the store thread's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Transactions committed.
    pub commits: u64,
    /// Transactions that failed to commit.
    pub failed_commits: u64,
    /// Requests executed (every kind).
    pub requests: u64,
    /// Write-behind rows lost to a failed commit.
    pub lost_writes: u64,
    /// Duration of the last commit.
    pub last_commit: Duration,
}

/// When the caller of [`Store::transact`] gets its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// Only once the batch holding the work has committed (for anything
    /// optgate acknowledges: a STOP, a held message).
    AfterCommit,
    /// As soon as the work ran: its reads saw every earlier request, and
    /// what it wrote may still be lost to a failed commit (decisions to
    /// forward, write-behind markers).
    Now,
}

/// Handle to the store thread. Cheap to clone; all clones share the thread.
#[derive(Debug, Clone)]
pub struct Store {
    tx: mpsc::Sender<Request>,
    counters: Arc<Counters>,
    cache: Arc<cache::ConsentCache>,
    ids: worker::IdBuffer,
    /// What other instances announce (PostgreSQL only).
    elsewhere: Arc<postgres::listen::Elsewhere>,
    instance: Arc<str>,
    /// Work claimed across instances (a daemon on PostgreSQL only).
    claims: Option<postgres::instance::Claims>,
    /// PostgreSQL's read connections ([`Store::read`]).
    readers: Option<Arc<readers::Readers>>,
}

/// Id map rows buffered towards the store thread before a writer waits.
pub const ID_BUFFER_MAX: usize = 100_000;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

impl Store {
    /// Opens (creating and migrating) the SQLite database on a new store
    /// thread. Waits without blocking the async runtime.
    pub async fn open(opts: StoreOptions) -> Result<Store, StoreError> {
        match opts.backend {
            StoreBackend::Sqlite => Self::open_with(opts, sqlite::SqliteBackend::open).await,
            StoreBackend::Postgres => postgres::open_store(opts).await,
        }
    }

    /// Opens a store over the backend `open` makes (called on the new store
    /// thread, which owns the backend from then on).
    pub async fn open_with<B: Backend>(
        opts: StoreOptions,
        open: impl FnOnce(&StoreOptions) -> Result<B, StoreError> + Send + 'static,
    ) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::channel(opts.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let (ready_tx, ready_rx) = oneshot::channel();
        let cache = Arc::new(cache::ConsentCache::default());
        let ids = worker::IdBuffer::default();
        let instance = Arc::from(opts.instance.as_str());
        let shared = worker::Shared {
            counters: Arc::clone(&counters),
            cache: Arc::clone(&cache),
            ids: Arc::clone(&ids),
        };
        std::thread::Builder::new()
            .name("optgate-store".into())
            .spawn(move || worker::run(opts, open, rx, shared, ready_tx))
            .map_err(|e| StoreError::Thread(Arc::new(e)))?;
        ready_rx.await.map_err(|_| StoreError::Closed)??;
        Ok(Store {
            tx,
            counters,
            cache,
            ids,
            elsewhere: Arc::default(),
            instance,
            claims: None,
            readers: None,
        })
    }

    /// The consent read cache this store keeps correct (see [`cache`]).
    pub fn consent_cache(&self) -> &Arc<cache::ConsentCache> {
        &self.cache
    }

    /// What other instances announce through the database (PostgreSQL).
    pub fn elsewhere(&self) -> &postgres::listen::Elsewhere {
        &self.elsewhere
    }

    /// This daemon's instance name (empty when not a daemon).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Claims of work only one instance may do at a time (`None`: the only
    /// instance, SQLite or a store opened by the command line).
    pub fn claims(&self) -> Option<&postgres::instance::Claims> {
        self.claims.as_ref()
    }

    /// Takes the cross-instance claim `what` (see
    /// [`postgres::instance::Claims`]); a store no other instance shares
    /// (SQLite, or a PostgreSQL store without an instance name) holds
    /// every claim.
    pub async fn claim(&self, what: &str) -> bool {
        match &self.claims {
            Some(c) => c.claim(what).await,
            None => true,
        }
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Remembers which account sent the message the carrier calls
    /// `carrier_id`. Write-behind: returns once queued, not once durable
    /// (a crash may lose the last few milliseconds of mappings).
    ///
    /// Rows gather in a buffer that the store thread takes whole at the start
    /// of each batch; only the first row of an empty buffer wakes the thread,
    /// so a burst of mappings costs one hop. A buffer of
    /// [`ID_BUFFER_MAX`] rows makes the caller wait for a commit; one of twice
    /// that (commits keep failing) refuses the row (`StoreError::IdMapBacklog`,
    /// counted in `lost_writes`): receipts for it are routed by address.
    pub async fn map_message_id(
        &self,
        carrier_id: Bytes,
        account: Arc<str>,
        optgate_id: Option<Arc<str>>,
    ) -> Result<(), StoreError> {
        if self.tx.is_closed() {
            return Err(StoreError::Closed);
        }
        let row = worker::IdRow {
            carrier_id,
            account,
            optgate_id,
        };
        let queued = match self.ids.lock() {
            // The store has not taken rows for a long time (it keeps
            // failing): drop this one rather than grow without bound.
            Ok(v) if v.len() >= 2 * ID_BUFFER_MAX => {
                self.counters.lost_writes.fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::IdMapBacklog {
                    limit: 2 * ID_BUFFER_MAX as u64,
                });
            }
            Ok(mut v) => {
                v.push(row);
                v.len()
            }
            Err(_) => return Err(StoreError::Closed),
        };
        if queued == 1 {
            // Full: the thread is busy and takes the buffer with its next batch.
            if let Err(mpsc::error::TrySendError::Closed(_)) = self.tx.try_send(Request::Wake) {
                return Err(StoreError::Closed);
            }
        } else if queued >= ID_BUFFER_MAX {
            self.flush().await?;
        }
        Ok(())
    }

    /// The owner of `carrier_id`, if mapped within `id_map_ttl`.
    pub async fn lookup_message_id(
        &self,
        carrier_id: String,
    ) -> Result<Option<MessageOwner>, StoreError> {
        self.call(|reply| Request::LookupId { carrier_id, reply })
            .await
    }

    /// Durably stores an MO or receipt for `account`; returns its id.
    /// `StoreError::Full` when `max_stored_deliveries` are already stored.
    pub async fn enqueue_delivery(
        &self,
        account: String,
        pdu: Vec<u8>,
        kind: DeliveryKind,
    ) -> Result<u64, StoreError> {
        self.call(|reply| Request::Enqueue {
            account,
            kind,
            pdu,
            reply,
        })
        .await
    }

    /// Up to `limit` stored deliveries of `account`, in insertion order.
    pub async fn pending_deliveries(
        &self,
        account: String,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        self.pending_deliveries_from(account, 0, limit).await
    }

    /// Like [`Store::pending_deliveries`], starting at id `from_id` (paging).
    pub async fn pending_deliveries_from(
        &self,
        account: String,
        from_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        // On PostgreSQL a read connection answers: on the store thread the
        // page would wait behind every store write queued before it, and a
        // dispatcher paging in a backlog while the carrier keeps sending
        // would fall further behind with each page.
        if let Some(r) = &self.readers {
            return r
                .read(move |t| t.pending_deliveries(&account, from_id, limit))
                .await;
        }
        self.call(|reply| Request::Pending {
            account,
            from_id,
            limit,
            reply,
        })
        .await
    }

    /// Queues a durable store of an MO or receipt and returns at once with
    /// a receiver for the commit's outcome. Requests queued one after the
    /// other are committed in that order, which is what keeps a STOP and a
    /// following START in order while many commits are in flight.
    pub async fn enqueue_delivery_queued(
        &self,
        account: String,
        pdu: Vec<u8>,
        kind: DeliveryKind,
    ) -> Result<oneshot::Receiver<Result<u64, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let req = Request::Enqueue {
            account,
            kind,
            pdu,
            reply,
        };
        self.tx.send(req).await.map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// Durably deletes a delivered entry; `false` if it was already gone.
    pub async fn ack_delivery(&self, id: u64) -> Result<bool, StoreError> {
        self.call(|reply| Request::Ack { id, reply }).await
    }

    /// Number of stored deliveries (committed state).
    pub async fn count_deliveries(&self) -> Result<u64, StoreError> {
        self.call(|reply| Request::Count { reply }).await
    }

    /// Commits a small write: `Ok` proves the database is writable now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(|reply| Request::Ping { reply }).await
    }

    /// [`Store::ping`] as a readiness flag.
    pub async fn is_writable(&self) -> bool {
        self.ping().await.is_ok()
    }

    /// Waits until everything queued before this call is committed
    /// (write-behind rows included). Errors if that commit failed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.call(|reply| Request::Flush { reply }).await
    }

    /// Commits what is queued, then stops the thread and closes the
    /// database. Later calls on any clone fail with `StoreError::Closed`.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.call(|reply| Request::Close { reply }).await
    }

    /// Runs `f` on the store thread inside the current group-commit batch,
    /// in order with every other request. All its writes commit together or
    /// not at all. `f` says whether its caller is answered at once or after
    /// the commit.
    pub async fn transact<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut TxnEnv<'_>) -> Result<(T, Durable), StoreError> + Send + 'static,
    {
        let rx = self.transact_queued(f).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Like [`Store::transact`] but returns once the work is queued, with a
    /// receiver for its outcome, so callers can keep several in flight while
    /// keeping their order.
    pub async fn transact_queued<T, F>(
        &self,
        f: F,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut TxnEnv<'_>) -> Result<(T, Durable), StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Txn(worker::txn_job(f, reply)))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// Runs a read of committed state: on PostgreSQL on one of the read
    /// connections (`[store] pool_size`), so a slow read never delays the
    /// store thread's batches; on SQLite inside the store thread's batch
    /// (answered at once, like `transact` with [`Durable::Now`]).
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTxn) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.readers {
            Some(r) => r.read(work).await,
            None => {
                self.transact(move |env| Ok((work(env)?, Durable::Now)))
                    .await
            }
        }
    }

    /// Read connections open and idle now (0 on SQLite).
    pub fn idle_readers(&self) -> usize {
        self.readers.as_ref().map_or(0, |r| r.idle())
    }

    /// Counters of the store thread.
    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            commits: c.commits.load(Ordering::Relaxed),
            failed_commits: c.failed_commits.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            lost_writes: c.lost_writes.load(Ordering::Relaxed),
            last_commit: Duration::from_nanos(c.last_commit_nanos.load(Ordering::Relaxed)),
        }
    }
}
