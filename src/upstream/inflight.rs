//! What a carrier bind keeps per request in flight and per carrier delivery
//! waiting for its commit.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::warn;

use super::Commit;
use crate::pdu::{status, Body, Pdu, SubmitRespHead, Text};
use crate::route::{ReplyTo, UpExtra};

/// A request waiting for the carrier's answer.
pub(super) struct InFlight {
    pub orig_seq: u32,
    pub reply: Arc<ReplyTo>,
    /// The released held message's id, submit_multi's refused destinations.
    pub extra: Option<Box<UpExtra>>,
    pub command_id: u32,
    /// The request asked for receipts, so its message id is reported.
    pub wants_receipt: bool,
    /// Its receipts need the id map ([`crate::route::UpRequest::id_map`]).
    pub id_map: bool,
    /// When optgate received the request from the platform, for
    /// `optgate_added_latency_seconds`.
    pub received: Instant,
    pub sent: Instant,
}

/// Most slots of an [`InFlightMap`]'s ring.
const RING_MAX: usize = 4096;

/// Requests in flight by the sequence number optgate gave them. The
/// numbers are the bind's own counter, one after the other, so a request
/// sits in a ring slot picked by its number's low bits (twice the window,
/// rounded up to a power of two): no hashing or probing per request. One
/// that finds its slot taken (a request many numbers older still
/// unanswered, or a window wider than the ring) goes to a map beside it.
pub(super) struct InFlightMap {
    ring: Vec<Option<(u32, InFlight)>>,
    mask: usize,
    /// foldhash: the keys are our own counter, no flooding to defend against.
    overflow: HashMap<u32, InFlight, foldhash::fast::RandomState>,
    len: usize,
}

impl InFlightMap {
    /// A map for `window` requests in flight.
    pub fn new(window: usize) -> InFlightMap {
        let slots = (window.max(8) * 2).next_power_of_two().min(RING_MAX);
        InFlightMap {
            ring: std::iter::repeat_with(|| None).take(slots).collect(),
            mask: slots - 1,
            overflow: HashMap::default(),
            len: 0,
        }
    }

    fn slot(&self, seq: u32) -> usize {
        seq as usize & self.mask
    }

    pub fn insert(&mut self, seq: u32, entry: InFlight) {
        let i = self.slot(seq);
        self.len += 1;
        match &mut self.ring[i] {
            free @ None => *free = Some((seq, entry)),
            Some((held, _)) if *held == seq => {
                // The same number again (after 2^31 requests): the old one
                // is long dead.
                self.len -= 1;
                self.ring[i] = Some((seq, entry));
            }
            Some(_) => {
                if self.overflow.insert(seq, entry).is_some() {
                    self.len -= 1;
                }
            }
        }
    }

    pub fn remove(&mut self, seq: u32) -> Option<InFlight> {
        let i = self.slot(seq);
        let found = match &self.ring[i] {
            Some((held, _)) if *held == seq => self.ring[i].take().map(|(_, e)| e),
            _ if self.overflow.is_empty() => None,
            _ => self.overflow.remove(&seq),
        };
        if found.is_some() {
            self.len -= 1;
        }
        found
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes out every entry `f` picks, with its sequence number.
    fn take_where(&mut self, mut f: impl FnMut(&InFlight) -> bool) -> Vec<(u32, InFlight)> {
        let mut out = Vec::new();
        for slot in &mut self.ring {
            if slot.as_ref().is_some_and(|(_, e)| f(e)) {
                out.extend(slot.take());
            }
        }
        let late: Vec<u32> = self
            .overflow
            .iter()
            .filter(|(_, e)| f(e))
            .map(|(k, _)| *k)
            .collect();
        for seq in late {
            out.extend(self.overflow.remove(&seq).map(|e| (seq, e)));
        }
        self.len -= out.len();
        out
    }
}

/// Answers every request older than `timeout` with a temporary error.
pub(super) fn expire(inflight: &mut InFlightMap, now: Instant, timeout: Duration) {
    for (seq, e) in inflight.take_where(|e| now.saturating_duration_since(e.sent) >= timeout) {
        warn!(seq, "carrier response timeout");
        e.reply
            .refuse(e.command_id, status::ESME_RSYSERR, e.orig_seq);
    }
}

/// Answers every outstanding request with `code` (the connection is gone).
pub(super) fn fail_all(inflight: &mut InFlightMap, code: u32) {
    for (_, e) in inflight.take_where(|_| true) {
        e.reply.refuse(e.command_id, code, e.orig_seq);
    }
}

/// A carrier's answer, as far as it was read.
#[derive(Debug)]
pub(super) enum Answered {
    /// Decoded whole.
    Pdu(Pdu),
    /// A submit_sm_resp read only as far as its head; the platform gets
    /// the frame as received.
    Head(SubmitRespHead, Bytes),
}

impl Answered {
    pub(super) fn sequence_number(&self) -> u32 {
        match self {
            Answered::Pdu(p) => p.sequence_number,
            Answered::Head(h, _) => h.sequence_number,
        }
    }

