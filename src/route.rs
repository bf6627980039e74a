//! The messages that flow between tasks. Every channel carrying them is bounded.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use bytes::Bytes;

use crate::pdu::{peek_header, Body, Pdu, Text};

/// Work for a platform session's writer.
#[derive(Debug)]
pub enum ToPlatform {
    /// The answer to one of this session's requests.
    Response(Answer),
    /// Several answers, in the order the carrier gave them: what one turn
    /// of a carrier bind collected for this session (one queue slot and one
    /// wake-up instead of one per answer).
    Responses(Vec<Answer>),
    /// A stored MO or receipt (row `id`) to hand over. The session gives it
    /// a sequence number and reports the platform's answer to the account's
    /// dispatcher.
    Deliver { id: u64, pdu: Pdu },
    /// An MO or receipt on the direct path (see [`crate::deliver`]), as the
    /// bytes the carrier sent (or the rewritten receipt's): written under
    /// the session's own sequence number; the platform's answer goes
    /// straight to whoever waits on `done`.
    Direct {
        frame: Bytes,
        done: oneshot::Sender<Direct>,
    },
}

/// The answer to one of a session's requests, under the platform's own
/// sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Optgate's own answer, or the carrier's as optgate changed it (a
    /// submit_multi_resp's refused destinations): encoded by the session.
    Pdu(Pdu),
    /// The carrier's answer as received (a submit_sm_resp, see
    /// [`crate::pdu::SubmitRespHead`]): written under `sequence_number`
    /// (see [`crate::codec::Reseq`]), never decoded or encoded again.
    Frame {
        /// The whole frame, header included.
        frame: Bytes,
        /// The platform's sequence number.
        sequence_number: u32,
    },
}

impl Answer {
    /// The platform's sequence number.
    pub fn sequence_number(&self) -> u32 {
        match self {
            Answer::Pdu(p) => p.sequence_number,
            Answer::Frame {
                sequence_number, ..
            } => *sequence_number,
        }
    }

    /// The command_status.
    pub fn command_status(&self) -> u32 {
        match self {
            Answer::Pdu(p) => p.command_status,
            Answer::Frame { frame, .. } => peek_header(frame).map_or(0, |h| h.command_status),
        }
    }
}

impl From<Pdu> for Answer {
    fn from(pdu: Pdu) -> Answer {
        Answer::Pdu(pdu)
    }
}

/// How a direct delivery ended (see [`crate::deliver`]).
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

impl Direct {
    /// What the platform's answer `code` means for a direct delivery.
    pub fn from_status(code: u32) -> Direct {
        match code {
            crate::pdu::status::ESME_ROK => Direct::Delivered,
            crate::pdu::status::ESME_RX_R_APPN => Direct::Refused(code),
            _ => Direct::Fallback,
        }
    }
}

/// Where the answers to a platform session's requests go, and whose
/// requests they are. One per session, shared by its requests: a request
/// costs one reference count, not a channel-sender clone plus an account
/// clone (atomics on lines both worker threads write, per message).
#[derive(Debug)]
pub struct ReplyTo {
    /// The session's writer queue.
    pub tx: mpsc::Sender<ToPlatform>,
    /// The account the session is bound as, so receipts find their way back.
    pub account: Arc<str>,
}

impl ReplyTo {
    /// A shared link for `tx` and `account`.
    pub fn new(tx: mpsc::Sender<ToPlatform>, account: Arc<str>) -> Arc<ReplyTo> {
        Arc::new(ReplyTo { tx, account })
    }

    /// Answers the session's request `sequence_number` (a `command_id`)
    /// with `status` and no body, optgate's own answer instead of the
    /// carrier's. The session's queue has room for every request it has in
    /// flight, so a full or closed queue means the session is gone.
    pub fn refuse(&self, command_id: u32, status: u32, sequence_number: u32) {
        let _ = self.tx.try_send(ToPlatform::Response(Answer::Pdu(answer(
            command_id,
            status,
            sequence_number,
        ))));
    }
}

