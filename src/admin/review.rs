//! Review of probable opt-outs on the admin surface: `POST
//! /api/v1/events/{id}/review` (behind the bearer token) turns one into an
//! opt-out with source `review` ([`crate::consent::review`]); the console's
//! first page lists those still to review.

use std::fmt::Write;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

use super::html::html_escape as esc;
use super::query::{bad_request, store_error};
use super::{AdminState, ApiError};
use crate::consent::review::{self, ReviewError};
use crate::policy::ConsentStatus;
use crate::present::rfc3339_millis;
use crate::store::consent::EventRow;
use crate::store::{Durable, StoreError, StoreTxn};

/// Probable opt-outs shown on the console.
const SHOWN: u32 = 50;

/// Optional body of the review.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    reason: Option<String>,
}

/// `POST /api/v1/events/{id}/review`.
pub async fn post_review(
    State(st): State<AdminState>,
    path: Result<Path<i64>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = path.map_err(|e| bad_request(e.body_text()))?;
    // The body is optional: empty, or `{"reason": "..."}`.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<ReviewBody>(&body)
            .map_err(|e| bad_request(format!("body: {e}")))?
            .reason
    };
    let cfg = st.engine.config();
    let done = st
        .store
        .transact(move |env| {
            let r = review::opt_out(env, &cfg, id, reason.as_deref());
            // A refused review is an answer, not a failed unit of work.
            Ok((r, Durable::AfterCommit))
        })
        .await
        .map_err(store_error)?
        .map_err(|e| match e {
            ReviewError::NoSuchEvent(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            ReviewError::Store(s) => store_error(s),
            e => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        })?;
    metrics::counter!("optgate_consent_changes_total", "to" => "refused")
        .increment(u64::from(done.old != ConsentStatus::Refused) + done.revoked as u64);
    info!(
        event = id,
        revoked = done.revoked,
        "probable opt-out reviewed as an opt-out through the admin API"
    );
    st.engine.settle_wake.notify_one();
    let k = &done.event.event.key;
    Ok(Json(json!({
        "event": id,
        "campaign": k.campaign,
        "sender": k.sender,
        "recipient": k.recipient,
        "old_status": done.old.as_str(),
        "new_status": "refused",
        "source": done.source,
        "revoked": done.revoked,
    })))
}

/// Probable opt-outs whose key is not refused yet, oldest first.
pub async fn to_review(st: &AdminState) -> Result<Vec<EventRow>, ApiError> {
    st.store
        .transact(|env| {
            let mut out = Vec::new();
            let mut after = 0;
            while out.len() < SHOWN as usize {
                let page = env.events_of_kind(review::PROBABLE, after, 500)?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for r in page {
                    if env.consent(&r.event.key)?.status != ConsentStatus::Refused {
                        out.push(r);
                    }
                }
            }
            out.truncate(SHOWN as usize);
            Ok::<_, StoreError>((out, Durable::Now))
        })
        .await
        .map_err(store_error)
}

/// The console's "Probable opt-outs to review" section.
pub fn table(rows: &[EventRow]) -> String {
    let mut t = format!(
        r#"<section class="review"><h2>Probable opt-outs to review <small>({})</small></h2>"#,
        rows.len()
    );
    if rows.is_empty() {
        t.push_str(r#"<p class="empty">Nothing to review.</p></section>"#);
        return t;
    }
    t.push_str(
        "<p>A message containing an opt-out word. If it is a revocation, run \
         <code>optgate consent review --event ID</code> or <code>POST /api/v1/events/ID/review</code>.</p>\
         <table><thead><tr><th>Event</th><th>When</th><th>Campaign</th><th>Sender</th><th>Recipient</th>\
         <th>Word</th></tr></thead><tbody>",
    );
    for r in rows {
        let e = &r.event;
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.id,
            esc(&rfc3339_millis(r.at)),
            esc(&e.key.campaign),
            esc(&e.key.sender),
            esc(&e.key.recipient),
            esc(&e.source),
        );
    }
    t.push_str("</tbody></table></section>");
    t
}
