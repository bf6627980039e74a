//! The dispatcher's stored rows (see [`super`]): taking them into memory
//! or paging them in from the store, the claim that says which instance
//! delivers an account (several instances on PostgreSQL), and deleting the
//! rows the platform acknowledged.

use std::time::Duration;

use tracing::{debug, warn};

use super::{Task, CLAIM_CHECK, MEMORY_CAP, OWNER_REREAD, PAGE, RECENT_CAP};
use crate::pdu::Pdu;

impl Task {
    /// With several instances: takes the account's claim while platforms
    /// are bound here (every [`CLAIM_CHECK`] while another instance holds
    /// it, at once when told it was released), gives it up when the last
    /// one leaves, and reads the store again from the start whenever rows
    /// may have come from elsewhere (ids of other instances' rows are not in
    /// commit order, so no cursor is trusted) and every [`OWNER_REREAD`].
    pub(super) async fn claim_step(&mut self) {
        let Some(claims) = self.store.claims().cloned() else {
            return;
        };
        let now = tokio::time::Instant::now();
        let due = now >= self.next_check;
        let elsewhere = std::mem::take(&mut self.elsewhere);
        if self.sessions.is_empty() {
            if self.owner {
                self.owner = false;
                claims.release(&self.claim);
                debug!(account = %self.account, "delivery claim released");
            }
            return;
        }
        if !self.owner && (due || elsewhere) {
            self.owner = claims.claim(&self.claim).await;
            self.next_check = now + CLAIM_CHECK;
            if self.owner {
                debug!(account = %self.account, "delivery claim taken");
                self.page_from(0);
            }
        } else if self.owner && (due || elsewhere) {
            if due {
                self.next_check = now + OWNER_REREAD;
                // Still ours? (A lost database session loses the claim; the
                // keeper takes it again only if nobody else did meanwhile.)
                self.owner = claims.claim(&self.claim).await;
            }
            if self.owner {
                self.page_from(0);
            }
        }
    }

    pub(super) fn enqueue(&mut self, id: u64, pdu: Pdu) {
        // Another instance delivers this account: the row is in the store,
        // and read from there if this instance takes the claim.
        if !self.owner {
            return;
        }
        if id < self.cursor {
            return; // already loaded from the store
        }
        if self.queue.len() >= MEMORY_CAP {
            // The row is safe in the store; page it in later.
            self.page_from(id);
            return;
        }
        self.queue.insert(id, pdu);
    }

    /// Rows from `id` on may be in the store only: read them from there.
    /// Queued rows at or above the cursor are dropped from memory (they are
    /// in the store and come back, in order, with the pages): otherwise a
    /// full queue of rows the cursor has not reached could neither be
    /// delivered (order) nor make room for a page, and delivery would stall.
    pub(super) fn page_from(&mut self, id: u64) {
        self.backlog = true;
        self.cursor = self.cursor.min(id);
        drop(self.queue.split_off(&self.cursor));
    }

    pub(super) fn delivered(&mut self, id: u64) {
        if self.recent.insert(id) {
            self.recent_order.push_back(id);
            if self.recent_order.len() > RECENT_CAP {
                if let Some(old) = self.recent_order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
        // Deleted after this turn, with the others delivered in it.
        self.acks.push(id);
        metrics::gauge!("optgate_stored_deliveries").decrement(1.0);
    }

    /// Deletes the rows delivered this turn: one tracked task per turn (not
    /// per row), their deletes queued together so the store commits them as
    /// one batch. Not on the delivery path: a crash before the commit only
    /// means those rows are delivered once more after restart.
    pub(super) fn delete_delivered(&mut self) {
        if self.acks.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.acks);
        let store = self.store.clone();
        self.tasks.spawn(async move {
            let acks = ids.iter().map(|&id| store.ack_delivery(id));
            for (id, r) in ids.iter().zip(futures_util::future::join_all(acks).await) {
                if let Err(e) = r {
                    warn!(id, error = %e, "could not delete a delivered row; it will be redelivered");
                }
            }
        });
    }

    pub(super) async fn load_page(&mut self) {
        match self
            .store
            .pending_deliveries_from(self.account.to_string(), self.cursor, PAGE as u32)
            .await
        {
            Ok(rows) => {
                let n = rows.len();
                for row in rows {
                    let id = row.id;
                    self.cursor = self.cursor.max(id + 1);
                    // Already with a session, waiting for a retry, or just
                    // delivered (its delete not committed yet): not again.
                    if self.inflight.contains(&id)
                        || self.recent.contains(&id)
                        || self.deferred.iter().any(|d| d.1 == id)
                    {
                        continue;
                    }
                    match Pdu::decode(bytes::Bytes::from(row.pdu)) {
                        Ok(pdu) => {
                            self.queue.insert(id, pdu);
                        }
                        Err(e) => {
                            warn!(account = %self.account, id, error = %e, "stored delivery unreadable; dropped");
                            self.delivered(id);
                        }
                    }
                }
                if n < PAGE {
                    self.backlog = false;
                }
            }
            Err(e) => {
                warn!(account = %self.account, error = %e, "reading stored deliveries failed");
                // With several instances the queue may have been dropped for
                // this read: try again soon rather than at the next message.
                let soon = tokio::time::Instant::now() + Duration::from_millis(200);
                self.next_check = self.next_check.min(soon);
            }
        }
    }
}
