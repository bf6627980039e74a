//! A platform's request on its way to the carrier: the sender check, the
//! consent engine's decision, and the hand-over to the bind pool.

use std::sync::Arc;

use bytes::Bytes;
use tracing::debug;

use super::order::{Decided, Next};
use super::{Flow, Session};
use crate::consent::mt::{MtAction, MtQuick};
use crate::consent::multi::MultiAction;
use crate::pdu::{command as cmd, status, Body, Pdu, SubmitHead, Text};
use crate::route::{Outgoing, ReplyTo, UpExtra, UpRequest};

/// The sender check of the last submit (see `Session::sender_allowed`).
pub(super) struct SenderMemo {
    version: u64,
    ton: u8,
    addr: Text,
    allowed: bool,
    /// Its receipts find the account by address (no id map needed).
    by_address: bool,
}

/// What became of a submit_sm read as far as its head.
enum HeadStep {
    /// Handed to the carrier binds.
    Taken,
    /// Answered by optgate.
    Answer(Pdu),
    /// A campaign applies: decode it whole.
    Decode(Bytes),
}

impl Session {
    /// A submit_sm read only as far as its head (`frame`: its bytes as
    /// received). When no campaign applies to its sender it goes to the
    /// carrier as received, never decoded whole; otherwise it is decoded
    /// and takes [`Session::on_request`]'s way.
    pub(super) async fn on_submit_head(&mut self, head: SubmitHead, frame: Bytes) -> Flow {
        match self.take_submit_head(head, frame) {
            HeadStep::Taken => Ok(()),
            HeadStep::Answer(answer) => self.feed(&answer).await,
            HeadStep::Decode(frame) => match Pdu::decode_ref(&frame) {
                Ok(pdu) => self.on_request(pdu, frame).await,
                // Not reached: a head is read only from a frame that decodes.
                Err(bad) => self.feed(&bad.response()).await,
            },
        }
    }

    // Synchronous: the common case costs no future.
    fn take_submit_head(&mut self, head: SubmitHead, frame: Bytes) -> HeadStep {
        let (cid, seq) = (cmd::SUBMIT_SM, head.sequence_number);
        if let Some(refusal) = self.check_state(cid, seq) {
            return HeadStep::Answer(refusal);
        }
        if !self.runtime.load().engine.passes(&head.source) {
            return HeadStep::Decode(frame);
        }
        let source = Some((&head.source.addr, head.source.ton));
        let (link, by_address) = match self.admit(cid, seq, source) {
            Ok(admitted) => admitted,
            Err(refusal) => return HeadStep::Answer(refusal),
        };
        let request = Outgoing::Frame {
            wants_receipt: head.registered_delivery != 0,
            frame,
        };
        match self.hand_on(Decided {
            cid,
            seq,
            link,
            by_address,
            next: Next::Up(request, None),
        }) {
            None => HeadStep::Taken,
            Some(answer) => HeadStep::Answer(answer),
        }
    }

    /// A request for the carrier; `frame` is its bytes as received.
    pub(super) async fn on_request(&mut self, pdu: Pdu, frame: Bytes) -> Flow {
        let seq = pdu.sequence_number;
        let cid = pdu.command_id();
        let source = match &pdu.body {
            Body::SubmitSm(s) => Some((&s.source_addr, s.source_addr_ton)),
            Body::DataSm(d) => Some((&d.source_addr, d.source_addr_ton)),
            Body::SubmitMulti(m) => Some((&m.source_addr, m.source_addr_ton)),
            _ => None,
        };
        let (link, by_address) = match self.admit(cid, seq, source) {
            Ok(admitted) => admitted,
            Err(refusal) => return self.feed(&refusal).await,
        };
        let account = &link.account;
        let mut unsuccess = Vec::new();
        // Only a request that passes exactly as received goes out as its
        // original bytes; anything optgate decided on in the store, changed
        // or split is encoded again.
        let mut as_received = false;
        let pdu = match cid {
            cmd::SUBMIT_SM | cmd::DATA_SM => {
                match self
                    .ctx
                    .engine
                    .mt_quick(&self.runtime.load().engine, account, &pdu)
                {
                    MtQuick::Forward => {
                        as_received = true;
                        pdu
                    }
                    MtQuick::Reply(resp) => return self.feed(&resp).await,
                    MtQuick::Store(prep) => {
                        // Decided in the store while the session reads on
                        // (see `order`).
                        let engine = self.ctx.engine.clone();
                        let account = account.clone();
                        self.queue(Box::pin(async move {
                            let next = match engine.mt_stored(&account, prep, pdu).await {
                                MtAction::Forward(p) => Next::Up(Outgoing::Pdu(Box::new(p)), None),
                                MtAction::Reply(resp) => Next::Reply(resp),
                            };
                            Decided {
                                cid,
                                seq,
                                link,
                                by_address,
                                next,
                            }
                        }));
                        return Ok(());
                    }
                }
            }
            cmd::SUBMIT_MULTI => match self.ctx.engine.on_multi(account, pdu).await {
                MultiAction::Forward { pdu, unsuccess: u } => {
                    unsuccess = u;
                    pdu
                }
                MultiAction::Reply(resp) => return self.feed(&resp).await,
            },
            cmd::QUERY_SM | cmd::CANCEL_SM | cmd::REPLACE_SM => {
                match self.ctx.engine.on_held_request(account, pdu).await {
                    Ok(resp) => return self.feed(&resp).await,
                    Err(p) => p,
                }
            }
            _ => {
                as_received = true;
                pdu
            }
        };
        let request = if as_received {
            Outgoing::Frame {
                wants_receipt: crate::route::wants_receipt(&pdu),
                frame,
            }
        } else {
            Outgoing::Pdu(Box::new(pdu))
        };
        let extra = UpExtra::boxed(None, unsuccess);
        match self.hand_on(Decided {
            cid,
            seq,
            link,
            by_address,
            next: Next::Up(request, extra),
        }) {
            None => Ok(()),
            Some(answer) => self.feed(&answer).await,
        }
    }