/// Carrier answers collected during one turn of a carrier bind, per
/// session, handed over at the end of the turn.
#[derive(Debug, Default)]
pub struct Replies(Vec<(Arc<ReplyTo>, Vec<Answer>)>);

impl Replies {
    /// Queues `pdu` for `to`.
    pub fn push(&mut self, to: Arc<ReplyTo>, pdu: Answer) {
        // A bind serves a handful of sessions per turn: a scan beats a map.
        match self.0.iter_mut().find(|(t, _)| Arc::ptr_eq(t, &to)) {
            Some((_, pdus)) => pdus.push(pdu),
            None => self.0.push((to, vec![pdu])),
        }
    }

    /// Hands every session its answers. A session's queue has room for
    /// every request it has in flight, so a full or closed queue means the
    /// session is gone and its answers have nowhere to go.
    pub fn send_all(&mut self) {
        for (to, mut pdus) in self.0.drain(..) {
            let msg = match pdus.len() {
                1 => match pdus.pop() {
                    Some(pdu) => ToPlatform::Response(pdu),
                    None => continue,
                },
                _ => ToPlatform::Responses(pdus),
            };
            let _ = to.tx.try_send(msg);
        }
    }
}

/// A request as it will go to the carrier (the carrier bind gives it its
/// own sequence number).
#[derive(Debug)]
pub enum Outgoing {
    /// A request optgate built or changed: encoded on the way out (boxed:
    /// the rarer kind, and a request is moved several times on its way).
    Pdu(Box<Pdu>),
    /// A request that passes unchanged: its bytes as the platform sent
    /// them (see [`crate::codec::Reseq`]). Saves encoding it again, and the
    /// decoded form never leaves the session that read it.
    Frame {
        /// The whole frame, header included.
        frame: Bytes,
        /// Whether it asked for a receipt (`registered_delivery != 0`).
        wants_receipt: bool,
    },
}

impl Outgoing {
    /// The command_id.
    pub fn command_id(&self) -> u32 {
        match self {
            Outgoing::Pdu(p) => p.command_id(),
            Outgoing::Frame { frame, .. } => peek_header(frame).map_or(0, |h| h.command_id),
        }
    }

    /// The platform's sequence number.
    pub fn sequence_number(&self) -> u32 {
        match self {
            Outgoing::Pdu(p) => p.sequence_number,
            Outgoing::Frame { frame, .. } => peek_header(frame).map_or(0, |h| h.sequence_number),
        }
    }

    /// Whether the carrier will send receipts for it.
    pub fn wants_receipt(&self) -> bool {
        match self {
            Outgoing::Pdu(p) => wants_receipt(p),
            Outgoing::Frame { wants_receipt, .. } => *wants_receipt,
        }
    }
}

/// Whether the carrier will send receipts for this request.
pub fn wants_receipt(pdu: &Pdu) -> bool {
    match &pdu.body {
        Body::SubmitSm(s) => s.registered_delivery != 0,
        Body::DataSm(d) => d.registered_delivery != 0,
        Body::SubmitMulti(m) => m.registered_delivery != 0,
        _ => false,
    }
}

/// A platform request on its way to the carrier.
#[derive(Debug)]
pub struct UpRequest {
    /// The request, still under the platform's sequence number.
    pub request: Outgoing,
    /// Where the answer goes, and the account that sent it.
    pub reply: Arc<ReplyTo>,
    /// What few requests carry (boxed, so a request is small to move
    /// through the channel and the bind's table).
    pub extra: Option<Box<UpExtra>>,
    /// Whether its receipts need the id map (carrier id → account and
    /// optgate id): released held messages, optgate's own, and senders the
    /// sender check does not tie to the account (see
    /// [`crate::receipts::routed_by_address`]). Without it the receipts are
    /// routed by their destination address and the carrier id is not kept.
    pub id_map: bool,
    /// When optgate received it, for the added-latency histogram.
    pub received: Instant,
}

