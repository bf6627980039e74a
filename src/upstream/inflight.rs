//! What a carrier bind keeps per request in flight and per carrier delivery
//! waiting for its commit.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::warn;

use super::Commit;
use crate::pdu::{status, Body, Pdu, Text};
use crate::route::ReplyTo;

/// A request waiting for the carrier's answer.
pub(super) struct InFlight {
    pub orig_seq: u32,
    pub reply: Arc<ReplyTo>,
    pub optgate_id: Option<Arc<str>>,
    pub unsuccess: Vec<crate::pdu::UnsuccessSme>,
    pub command_id: u32,
    /// The request asked for receipts, so its message id is reported.
    pub wants_receipt: bool,
    /// Its receipts need the id map ([`crate::route::UpRequest::id_map`]).
    pub id_map: bool,
    /// When optgate received the request from the platform, for
    /// `optgate_added_latency_seconds`.
    pub received: Instant,
    pub sent: Instant,
    pub deadline: Instant,
}

/// Requests in flight by the sequence number optgate gave them (foldhash:
/// the keys are our own counter, so no hash flooding to defend against).
pub(super) type InFlightMap = HashMap<u32, InFlight, foldhash::fast::RandomState>;

/// Answers every request whose deadline passed with a temporary error.
pub(super) fn expire(inflight: &mut InFlightMap, now: Instant) {
    let late: Vec<u32> = inflight
        .iter()
        .filter(|(_, e)| e.deadline <= now)
        .map(|(k, _)| *k)
        .collect();
    for seq in late {
        if let Some(e) = inflight.remove(&seq) {
            warn!(seq, "carrier response timeout");
            e.reply
                .refuse(e.command_id, status::ESME_RSYSERR, e.orig_seq);
        }
    }
}

/// Answers every outstanding request with `code` (the connection is gone).
pub(super) fn fail_all(inflight: &mut InFlightMap, code: u32) {
    for (_, e) in inflight.drain() {
        e.reply.refuse(e.command_id, code, e.orig_seq);
    }
}

/// Carrier message id out of a submit_sm_resp / data_sm_resp.
pub(super) fn message_id_of(pdu: &Pdu) -> Option<Text> {
    match &pdu.body {
        Body::SubmitSmResp(r) => r.message_id.clone().filter(|m| !m.is_empty()),
        Body::DataSmResp(r) => r.message_id.clone().filter(|m| !m.is_empty()),
        _ => None,
    }
}

/// A carrier delivery waiting for its commit, which resolves to the status
/// the carrier is answered with (kept in an [`OwedQueue`], so answers go
/// out in order).
pub(super) struct Owed {
    commit: Commit,
    /// The commit's outcome, once known.
    code: Option<u32>,
    sequence_number: u32,
    command_id: u32,
}

impl Owed {
    /// The answer to request `command_id` / `sequence_number` waits for `commit`.
    pub fn new(commit: Commit, sequence_number: u32, command_id: u32) -> Owed {
        Owed {
            commit,
            code: None,
            sequence_number,
            command_id,
        }
    }

    /// Drives the commit; its outcome is kept, so this may be called again.
    fn poll_code(&mut self, cx: &mut Context<'_>) -> Poll<u32> {
        if let Some(code) = self.code {
            return Poll::Ready(code);
        }
        let code = std::task::ready!(self.commit.as_mut().poll(cx));
        self.code = Some(code);
        Poll::Ready(code)
    }
}

/// The deliveries a bind owes the carrier an answer for, in the order they
/// came. Each loop turn polls only the oldest, with the bind task's own
/// waker: the answers go out in order anyway, so a later commit that
/// finished first has nothing to gain from being noticed early. That spares
/// each delivery the waker, the task allocation and the wake-up of its own
/// that a `FuturesOrdered` gives every future, and a direct delivery
/// answered before it reaches the front never arms its timeout (`Timeout`
/// polls the wait before the timer). The others are polled by
/// [`OwedQueue::sweep`] on the bind's timer, so work a commit does itself
/// (a store write after a direct delivery was not taken, the hand-over of
/// a committed row to its dispatcher) waits at most one tick for the
/// deliveries ahead of it. A deadline in a commit is fixed when it is made,
/// not at its first poll.
#[derive(Default)]
pub(super) struct OwedQueue(VecDeque<Owed>);

