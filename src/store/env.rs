//! [`TxnEnv`]: what a [`super::Store::transact`] closure works with — the
//! backend's [`StoreTxn`] plus what the daemon adds around it (the consent
//! cache told of every consent write, `max_stored_deliveries`, the running
//! count of stored deliveries). Split from `txn.rs` (the interface itself).

use std::time::Duration;

use super::cache::ConsentCache;
use super::consent::{
    ChangeCount, ConsentFilter, ConsentRow, Event, EventRow, Flag, HeldRow, Key, NewHeld,
    OutboxRow, WebhookRow,
};
use super::txn::StoreTxn;
use super::{DeliveryKind, MessageOwner, StoreError, StoredDelivery};
use crate::policy::ConsentStatus;

/// What a [`super::Store::transact`] closure gets: the [`StoreTxn`] of its
/// savepoint, plus the consent cache and the bound on stored deliveries.
///
/// It implements [`StoreTxn`] by forwarding each call (one dynamic call per
/// statement, on the store thread), and adds what the daemon needs around
/// the plain operations: consent writes are remembered so the cache drops
/// their keys before the work is answered; `insert_delivery` respects
/// `max_stored_deliveries` ([`StoreError::Full`]) and is counted.
pub struct TxnEnv<'a> {
    pub(super) txn: &'a mut dyn StoreTxn,
    pub(super) cache: &'a ConsentCache,
    /// Consent keys this work wrote (drained by the store thread).
    pub(super) written: &'a mut Vec<Key>,
    /// Stored deliveries as of the start of this work.
    pub(super) stored: u64,
    pub(super) limit: u64,
    /// Deliveries this work added (minus those it deleted).
    pub(super) added: &'a mut i64,
    /// The cache's invalidation epoch before this work read anything.
    pub(super) epoch: u64,
}

impl TxnEnv<'_> {
    /// Offers a consent row this work read to the consent cache (ignored
    /// when this work wrote that key: its state is not read back, and a
    /// rolled-back write must not linger).
    pub fn fill_consent(&self, row: &ConsentRow) {
        if !self.written.iter().any(|k| k == &row.key) {
            self.cache.put_if(row, self.epoch);
        }
    }

    /// Stores an MO or receipt for delivery within this work, respecting
    /// `max_stored_deliveries` (same as [`StoreTxn::insert_delivery`] here).
    pub fn enqueue_delivery(
        &mut self,
        account: &str,
        kind: DeliveryKind,
        pdu: &[u8],
    ) -> Result<u64, StoreError> {
        self.insert_delivery(account, kind, pdu)
    }
}

