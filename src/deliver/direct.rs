//! The direct path (see [`super`]): a receipt or plain MO handed to a
//! platform session without a store row, the guard that keeps it from
//! overtaking store writes on their way, and the adoption of a slow direct
//! delivery's stored copy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::warn;

use super::{DispatchMsg, Dispatcher, Task, SESSION_WINDOW};
use crate::pdu::Pdu;
use crate::route::ToPlatform;

pub use crate::route::Direct;

/// Counts one store write of an account's delivery from its queueing until
/// its row was handed to the dispatcher (or failed): dropped, it counts off.
#[derive(Debug)]
pub struct Storing(Arc<AtomicUsize>);

impl Drop for Storing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Dispatcher {
    /// Marks a store write of one of this account's deliveries as queued;
    /// keep the guard until its row was handed over with [`Self::try_send`].
    pub fn storing(&self) -> Storing {
        self.storing.fetch_add(1, Ordering::AcqRel);
        Storing(self.storing.clone())
    }

    /// Hands over a stored row whose direct delivery is still open
    /// ([`DispatchMsg::Adopt`]); waits for room like [`Self::send`].
    pub async fn adopt(&self, id: u64, pdu: Pdu, done: oneshot::Receiver<Direct>) {
        self.send(DispatchMsg::Adopt { id, pdu, done }).await;
    }

    /// Offers a message for the direct path, as the bytes the platform
    /// is to get (`frame`, whose sequence number the session sets). `None`:
    /// not taken (store writes
    /// are on their way, which it must not overtake, or the task's queue is
    /// full); else the answer comes on the receiver, from the session that
    /// delivered it (a dropped sender: the session ended, or shutdown, means
    /// [`Direct::Fallback`]).
    pub fn try_direct(&self, frame: Bytes) -> Option<oneshot::Receiver<Direct>> {
        if self.storing.load(Ordering::Acquire) != 0
            || self.missed.load(Ordering::Acquire) != u64::MAX
        {
            return None;
        }
        let (done, rx) = oneshot::channel();
        self.tx.try_send(DispatchMsg::Direct { frame, done }).ok()?;
        Some(rx)
    }
}

impl Task {
    /// Row `id`, stored after its direct delivery was sent: settled by the
    /// platform's answer, now if it came (or the session is gone), else
    /// when it comes ([`DispatchMsg::Settle`]). Meanwhile the row is in
    /// flight, so a page read does not deliver it a second time.
    pub(super) fn adopt(&mut self, id: u64, pdu: Pdu, mut done: oneshot::Receiver<Direct>) {
        use oneshot::error::TryRecvError;
        match done.try_recv() {
            Ok(how) => self.settle_adopted(id, pdu, how),
            Err(TryRecvError::Closed) => self.settle_adopted(id, pdu, Direct::Fallback),
            Err(TryRecvError::Empty) => {
                self.inflight.insert(id);
                let me = self.me.clone();
                // Rare (a platform slower than direct_delivery_wait): a
                // task of its own rather than a future in every turn.
                tokio::spawn(async move {
                    let how = done.await.unwrap_or(Direct::Fallback);
                    if let Some(tx) = me.upgrade() {
                        let _ = tx.send(DispatchMsg::Settle { id, pdu, how }).await;
                    }
                });
            }
        }
    }

    /// A stored row whose direct delivery ended `how` (the session counted
    /// it delivered).
    pub(super) fn settle_adopted(&mut self, id: u64, pdu: Pdu, how: Direct) {
        self.inflight.remove(&id);
        match how {
            Direct::Delivered => self.delivered(id),
            Direct::Refused(_) => {
                warn!(account = %self.account, id, "platform rejected a delivery permanently; dropped");
                self.delivered(id);
            }
            // Back in the queue in its place (as rows a session returns).
            Direct::Fallback => {
                self.queue.insert(id, pdu);
            }
        }
    }

    /// The direct path: to a session with room now, if nothing of this
    /// account waits ahead of it; else the sender is told to store it.
    pub(super) fn direct(&mut self, frame: Bytes, done: oneshot::Sender<Direct>) {
        let clear = self.owner
            && !self.backlog
            && self.queue.is_empty()
            && self.deferred.is_empty()
            && self.missed.load(Ordering::Acquire) == u64::MAX;
        if !clear {
            let _ = done.send(Direct::Fallback);
            return;
        }
        let mut offer = Some((frame, done));
        let n = self.sessions.len();
        for i in 0..n {
            let idx = (self.rr + i) % n;
            let slot = &self.sessions[idx];
            if slot.window.used() >= SESSION_WINDOW {
                continue;
            }
            let Some((frame, done)) = offer.take() else {
                return;
            };
            match slot.tx.try_send(ToPlatform::Direct { frame, done }) {
                Ok(()) => {
                    slot.window.take();
                    self.rr = idx + 1;
                    return;
                }
                Err(e) => {
                    if let ToPlatform::Direct { frame, done } = e.into_inner() {
                        offer = Some((frame, done));
                    }
                }
            }
        }
        if let Some((_, done)) = offer {
            let _ = done.send(Direct::Fallback);
        }
    }
}