/// What only some platform requests carry on their way to the carrier.
#[derive(Debug, Default)]
pub struct UpExtra {
    /// For a released held message: the id its platform was given, which
    /// its receipt must carry instead of the carrier's.
    pub optgate_id: Option<Arc<str>>,
    /// submit_multi destinations optgate refused itself, to add to the
    /// carrier's `unsuccess_sme` list.
    pub unsuccess: Vec<crate::pdu::UnsuccessSme>,
}

impl UpExtra {
    /// `None` when there is nothing to carry.
    pub fn boxed(
        optgate_id: Option<Arc<str>>,
        unsuccess: Vec<crate::pdu::UnsuccessSme>,
    ) -> Option<Box<UpExtra>> {
        (optgate_id.is_some() || !unsuccess.is_empty()).then(|| {
            Box::new(UpExtra {
                optgate_id,
                unsuccess,
            })
        })
    }
}

/// The carrier side as optgate's own senders (the outbox) see it: the
/// daemon hands them the bind pool behind this, so they need not know it.
pub trait Carrier: Send + Sync {
    /// Queues a request for a carrier bind; `false` when none can take it
    /// now (all down, backing off or full): try again later.
    fn submit(&self, req: UpRequest) -> bool;
    /// How many carrier binds are up.
    fn binds_up(&self) -> usize;
}

/// The answer to request `command_id` with `status`: on success a response
/// with an empty message id (what SMSCs and ESMEs expect of a
/// deliver_sm_resp), on error a header-only `_resp`; a generic_nack for
/// commands that have no response.
pub fn answer(command_id: u32, status: u32, sequence_number: u32) -> Pdu {
    let mut pdu = match Body::resp_for(command_id) {
        Some(body) => Pdu::new(sequence_number, body),
        None => return Pdu::generic_nack(sequence_number, status),
    };
    pdu.command_status = status;
    if status == crate::pdu::status::ESME_ROK {
        if let Body::DeliverSmResp(r) | Body::DataSmResp(r) | Body::SubmitSmResp(r) = &mut pdu.body
        {
            r.message_id = Some(Text::new());
        }
    }
    pdu
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{command as cmd, status};

    fn seqs(msg: ToPlatform) -> Vec<u32> {
        match msg {
            ToPlatform::Response(p) => vec![p.sequence_number()],
            ToPlatform::Responses(ps) => ps.iter().map(Answer::sequence_number).collect(),
            ToPlatform::Deliver { .. } | ToPlatform::Direct { .. } => Vec::new(),
        }
    }

    #[test]
    fn replies_go_to_their_sessions_in_order_one_message_each() {
        let (tx_a, mut rx_a) = mpsc::channel(4);
        let (tx_b, mut rx_b) = mpsc::channel(4);
        let a = ReplyTo::new(tx_a, Arc::from("a"));
        let b = ReplyTo::new(tx_b, Arc::from("b"));
        let mut replies = Replies::default();
        for (to, seq) in [(&a, 1), (&b, 2), (&a, 3), (&a, 4)] {
            replies.push(
                to.clone(),
                answer(cmd::SUBMIT_SM, status::ESME_ROK, seq).into(),
            );
        }
        replies.send_all();
        let got_a = rx_a.try_recv().map(seqs).ok();
        assert_eq!(got_a, Some(vec![1, 3, 4]));
        assert!(rx_a.try_recv().is_err(), "one queue slot for the batch");
        // A single answer travels as a plain Response.
        assert!(matches!(rx_b.try_recv(), Ok(ToPlatform::Response(p)) if p.sequence_number() == 2));
        // Sent means gone: a second send_all sends nothing.
        replies.send_all();
        assert!(rx_a.try_recv().is_err() && rx_b.try_recv().is_err());
    }
}
