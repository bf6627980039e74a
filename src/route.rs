//! The messages that flow between tasks. Every channel carrying them is bounded.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use bytes::Bytes;

use crate::pdu::{Body, Pdu};

/// Work for a platform session's writer.
#[derive(Debug)]
pub enum ToPlatform {
    /// The answer to one of this session's requests; its sequence number is
    /// already the platform's own.
    Response(Pdu),
    /// An MO or receipt to hand over. The session gives it a sequence number
    /// and reports the platform's answer to the account's dispatcher under `id`.
    Deliver { id: u64, pdu: Pdu },
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
}

/// A platform request on its way to the carrier.
#[derive(Debug)]
pub struct UpRequest {
    /// The request as the platform sent it (its own sequence number).
    pub pdu: Pdu,
    /// Where the answer goes, and the account that sent it.
    pub reply: Arc<ReplyTo>,
    /// For a released held message: the id its platform was given, which
    /// its receipt must carry instead of the carrier's.
    pub optgate_id: Option<Arc<str>>,
    /// submit_multi destinations optgate refused itself, to add to the
    /// carrier's `unsuccess_sme` list.
    pub unsuccess: Vec<crate::pdu::UnsuccessSme>,
    /// When optgate received it, for the added-latency histogram.
    pub received: Instant,
}

/// How an upstream bind is told to answer a carrier request it received.
#[derive(Debug, Clone)]
pub struct AckTo {
    /// The carrier bind's writer.
    pub tx: mpsc::Sender<Pdu>,
    /// The carrier's sequence number.
    pub sequence_number: u32,
    /// The carrier's command (deliver_sm or data_sm).
    pub command_id: u32,
}

impl AckTo {
    /// Answers the carrier with `status`. A closed writer means the bind is
    /// gone; the carrier will then redeliver, which is what we want.
    pub async fn send(self, status: u32) {
        let resp = crate::route::answer(self.command_id, status, self.sequence_number);
        let _ = self.tx.send(resp).await;
    }
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
            r.message_id = Some(Bytes::new());
        }
    }
    pdu
}
