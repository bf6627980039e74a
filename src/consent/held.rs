//! query_sm, cancel_sm and replace_sm of messages optgate holds: answered
//! from the hold, never sent to the carrier (which has never seen them).

use std::sync::Arc;

use bytes::Bytes;

use super::{msgs, mt::event_row, Engine};
use crate::pdu::{command as cmd, status, Body, Pdu, QuerySmResp, QueryState, Text};
use crate::store::Durable;
use crate::store::StoreTxn;

/// What a request about a held message did.
enum Held {
    Found,
    Cancelled,
    Replaced,
    Missing,
}

impl Engine {
    /// Answers a query/cancel/replace whose message id is an optgate id
    /// owned by `account`. `Err` gives back a request about a carrier id.
    pub async fn on_held_request(&self, account: &Arc<str>, pdu: Pdu) -> Result<Pdu, Pdu> {
        let (cid, seq) = (pdu.command_id(), pdu.sequence_number);
        let id = match &pdu.body {
            Body::QuerySm(q) => q.message_id.clone(),
            Body::CancelSm(c) => c.message_id.clone(),
            Body::ReplaceSm(r) => r.message_id.clone(),
            _ => return Err(pdu),
        };
        let Some(group) = msgs::group_of(&id) else {
            return Err(pdu);
        };
        let acct = account.to_string();
        let body = pdu.body.clone();
        let outcome = self
            .store()
            .transact(move |env| {
                let rows = env.held_group(group)?;
                let Some(first) = rows.first().filter(|r| r.account == acct).cloned() else {
                    return Ok((Held::Missing, Durable::Now));
                };
                match body {
                    Body::CancelSm(_) => {
                        env.delete_held_group(group)?;
                        event_row(
                            env,
                            &first.key,
                            "cancelled",
                            "cancel_sm",
                            &msgs::optgate_id(group),
                        )?;
                        Ok((Held::Cancelled, Durable::AfterCommit))
                    }
                    Body::ReplaceSm(r) if rows.len() == 1 => {
                        let Ok(mut held) = Pdu::decode(Bytes::from(first.pdu.clone())) else {
                            return Ok((Held::Missing, Durable::Now));
                        };
                        if let Body::SubmitSm(sm) = &mut held.body {
                            sm.short_message = r.short_message.clone();
                            sm.registered_delivery = r.registered_delivery;
                        }
                        env.replace_held(first.id, &held.to_bytes(), r.registered_delivery)?;
                        event_row(
                            env,
                            &first.key,
                            "replaced",
                            "replace_sm",
                            &msgs::optgate_id(group),
                        )?;
                        Ok((Held::Replaced, Durable::AfterCommit))
                    }
                    // A multipart message can not be replaced by one short_message.
                    Body::ReplaceSm(_) => Ok((Held::Missing, Durable::Now)),
                    _ => Ok((Held::Found, Durable::Now)),
                }
            })
            .await;
        let resp = match outcome {
            Ok(Held::Found) => {
                let state = QueryState {
                    final_date: Text::new(),
                    message_state: 1,
                    error_code: 0,
                };
                let body = QuerySmResp {
                    message_id: Some(id),
                    state: Some(state),
                    tlvs: Default::default(),
                };
                Pdu::new(seq, Body::QuerySmResp(Box::new(body)))
            }
            Ok(Held::Cancelled) => {
                metrics::gauge!("optgate_held_messages").decrement(1.0);
                crate::route::answer(cid, status::ESME_ROK, seq)
            }
            Ok(Held::Replaced) => crate::route::answer(cid, status::ESME_ROK, seq),
            Ok(Held::Missing) => crate::route::answer(cid, missing_status(cid), seq),
            Err(_) => crate::route::answer(cid, status::ESME_RSYSERR, seq),
        };
        Ok(resp)
    }
}

/// The status for a request about a held message that is no longer held.
fn missing_status(cid: u32) -> u32 {
    match cid {
        cmd::QUERY_SM => status::ESME_RQUERYFAIL,
        cmd::CANCEL_SM => status::ESME_RCANCELFAIL,
        _ => status::ESME_RREPLACEFAIL,
    }
}