    /// Whether this session may send a request now, from `source` (the
    /// sender of a submit_sm, data_sm or submit_multi): its carrier link
    /// and whether the request's receipts are routed by address, or the
    /// answer that refuses it.
    fn admit(
        &mut self,
        cid: u32,
        seq: u32,
        source: Option<(&Text, u8)>,
    ) -> Result<(Arc<ReplyTo>, bool), Pdu> {
        let refuse = |code| crate::route::answer(cid, code, seq);
        let Some(link) = self.reply_to.clone() else {
            return Err(refuse(status::ESME_RINVBNDSTS));
        };
        let Some(by_address) = self.sender_allowed(&link.account, source) else {
            debug!("submit from a sender the account does not own refused");
            return Err(refuse(status::ESME_RINVSRCADR));
        };
        if self.in_window() >= self.ctx.settings.window {
            return Err(refuse(status::ESME_RTHROTTLED));
        }
        Ok((link, by_address))
    }

    /// Hands a request to the carrier binds (each session keeps to one
    /// carrier bind while it has room); false when none can take it.
    pub(super) fn try_hand_up(
        &mut self,
        reply: Arc<ReplyTo>,
        request: Outgoing,
        extra: Option<Box<UpExtra>>,
        by_address: bool,
    ) -> bool {
        let req = UpRequest {
            request,
            reply,
            extra,
            id_map: !by_address,
            // When the bytes of this request came off the socket (see `Stamped`).
            received: self.link.last_rx(),
        };
        let taken = self.ctx.pool.submit_from(self.id as usize, req);
        if taken {
            self.outstanding += 1;
        }
        taken
    }

    /// submit_sm, data_sm and submit_multi must come from one of the
    /// account's numbers unless it has `allow_any_sender` (see
    /// [`auth::Account::may_send_from`]); other requests pass. `None`:
    /// refused; `Some(by_address)`: allowed, and whether its receipts are
    /// routed by address alone ([`crate::receipts::routed_by_address`]).
    fn sender_allowed(&mut self, account: &str, source: Option<(&Text, u8)>) -> Option<bool> {
        let Some((addr, ton)) = source else {
            return Some(false);
        };
        // The session's copy, refreshed after a reload.
        let rt = self.runtime.load();
        let (version, accounts) = (rt.version, &rt.accounts);
        // Platforms send from the same few numbers: the last answer is kept
        // for as long as the sender and the accounts stay the same.
        if let Some(m) = &self.last_sender {
            if m.version == version && m.ton == ton && m.addr == *addr {
                return m.allowed.then_some(m.by_address);
            }
        }
        // An account removed by a reload keeps its binds until they end.
        let allowed = accounts
            .get(account)
            .map_or(true, |a| a.may_send_from(addr, ton));
        let by_address = allowed && crate::receipts::routed_by_address(rt, account, addr, ton);
        self.last_sender = Some(SenderMemo {
            version,
            ton,
            // A copy: the address is a slice of the read buffer, which the
            // memo would keep alive for the life of the session.
            addr: addr.clone(),
            allowed,
            by_address,
        });
        allowed.then_some(by_address)
    }
}
