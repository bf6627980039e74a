//! What the store thread needs of a database: the seam between the
//! group-commit loop (written once, in `worker.rs`) and each backend
//! (`sqlite/`, and PostgreSQL beside it).
//!
//! The store thread owns one [`Backend`]. For each batch of requests it
//! calls [`Backend::run_batch`], which begins one transaction, hands it to
//! the loop as a [`BatchTxn`], and commits it once the loop returns `Ok`.
//! The loop runs every request in a savepoint of its own
//! ([`BatchTxn::savepoint`] / [`BatchTxn::release`] /
//! [`BatchTxn::rollback_to_savepoint`]) so a failing request leaves no
//! partial effect, and answers the waiters only after `run_batch` says the
//! commit succeeded. Everything else (batching, the write-behind id rows,
//! the delivery count, answers, counters, the cache) is the loop's.

use std::sync::Arc;
use std::time::Duration;

use super::txn::StoreTxn;
use super::StoreError;

/// A driver error behind [`StoreError::Database`] / [`StoreError::Commit`].
pub type DbError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The transaction of one batch, as the store thread sees it: the
/// [`StoreTxn`] operations plus savepoints.
pub trait BatchTxn: StoreTxn {
    /// Starts the savepoint of one request. Savepoints are not nested: each
    /// is released or rolled back before the next starts.
    fn savepoint(&mut self) -> Result<(), StoreError>;

    /// Keeps the request's work in the batch transaction.
    fn release(&mut self) -> Result<(), StoreError>;

    /// Undoes the request's work; the batch transaction stays usable.
    fn rollback_to_savepoint(&mut self) -> Result<(), StoreError>;

    /// `Some` when the database has abandoned the whole transaction (SQLite
    /// rolls back on I/O errors or a full disk; a lost PostgreSQL
    /// connection): the loop then stops and the batch fails with it.
    fn aborted(&mut self) -> Option<StoreError>;

    /// `true` when another process changed the database since the previous
    /// batch (the command line, a hand edit, another optgate), so cached
    /// consent rows may be stale and the cache is emptied. Called once at
    /// the start of each batch.
    fn changed_elsewhere(&mut self) -> bool;

    /// This transaction as the plain interface handed to a unit of work.
    fn as_txn(&mut self) -> &mut dyn StoreTxn;
}

/// One database, owned by the store thread.
pub trait Backend: Send + 'static {
    /// Runs one batch: begins a transaction, calls `work` with it, and
    /// commits when `work` returns `Ok`. `Err` from `work` rolls back and is
    /// returned; a failed begin or commit returns [`StoreError::Commit`].
    /// `Ok` means everything `work` did is durable (as configured).
    fn run_batch(
        &mut self,
        work: &mut dyn FnMut(&mut dyn BatchTxn) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Deletes up to `limit` id map rows older than `ttl` in a transaction
    /// of its own (between batches); returns how many.
    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError>;

    /// Number of stored deliveries, read once at start.
    fn count_deliveries(&mut self) -> Result<u64, StoreError>;

    /// Where the data lives, for logs (a path; a URL without password).
    fn describe(&self) -> String;
}
