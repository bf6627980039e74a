//! The store conformance suite: the same test functions for every backend.
//!
//! A backend provides a [`Setup`] (fresh storage, a way to open a
//! [`Store`] on it, a way to block its writes from outside) and is
//! instantiated with `conformance_suite!(name, SetupType)` in
//! `tests/store_conformance.rs`. Every test talks to a real database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, async_fn_in_trait)]

mod compliance;
mod listing;
mod ops;
mod promises;
mod quiet;

pub use compliance::*;
pub use listing::*;
pub use ops::*;
pub use promises::*;
pub use quiet::*;

use optgate::store::consent::Key;
use optgate::store::{Durable, Store, StoreError, StoreOptions, TxnEnv};

/// One backend's test set-up. Each value owns fresh, empty storage.
pub trait Setup: Sized {
    /// Whether a write blocked by another session fails the whole batch's
    /// transaction (SQLite: `BEGIN IMMEDIATE` times out, a failed commit)
    /// or only the statement that waited (PostgreSQL: `lock_timeout` ends
    /// that request's savepoint; the batch commits the rest).
    const BLOCKED_WRITE_FAILS_THE_BATCH: bool = true;

    /// Fresh storage (a new file, a new database).
    async fn new() -> Self;

    /// Opens a store on this set-up's storage; `tune` adjusts the options
    /// (bounds, timeouts) before the open.
    async fn open_tuned(&self, tune: impl FnOnce(&mut StoreOptions)) -> Result<Store, StoreError>;

    /// Opens a store with the default options.
    async fn open(&self) -> Store {
        self.open_tuned(|_| {}).await.unwrap()
    }

    /// Makes every write of the store fail from outside (another session
    /// holding a lock) until the guard is dropped. Writes must then fail
    /// within about a second.
    async fn block_writes(&self) -> Box<dyn Send>;

    /// Tries to open a store on storage that can not work (a path under a
    /// regular file; an unreachable server): must be an error, quickly.
    async fn open_unusable(&self) -> Result<Store, StoreError>;
}

/// A scope key of campaign `c`, sender `s`, recipient `r`.
pub fn key(c: &str, s: &str, r: &str) -> Key {
    Key {
        campaign: c.into(),
        sender: s.into(),
        recipient: r.into(),
    }
}

/// Runs `f` on the store thread and waits for its answer after the commit.
pub async fn commit<T, F>(store: &Store, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut TxnEnv<'_>) -> Result<T, StoreError> + Send + 'static,
{
    store
        .transact(move |env| Ok((f(env)?, Durable::AfterCommit)))
        .await
}

/// Runs a read on the store thread.
pub async fn read<T, F>(store: &Store, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(&mut TxnEnv<'_>) -> Result<T, StoreError> + Send + 'static,
{
    store
        .transact(move |env| Ok((f(env)?, Durable::Now)))
        .await
        .unwrap()
}

/// Instantiates every conformance test for one backend.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $setup:ty) => {
        mod $name {
            use super::conformance as c;
            type S = $setup;

            $crate::conformance_suite!(@tests S, c;
                consent_rows_status_flags_and_paging,
                consent_pages_in_byte_order_under_every_filter,
                events_are_listed_in_order_and_filtered,
                held_messages_group_replace_settle_and_expire,
                outbox_push_pending_attempted_handed_done,
                stored_deliveries_bounded_and_acknowledged,
                stored_deliveries_queued_together,
                id_map_written_behind_and_looked_up,
                ok_means_durable_for_another_reader_and_after_reopen,
                an_mo_change_orders_before_a_following_mt_decision,
                a_failing_unit_of_work_leaves_nothing_and_spares_the_batch,
                the_cache_never_keeps_a_row_the_work_wrote,
                blocked_writes_are_errors_then_the_store_recovers,
                unusable_storage_is_an_error_at_open,
                outbox_received_time_is_kept_per_row,
                events_by_kind_and_by_id,
                webhook_cursor_outbox_and_events_after,
                purge_events_and_deliveries_oldest_first_in_batches,
                quiet_holds_wait_fall_due_and_are_taken_in_order,
            );
        }
    };
    (@tests $s:ty, $c:ident; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let setup = <$s as $c::Setup>::new().await;
                $c::$test(&setup).await;
            }
        )*
    };
}