impl OwedQueue {
    pub fn push_back(&mut self, owed: Owed) {
        self.0.push_back(owed);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Polls every delivery behind the oldest once, keeping what finished.
    pub fn sweep(&mut self, cx: &mut Context<'_>) {
        for owed in self.0.iter_mut().skip(1) {
            let _ = owed.poll_code(cx);
        }
    }
}

impl futures_util::Stream for OwedQueue {
    type Item = Pdu;

    /// The oldest delivery's answer once its commit is done; `None` when
    /// nothing is owed.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Pdu>> {
        let Some(front) = self.0.front_mut() else {
            return Poll::Ready(None);
        };
        let code = std::task::ready!(front.poll_code(cx));
        let (id, seq) = (front.command_id, front.sequence_number);
        self.0.pop_front();
        Poll::Ready(Some(crate::route::answer(id, code, seq)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::command as cmd;
    use futures_util::StreamExt;
    use tokio::sync::oneshot;

    /// A commit that resolves to what `rx` is sent.
    fn commit(rx: oneshot::Receiver<u32>) -> Commit {
        Box::pin(async move { rx.await.unwrap_or(status::ESME_RX_T_APPN) })
    }

    #[tokio::test]
    async fn answers_go_out_in_delivery_order_whatever_order_commits_finish() {
        let (first_tx, first_rx) = oneshot::channel();
        let (second_tx, second_rx) = oneshot::channel();
        let mut owed = OwedQueue::default();
        owed.push_back(Owed::new(commit(first_rx), 7, cmd::DELIVER_SM));
        owed.push_back(Owed::new(commit(second_rx), 8, cmd::DATA_SM));
        // The second commit finishes first: nothing may be answered yet.
        second_tx.send(status::ESME_RMSGQFUL).unwrap();
        assert!(futures_util::FutureExt::now_or_never(owed.next()).is_none());
        first_tx.send(status::ESME_ROK).unwrap();
        let a = owed.next().await.unwrap();
        let b = owed.next().await.unwrap();
        assert_eq!(
            (a.command_id(), a.sequence_number, a.command_status),
            (cmd::DELIVER_SM_RESP, 7, status::ESME_ROK)
        );
        assert_eq!(
            (b.command_id(), b.sequence_number, b.command_status),
            (cmd::DATA_SM_RESP, 8, status::ESME_RMSGQFUL)
        );
        assert!(owed.is_empty());
    }

    /// Only the oldest is polled per turn; the sweep drives the others, so
    /// the work a later commit does itself is not held up by the first.
    #[tokio::test]
    async fn the_sweep_drives_commits_behind_the_oldest() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (_first_tx, first_rx) = oneshot::channel::<u32>();
        let (second_tx, second_rx) = oneshot::channel::<u32>();
        let worked = Arc::new(AtomicUsize::new(0));
        let w = worked.clone();
        let mut owed = OwedQueue::default();
        owed.push_back(Owed::new(commit(first_rx), 1, cmd::DELIVER_SM));
        owed.push_back(Owed::new(
            Box::pin(async move {
                let code = second_rx.await.unwrap_or(status::ESME_RX_T_APPN);
                // The commit's own work after its wait (a store write, a
                // hand-over to the dispatcher).
                w.fetch_add(1, Ordering::SeqCst);
                code
            }),
            2,
            cmd::DELIVER_SM,
        ));
        second_tx.send(status::ESME_ROK).unwrap();
        assert!(futures_util::FutureExt::now_or_never(owed.next()).is_none());
        assert_eq!(worked.load(Ordering::SeqCst), 0, "only the oldest polled");
        std::future::poll_fn(|cx| {
            owed.sweep(cx);
            std::task::Poll::Ready(())
        })
        .await;
        assert_eq!(worked.load(Ordering::SeqCst), 1, "the sweep drove it");
        // Its outcome is kept (the commit is not polled again once done):
        // it still waits for the first.
        std::future::poll_fn(|cx| {
            owed.sweep(cx);
            std::task::Poll::Ready(())
        })
        .await;
        assert_eq!(worked.load(Ordering::SeqCst), 1);
        assert_eq!(owed.len(), 2);
    }
}
