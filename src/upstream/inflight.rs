//! What a carrier bind keeps per request in flight and per carrier delivery
//! waiting for its commit.

use std::collections::HashMap;
use std::future::Future;
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

/// A carrier delivery waiting for its commit; resolves to the answer the
/// carrier gets (kept in a `FuturesOrdered`, so answers go out in order).
pub(super) struct Owed {
    pub commit: Commit,
    pub sequence_number: u32,
    pub command_id: u32,
}

impl Future for Owed {
    type Output = Pdu;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Pdu> {
        let (id, seq) = (self.command_id, self.sequence_number);
        self.commit
            .as_mut()
            .poll(cx)
            .map(|code| crate::route::answer(id, code, seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::command as cmd;
    use futures_util::stream::FuturesOrdered;
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
        let mut owed = FuturesOrdered::new();
        owed.push_back(Owed {
            commit: commit(first_rx),
            sequence_number: 7,
            command_id: cmd::DELIVER_SM,
        });
        owed.push_back(Owed {
            commit: commit(second_rx),
            sequence_number: 8,
            command_id: cmd::DATA_SM,
        });
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
}