    pub(super) fn command_status(&self) -> u32 {
        match self {
            Answered::Pdu(p) => p.command_status,
            Answered::Head(h, _) => h.command_status,
        }
    }

    /// The carrier's message id of a submit_sm_resp / data_sm_resp, when
    /// it gave one.
    pub(super) fn message_id(&self) -> Option<Text> {
        match self {
            Answered::Head(h, _) => h.message_id.clone(),
            Answered::Pdu(pdu) => match &pdu.body {
                Body::SubmitSmResp(r) => r.message_id.clone().filter(|m| !m.is_empty()),
                Body::DataSmResp(r) => r.message_id.clone().filter(|m| !m.is_empty()),
                _ => None,
            },
        }
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

    fn entry(orig_seq: u32, sent: Instant) -> InFlight {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        InFlight {
            orig_seq,
            reply: ReplyTo::new(tx, Arc::from("a")),
            extra: None,
            command_id: cmd::SUBMIT_SM,
            wants_receipt: false,
            id_map: false,
            received: sent,
            sent,
        }
    }

    #[test]
    fn the_ring_keeps_every_request_also_when_slots_collide() {
        let now = Instant::now();
        let mut m = InFlightMap::new(4);
        let slots = m.ring.len() as u32;
        assert_eq!(slots, 16);
        // Two windows' worth of numbers, one left unanswered: the request
        // a ring's length later finds its slot taken and goes beside it.
        for seq in 2..2 + slots {
            m.insert(seq, entry(seq, now));
        }
        for seq in 3..2 + slots {
            assert_eq!(m.remove(seq).map(|e| e.orig_seq), Some(seq));
        }
        m.insert(2 + slots, entry(100, now));
        assert_eq!((m.len(), m.overflow.len()), (2, 1));
        assert!(m.remove(2 + 2 * slots).is_none(), "never sent");
        assert_eq!(m.remove(2 + slots).map(|e| e.orig_seq), Some(100));
        assert_eq!(m.remove(2).map(|e| e.orig_seq), Some(2));
        assert!(m.remove(2).is_none(), "answered once");
        assert!(m.is_empty());
    }

    #[test]
    fn expiry_takes_only_the_late_ones_from_ring_and_overflow() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(10);
        let mut m = InFlightMap::new(4);
        m.insert(1, entry(1, t0));
        m.insert(17, entry(17, t0)); // slot of 1: beside the ring
        m.insert(2, entry(2, later));
        m.insert(18, entry(18, later));
        let late =
            m.take_where(|e| later.saturating_duration_since(e.sent) >= Duration::from_secs(5));
        let mut seqs: Vec<u32> = late.iter().map(|(s, _)| *s).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, vec![1, 17]);
        assert_eq!(m.len(), 2);
        assert!(m.remove(2).is_some() && m.remove(18).is_some());
        assert!(m.is_empty());
    }

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
