//! The store interface: what the consent engine, the admin API and the
//! command line read and write, whatever the database.
//!
//! [`StoreTxn`] is one unit of work's view of the database. Every backend
//! (SQLite in [`super::sqlite`], PostgreSQL beside it) implements it over
//! its own transaction type; callers never name a driver type and never
//! see SQL. The daemon's engine gets it as a [`super::TxnEnv`] inside
//! [`super::Store::transact`]: synchronous, on the store thread, inside the
//! group-commit batch and in a savepoint of its own, so a read–decide–write
//! (an MT's decision, an MO's STOP) is atomic and ordered with every other
//! request. The command line gets it from [`super::Database::write`].
//!
//! Contract for implementations (checked by `tests/store_conformance.rs`):
//! - every method runs inside the caller's transaction; nothing is durable
//!   until the backend commits it, and an error leaves the transaction
//!   usable (the caller's savepoint is rolled back);
//! - errors are [`StoreError`] ([`StoreError::Database`] for driver errors);
//! - ids (`hold`, `outbox_push`, `insert_delivery`) increase with insertion
//!   order and are never reused;
//! - lists come back in the order documented per method.

use std::time::Duration;

use super::consent::{
    ChangeCount, ConsentFilter, ConsentRow, Event, EventRow, Flag, HeldRow, Key, NewHeld,
    OutboxRow, WebhookRow,
};
use super::{DeliveryKind, MessageOwner, StoreError, StoredDelivery};
use crate::policy::ConsentStatus;

/// One unit of work's reads and writes. See the module documentation.
pub trait StoreTxn {
    // --- consent log -----------------------------------------------------

    /// The row of `key` ([`ConsentRow::none`] when there is none).
    fn consent(&mut self, key: &Key) -> Result<ConsentRow, StoreError>;

    /// Sets the status of `key` (creating its row), records a
    /// `consent_change` event with `source` and `message_ids`, and returns
    /// the old status. Setting the status it already has writes nothing.
    fn set_status(
        &mut self,
        key: &Key,
        status: ConsentStatus,
        source: &str,
        message_ids: &str,
    ) -> Result<ConsentStatus, StoreError>;

    /// Overwrites the time of the last change of an existing row of `key`
    /// (an import keeps its file's date). No row: nothing happens.
    fn set_updated_at(&mut self, key: &Key, at_ms: i64) -> Result<(), StoreError>;

    /// Sets `flag` on `key`, creating a row with status none if needed.
    fn mark(&mut self, key: &Key, flag: Flag) -> Result<(), StoreError>;

    /// Consent rows matching `filter` (status none only when the filter
    /// asks for it), ordered by (campaign, sender, recipient), strictly
    /// after `after` (the paging cursor), at most `limit`.
    fn list_consent(
        &mut self,
        filter: &ConsentFilter,
        after: Option<&Key>,
        limit: u32,
    ) -> Result<Vec<ConsentRow>, StoreError>;

    // --- audit events ----------------------------------------------------

    /// Appends an event, stamped now.
    fn insert_event(&mut self, event: &Event) -> Result<(), StoreError>;

