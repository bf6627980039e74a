//! The direct path (see [`super`]): a receipt or plain MO handed to a
//! platform session without a store row, the guard that keeps it from
//! overtaking store writes on their way, and the adoption of a slow direct
//! delivery's stored copy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::warn;

use super::{DispatchMsg, Dispatcher, Task, SESSION_WINDOW};
use crate::pdu::Pdu;
use crate::route::ToPlatform;

/// How a direct delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// The platform answered `ESME_ROK`.
    Delivered,
    /// The platform refused it for good (`ESME_RX_R_APPN`): the carrier
    /// gets that answer, as from the platform itself.
    Refused(u32),
    /// Not delivered (not taken, a temporary error, the session ended):
    /// store it.
    Fallback,
}

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
    pub async fn adopt(&self, direct: u64, id: u64, pdu: Pdu, done: oneshot::Receiver<Direct>) {
        self.send(DispatchMsg::Adopt {
            direct,
            id,
            pdu,
            done,
        })
        .await;
    }

    /// Offers `pdu` for the direct path. `None`: not taken (store writes
    /// are on their way, which it must not overtake, or the task's queue is
    /// full); else its direct id, and the answer comes on the receiver (a dropped sender, at
    /// shutdown, means [`Direct::Fallback`]).
    pub fn try_direct(&self, pdu: Pdu) -> Option<(u64, oneshot::Receiver<Direct>)> {
        if self.storing.load(Ordering::Acquire) != 0
            || self.missed.load(Ordering::Acquire) != u64::MAX
        {
            return None;
        }
        let id = self.next_direct.fetch_add(1, Ordering::Relaxed);
        let (done, rx) = oneshot::channel();
        self.tx
            .try_send(DispatchMsg::Direct { id, pdu, done })
            .ok()?;
        Some((id, rx))
    }
}

impl Task {
    /// A stored row whose direct delivery ended `how`.
    pub(super) fn settle_adopted(&mut self, id: u64, pdu: Pdu, how: Direct) {
        self.inflight.remove(&id);
        match how {
            Direct::Delivered => {
                metrics::counter!("optgate_deliveries_total", "path" => "direct").increment(1);
                self.delivered(id);
            }
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
    pub(super) fn direct(&mut self, id: u64, pdu: Pdu, done: oneshot::Sender<Direct>) {
        let clear = self.owner
            && !self.backlog
            && self.queue.is_empty()
            && self.deferred.is_empty()
            && self.missed.load(Ordering::Acquire) == u64::MAX;
        if !clear {
            let _ = done.send(Direct::Fallback);
            return;
        }
        let mut pdu = Some(pdu);
        let n = self.sessions.len();
        for i in 0..n {
            let idx = (self.rr + i) % n;
            let slot = &mut self.sessions[idx];
            if slot.inflight >= SESSION_WINDOW {
                continue;
            }
            let Some(p) = pdu.take() else { break };
            match slot.tx.try_send(ToPlatform::Deliver { id, pdu: p }) {
                Ok(()) => {
                    slot.inflight += 1;
                    self.rr = idx + 1;
                    self.direct.insert(id, done);
                    return;
                }
                Err(e) => {
                    if let ToPlatform::Deliver { pdu: p, .. } = e.into_inner() {
                        pdu = Some(p);
                    }
                }
            }
        }
        let _ = done.send(Direct::Fallback);
    }

    /// Tells whoever waits for direct delivery `id` how it ended (nobody,
    /// when the inbound path stopped waiting and stored it already).
    pub(super) fn direct_done(&mut self, id: u64, how: Direct) {
        if let Some((row, pdu)) = self.adopted.remove(&id) {
            return self.settle_adopted(row, pdu, how);
        }
        if let Some(done) = self.direct.remove(&id) {
            if how == Direct::Delivered {
                metrics::counter!("optgate_deliveries_total", "path" => "direct").increment(1);
            }
            let _ = done.send(how);
        }
    }
}