impl StoreTxn for TxnEnv<'_> {
    fn consent(&mut self, key: &Key) -> Result<ConsentRow, StoreError> {
        self.txn.consent(key)
    }

    fn set_status(
        &mut self,
        key: &Key,
        status: ConsentStatus,
        source: &str,
        message_ids: &str,
    ) -> Result<ConsentStatus, StoreError> {
        let old = self.txn.set_status(key, status, source, message_ids);
        // Unchanged: nothing was written and the key may stay cached. An
        // error may have written half: the key is dropped then too.
        if !matches!(old, Ok(o) if o == status) {
            self.written.push(key.clone());
        }
        old
    }

    fn set_updated_at(&mut self, key: &Key, at_ms: i64) -> Result<(), StoreError> {
        self.written.push(key.clone());
        self.txn.set_updated_at(key, at_ms)
    }

    fn mark(&mut self, key: &Key, flag: Flag) -> Result<(), StoreError> {
        self.written.push(key.clone());
        self.txn.mark(key, flag)
    }

    fn list_consent(
        &mut self,
        filter: &ConsentFilter,
        after: Option<&Key>,
        limit: u32,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        self.txn.list_consent(filter, after, limit)
    }

    fn insert_event(&mut self, event: &Event) -> Result<(), StoreError> {
        self.txn.insert_event(event)
    }

    fn list_events(
        &mut self,
        recipient: Option<&str>,
        since_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.txn.list_events(recipient, since_ms, limit)
    }

    fn hold(&mut self, held: &NewHeld<'_>) -> Result<i64, StoreError> {
        self.txn.hold(held)
    }

    fn held_count(&mut self, key: &Key) -> Result<u32, StoreError> {
        self.txn.held_count(key)
    }

    fn take_held(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
        self.txn.take_held(key)
    }

    fn take_expired(&mut self, now_ms: i64, limit: u32) -> Result<Vec<HeldRow>, StoreError> {
        self.txn.take_expired(now_ms, limit)
    }

    fn held_group(&mut self, group_id: i64) -> Result<Vec<HeldRow>, StoreError> {
        self.txn.held_group(group_id)
    }

    fn delete_held_group(&mut self, group_id: i64) -> Result<usize, StoreError> {
        self.txn.delete_held_group(group_id)
    }

    fn replace_held(
        &mut self,
        id: i64,
        pdu: &[u8],
        registered_delivery: u8,
    ) -> Result<bool, StoreError> {
        self.txn.replace_held(id, pdu, registered_delivery)
    }

    fn list_held(
        &mut self,
        recipient: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HeldRow>, StoreError> {
        self.txn.list_held(recipient, limit)
    }

    fn count_held(&mut self) -> Result<u64, StoreError> {
        self.txn.count_held()
    }

    fn settled_held_keys(&mut self, limit: u32) -> Result<Vec<(Key, ConsentStatus)>, StoreError> {
        self.txn.settled_held_keys(limit)
    }

    fn outbox_push(
        &mut self,
        kind: &str,
        key: &Key,
        account: &str,
        optgate_id: Option<&str>,
        pdu: &[u8],
    ) -> Result<i64, StoreError> {
        self.txn.outbox_push(kind, key, account, optgate_id, pdu)
    }

    fn outbox_pending(&mut self, from_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        self.txn.outbox_pending(from_id, limit)
    }

    fn outbox_done(&mut self, id: i64) -> Result<(), StoreError> {
        self.txn.outbox_done(id)
    }

    fn outbox_attempted(&mut self, id: i64) -> Result<(), StoreError> {
        self.txn.outbox_attempted(id)
    }

    fn outbox_handed(&mut self, id: i64, at: Option<i64>) -> Result<(), StoreError> {
        self.txn.outbox_handed(id, at)
    }

    fn insert_delivery(
        &mut self,
        account: &str,
        kind: DeliveryKind,
        pdu: &[u8],
    ) -> Result<u64, StoreError> {
        let now = self.stored.saturating_add_signed(*self.added);
        if now >= self.limit {
            return Err(StoreError::Full { limit: self.limit });
        }
        let id = self.txn.insert_delivery(account, kind, pdu)?;
        *self.added += 1;
        Ok(id)
    }

    fn pending_deliveries(
        &mut self,
        account: &str,
        from_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        self.txn.pending_deliveries(account, from_id, limit)
    }

    fn delete_delivery(&mut self, id: u64) -> Result<bool, StoreError> {
        let gone = self.txn.delete_delivery(id)?;
        if gone {
            *self.added -= 1;
        }
        Ok(gone)
    }

    fn count_deliveries(&mut self) -> Result<u64, StoreError> {
        // The running count, as the store thread's own Count request gives.
        Ok(self.stored.saturating_add_signed(*self.added))
    }

    fn map_message_id(
        &mut self,
        carrier_id: &str,
        account: &str,
        optgate_id: Option<&str>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.txn
            .map_message_id(carrier_id, account, optgate_id, ttl)
    }

    fn lookup_message_id(
        &mut self,
        carrier_id: &str,
        ttl: Duration,
    ) -> Result<Option<MessageOwner>, StoreError> {
        self.txn.lookup_message_id(carrier_id, ttl)
    }

    fn newest_message_id_at(&mut self) -> Result<Option<i64>, StoreError> {
        self.txn.newest_message_id_at()
    }

    fn purge_message_ids(&mut self, ttl: Duration, limit: u32) -> Result<usize, StoreError> {
        self.txn.purge_message_ids(ttl, limit)
    }

    fn consent_counts(&mut self) -> Result<Vec<(String, ConsentStatus, u64)>, StoreError> {
        self.txn.consent_counts()
    }

    fn held_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.txn.held_counts()
    }

    fn consent_changes_since(&mut self, from_ms: i64) -> Result<Vec<ChangeCount>, StoreError> {
        self.txn.consent_changes_since(from_ms)
    }

    fn touch(&mut self) -> Result<(), StoreError> {
        self.txn.touch()
    }

    fn outbox_received(&mut self, id: i64, at_ms: i64) -> Result<(), StoreError> {
        self.txn.outbox_received(id, at_ms)
    }

    fn outbox_received_at(&mut self, id: i64) -> Result<Option<i64>, StoreError> {
        self.txn.outbox_received_at(id)
    }

    fn events_of_kind(
        &mut self,
        kind: &str,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.txn.events_of_kind(kind, after_id, limit)
    }

    fn event(&mut self, id: i64) -> Result<Option<EventRow>, StoreError> {
        self.txn.event(id)
    }

    fn webhook_cursor(&mut self, url: &str) -> Result<Option<i64>, StoreError> {
        self.txn.webhook_cursor(url)
    }

    fn set_webhook_cursor(&mut self, url: &str, last_event: i64) -> Result<(), StoreError> {
        self.txn.set_webhook_cursor(url, last_event)
    }

    fn last_event_id(&mut self) -> Result<i64, StoreError> {
        self.txn.last_event_id()
    }

    fn events_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        self.txn.events_after(after_id, limit)
    }

    fn webhook_push(
        &mut self,
        url: &str,
        event_id: i64,
        recipient: &str,
        body: &str,
    ) -> Result<i64, StoreError> {
        self.txn.webhook_push(url, event_id, recipient, body)
    }

    fn webhook_pending(&mut self, url: &str, limit: u32) -> Result<Vec<WebhookRow>, StoreError> {
        self.txn.webhook_pending(url, limit)
    }

    fn webhook_done(&mut self, id: i64) -> Result<(), StoreError> {
        self.txn.webhook_done(id)
    }

    fn webhook_retry(&mut self, id: i64, next_at: i64) -> Result<(), StoreError> {
        self.txn.webhook_retry(id, next_at)
    }

    fn purge_events(&mut self, before_ms: i64, limit: u32) -> Result<usize, StoreError> {
        self.txn.purge_events(before_ms, limit)
    }

    fn purge_deliveries(&mut self, before_secs: i64, limit: u32) -> Result<usize, StoreError> {
        let n = self.txn.purge_deliveries(before_secs, limit)?;
        // The running count of stored deliveries follows.
        *self.added -= i64::try_from(n).unwrap_or(0);
        Ok(n)
    }

    fn set_held_quiet(&mut self, group_id: i64, until_ms: i64) -> Result<(), StoreError> {
        self.txn.set_held_quiet(group_id, until_ms)
    }

    fn defer_held(&mut self, key: &Key, until_ms: i64, all: bool) -> Result<(), StoreError> {
        self.txn.defer_held(key, until_ms, all)
    }

    fn due_quiet_keys(&mut self, now_ms: i64, limit: u32) -> Result<Vec<Key>, StoreError> {
        self.txn.due_quiet_keys(now_ms, limit)
    }

    fn take_quiet(&mut self, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
        self.txn.take_quiet(key)
    }
}