    /// Events in insertion order, optionally of one recipient and at or
    /// after `since_ms`, at most `limit`.
    fn list_events(
        &mut self,
        recipient: Option<&str>,
        since_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError>;

    // --- held messages ---------------------------------------------------

    /// Holds one PDU; returns its group id (the optgate message id).
    fn hold(&mut self, held: &NewHeld<'_>) -> Result<i64, StoreError>;

    /// Number of held messages (groups, not PDUs) of `key`.
    fn held_count(&mut self, key: &Key) -> Result<u32, StoreError>;

    /// Removes and returns every held PDU of `key`, in the order held.
    fn take_held(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError>;

    /// Removes and returns the PDUs of up to `limit` held messages whose
    /// hold expired at or before `now_ms`, whole groups, in the order held.
    fn take_expired(&mut self, now_ms: i64, limit: u32) -> Result<Vec<HeldRow>, StoreError>;

    /// The PDUs of one held message, in order (empty when unknown).
    fn held_group(&mut self, group_id: i64) -> Result<Vec<HeldRow>, StoreError>;

    /// Deletes one held message; returns how many PDUs it had.
    fn delete_held_group(&mut self, group_id: i64) -> Result<usize, StoreError>;

    /// Replaces the PDU of the held row `id` (replace_sm); `false` when
    /// there is no such row.
    fn replace_held(
        &mut self,
        id: i64,
        pdu: &[u8],
        registered_delivery: u8,
    ) -> Result<bool, StoreError>;

    /// Held PDUs in the order held, optionally of one recipient, at most
    /// `limit`.
    fn list_held(
        &mut self,
        recipient: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HeldRow>, StoreError>;

    /// Number of held messages (groups).
    fn count_held(&mut self) -> Result<u64, StoreError>;

    /// Up to `limit` distinct keys that have held messages and whose status
    /// settles them (active: release; refused: drop), with that status.
    fn settled_held_keys(&mut self, limit: u32) -> Result<Vec<(Key, ConsentStatus)>, StoreError>;

    // --- outbox of optgate's own messages --------------------------------

    /// Queues one submit_sm; returns its id.
    fn outbox_push(
        &mut self,
        kind: &str,
        key: &Key,
        account: &str,
        optgate_id: Option<&str>,
        pdu: &[u8],
    ) -> Result<i64, StoreError>;

    /// Up to `limit` queued messages with id >= `from_id`, in id order.
    fn outbox_pending(&mut self, from_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError>;

    /// Removes a message that was sent or given up on.
    fn outbox_done(&mut self, id: i64) -> Result<(), StoreError>;

    /// Counts a failed attempt of a message.
    fn outbox_attempted(&mut self, id: i64) -> Result<(), StoreError>;

    /// Marks an at-most-once message as handed to a carrier bind
    /// (`Some(ms)`), or clears the mark when it certainly did not leave.
    fn outbox_handed(&mut self, id: i64, at: Option<i64>) -> Result<(), StoreError>;

    // --- stored deliveries (MOs and receipts for platform binds) ---------

    /// Stores an MO or receipt for `account`; returns its id. Unbounded
    /// here: [`super::TxnEnv`] applies `max_stored_deliveries`.
    fn insert_delivery(
        &mut self,
        account: &str,
        kind: DeliveryKind,
        pdu: &[u8],
    ) -> Result<u64, StoreError>;

    /// Up to `limit` stored deliveries of `account` with id >= `from_id`,
    /// in id order.
    fn pending_deliveries(
        &mut self,
        account: &str,
        from_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError>;

    /// Deletes a stored delivery; `false` if it was not there.
    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError>;

    /// [`StoreTxn::insert_delivery`] for many rows, their ids ascending in
    /// the order given. The store thread stores consecutive requests with
    /// it; a backend where each statement is a network round trip writes
    /// them in one.
    fn insert_deliveries(
        &mut self,
        rows: &[(&str, DeliveryKind, &[u8])],
    ) -> Result<Vec<u64>, StoreError> {
        rows.iter()
            .map(|(account, kind, pdu)| self.insert_delivery(account, *kind, pdu))
            .collect()
    }

    /// [`StoreTxn::delete_delivery`] for many ids: for each, whether it was
    /// there, as if deleted one by one in order (an id given twice: only
    /// the first finds it).
    fn delete_deliveries(&mut self, ids: &[u64]) -> Result<Vec<bool>, StoreError> {
        ids.iter().map(|&id| self.delete_delivery(id)).collect()
    }

    /// Number of stored deliveries (a full count; the store thread keeps
    /// its own running count and calls this only at start).
    fn count_deliveries(&mut self) -> Result<u64, StoreError>;

    // --- carrier message id map -----------------------------------------

    /// Records (or replaces) the owner of a carrier message id. `ttl` is
    /// `id_map_ttl` (a backend may partition by it).
    fn map_message_id(
        &mut self,
        carrier_id: &str,
        account: &str,
        optgate_id: Option<&str>,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// [`StoreTxn::map_message_id`] for many rows (carrier id, account,
    /// optgate id), the later of two rows with the same carrier id winning.
    /// The store thread writes its buffered rows with it; a backend where
    /// each statement is a network round trip writes them in one.
    fn map_message_ids(
        &mut self,
        rows: &[(&str, &str, Option<&str>)],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        // A failing row does not keep the others out; the first error is
        // reported.
        let mut first = Ok(());
        for (carrier_id, account, optgate_id) in rows {
            let r = self.map_message_id(carrier_id, account, *optgate_id, ttl);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// The owner of a carrier message id mapped within `ttl` (the newest
    /// mapping if the id was reused).
    fn lookup_message_id(
        &mut self,
        carrier_id: &str,
        ttl: Duration,
    ) -> Result<Option<MessageOwner>, StoreError>;

    /// When the newest id map row was written (Unix seconds); `None` when
    /// the map is empty.
    fn newest_message_id_at(&mut self) -> Result<Option<i64>, StoreError>;

    /// Deletes up to `limit` id map rows older than `ttl`; returns how many.
    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError>;

    // --- the console's counts ---------------------------------------------

    /// Consent rows per campaign and status (active, pending, refused).
    fn consent_counts(&mut self) -> Result<Vec<(String, ConsentStatus, u64)>, StoreError>;

    /// Held messages per campaign.
    fn held_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Consent changes to active (opt-ins) and to refused (opt-outs)
    /// recorded at or after `from_ms`, per campaign and UTC day. Reads only
    /// that window, however long the history.
    fn consent_changes_since(&mut self, from_ms: i64) -> Result<Vec<ChangeCount>, StoreError>;

    // --- health ----------------------------------------------------------

    /// A small write (a row in `meta`) proving the database takes writes.
    fn touch(&mut self) -> Result<(), StoreError>;

    // --- compliance (issue 17) -------------------------------------------

    /// Records when the MO behind outbox row `id` reached optgate (ms).
    /// No such row: nothing happens.
    fn outbox_received(&mut self, id: i64, at_ms: i64) -> Result<(), StoreError>;

    /// When the MO behind outbox row `id` reached optgate; `None` when not
    /// recorded or there is no such row.
    fn outbox_received_at(&mut self, id: i64) -> Result<Option<i64>, StoreError>;

    /// Events of `kind` with id greater than `after_id`, in insertion
    /// order, at most `limit`.
    fn events_of_kind(
        &mut self,
        kind: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError>;

    /// One event by id (`None` when there is none).
    fn event(&mut self, id: i64) -> Result<Option<EventRow>, StoreError>;

    /// How far webhook `url` has read the events (`None`: never).
    fn webhook_cursor(&mut self, url: &str) -> Result<Option<i64>, StoreError>;

    /// Sets how far webhook `url` has read the events.
    fn set_webhook_cursor(&mut self, url: &str, last_event: i64) -> Result<(), StoreError>;

    /// The newest event id (0 when there is none).
    fn last_event_id(&mut self) -> Result<i64, StoreError>;

    /// Events with id greater than `after_id`, in insertion order, at most `limit`.
    fn events_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<EventRow>, StoreError>;

    /// Queues one change for webhook `url`, due now; returns its id (increasing).
    fn webhook_push(
        &mut self,
        url: &str,
        event_id: i64,
        recipient: &str,
        body: &str,
    ) -> Result<i64, StoreError>;

    /// Up to `limit` queued changes of webhook `url`, due or not, in id order.
    fn webhook_pending(&mut self, url: &str, limit: u32) -> Result<Vec<WebhookRow>, StoreError>;

    /// Removes a delivered (or given up) change.
    fn webhook_done(&mut self, id: i64) -> Result<(), StoreError>;

    /// Counts a failed attempt of a change and sets when it is due again (ms).
    fn webhook_retry(&mut self, id: i64, next_at: i64) -> Result<(), StoreError>;

    /// Deletes up to `limit` of the oldest events stamped before `before_ms`; returns how many.
    fn purge_events(&mut self, before_ms: i64, limit: u32) -> Result<usize, StoreError>;

    /// Deletes up to `limit` of the oldest stored deliveries created before
    /// `before_secs` (Unix seconds); returns how many.
    fn purge_deliveries(&mut self, before_secs: i64, limit: u32) -> Result<usize, StoreError>;

    // --- quiet hours (issue 17) ------------------------------------------

    /// Marks every PDU of held message `group_id` as waiting for quiet
    /// hours to end at `until_ms` (a quiet hold; 0 is a consent hold).
    fn set_held_quiet(&mut self, group_id: i64, until_ms: i64) -> Result<(), StoreError>;

    /// Moves the quiet holds of `key` to `until_ms`; with `all`, its
    /// consent holds too (an opted-in key found in quiet hours).
    fn defer_held(&mut self, key: &Key, until_ms: i64, all: bool) -> Result<(), StoreError>;

    /// Up to `limit` distinct keys with a quiet hold due at `now_ms`.
    fn due_quiet_keys(&mut self, now_ms: i64, limit: u32) -> Result<Vec<Key>, StoreError>;

    /// Removes and returns the quiet holds of `key`, in the order held.
    fn take_quiet(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError>;
}
