//! Review of probable opt-outs ("reasonable means", 47 CFR
//! 64.1200(a)(10)): a message like "stop texting me" is recorded as a
//! `probable_opt_out` event; an operator who reads it as a revocation
//! turns that event into an opt-out, from the command line (`optgate
//! consent review --event ID`) or the admin API (`POST
//! /api/v1/events/{id}/review`). One function does it for both.
//!
//! The scope key of the event is refused with source `review` (or
//! `review: <reason>`), the campaign's `opt_out_scope` applies as for a
//! STOP, and a `reviewed` event names the event it came from. No
//! confirmation text is sent: a review comes long after the message, past
//! any confirmation deadline.

use super::manual;
use super::EngineConfig;
use crate::policy::ConsentStatus;
use crate::store::consent::{Event, EventRow};
use crate::store::{StoreError, StoreTxn};

/// The event kind a review applies to.
pub const PROBABLE: &str = "probable_opt_out";

/// Why a review was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No event with this id.
    #[error("no event {0}")]
    NoSuchEvent(i64),
    /// The event is not a probable opt-out.
    #[error("event {id} is a {kind} event, not a probable_opt_out")]
    NotProbable {
        /// The event id.
        id: i64,
        /// Its kind.
        kind: String,
    },
    /// The reason is too long (or otherwise unusable).
    #[error(transparent)]
    Manual(#[from] manual::ManualError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a review did.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The probable opt-out it turned into an opt-out.
    pub event: EventRow,
    /// The key's status before.
    pub old: ConsentStatus,
    /// Other keys refused through the campaign's `opt_out_scope`.
    pub revoked: usize,
    /// The source recorded on the change.
    pub source: String,
}

/// Turns the probable opt-out `event_id` into an opt-out (see the module
/// documentation), inside the caller's transaction.
pub fn opt_out(
    t: &mut dyn StoreTxn,
    cfg: &EngineConfig,
    event_id: i64,
    reason: Option<&str>,
) -> Result<Reviewed, ReviewError> {
    let source = manual::source("review", reason)?;
    let event = t
        .event(event_id)?
        .ok_or(ReviewError::NoSuchEvent(event_id))?;
    if event.event.kind != PROBABLE {
        return Err(ReviewError::NotProbable {
            id: event_id,
            kind: event.event.kind.clone(),
        });
    }
    let key = event.event.key.clone();
    let old = t.set_status(&key, ConsentStatus::Refused, &source, "")?;
    let revoked = match cfg.campaigns.get(&key.campaign) {
        Some(c) => super::revoke::refuse_group(t, cfg, c, &key, "review")?,
        None => 0,
    };
    t.insert_event(&Event {
        key,
        kind: "reviewed".into(),
        old_status: Some(old),
        new_status: Some(ConsentStatus::Refused),
        source: format!("probable_opt_out event {event_id} reviewed as an opt-out"),
        message_ids: String::new(),
    })?;
    Ok(Reviewed {
        event,
        old,
        revoked,
        source,
    })
}

/// Events read per page.
const PAGE: u32 = 1000;

/// Events of one kind (`optgate events --kind`, `GET /api/v1/events?kind=`),
/// paged through the store's kind index: up to `limit` events of `kind`, oldest first, of `recipient` (if
/// given) and at or after `since_ms` (if given).
pub fn events_of_kind(
    t: &mut dyn StoreTxn,
    kind: &str,
    recipient: Option<&str>,
    since_ms: Option<i64>,
    limit: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let want = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = t.events_of_kind(kind, after, PAGE)?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.id;
        let full = page.len() as u64 == u64::from(PAGE);
        for r in page {
            let mine = recipient.map_or(true, |n| r.event.key.recipient == n);
            if mine && since_ms.map_or(true, |s| r.at >= s) {
                out.push(r);
                if out.len() >= want {
                    return Ok(out);
                }
            }
        }
        if !full {
            return Ok(out);
        }
    }
}
