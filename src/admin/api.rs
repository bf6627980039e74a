//! The JSON consent API under `/api/v1` (README "Admin API"):
//!
//! - `GET /api/v1/consent` — the consent log, paged by an opaque cursor;
//! - `GET /api/v1/events` — the audit trail, oldest first;
//! - `GET /api/v1/held` — held messages;
//! - `PUT /api/v1/consent/{campaign}/{recipient}` — a manual change, behind
//!   the bearer token, recorded with source `api` / `api: <reason>`;
//! - `POST /api/v1/events/{id}/review` — a probable opt-out turned into an
//!   opt-out (source `review`), behind the token ([`super::review`]).
//!
//! Every answer is JSON; every error is `{"error": "..."}` with a 4xx for
//! bad input and 503 for store failures.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

use super::auth::require_token;
use super::query::{self, bad_request, store_error};
use super::{AdminState, ApiError};
use crate::consent::manual::{self, ManualCampaign};
use crate::policy::ConsentStatus;
use crate::present::{group, rfc3339_millis};
use crate::store::consent::ConsentRow;
use crate::store::{Durable, StoreTxn};

/// Events per answer when no `limit` is given.
const DEFAULT_EVENTS: u32 = 100;

/// The API routes; the write route is guarded by `token` (`[admin] token`).
pub fn routes(token: &str) -> Router<AdminState> {
    let write = Router::new()
        .route("/api/v1/consent/{campaign}/{recipient}", put(put_consent))
        .route(
            "/api/v1/events/{id}/review",
            axum::routing::post(super::review::post_review),
        );
    Router::new()
        .route("/api/v1/consent", get(get_consent))
        .route("/api/v1/events", get(get_events))
        .route("/api/v1/held", get(get_held))
        .merge(require_token(write, token))
}

/// Query of `GET /api/v1/consent`; unknown parameters are refused so a
/// typo does not silently widen the answer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentParams {
    campaign: Option<String>,
    sender: Option<String>,
    recipient: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl ConsentParams {
    fn as_query(&self) -> query::ConsentQuery<'_> {
        query::ConsentQuery {
            campaign: self.campaign.as_deref(),
            sender: self.sender.as_deref(),
            recipient: self.recipient.as_deref(),
            status: self.status.as_deref(),
            limit: self.limit.as_deref(),
            cursor: self.cursor.as_deref(),
        }
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    bad_request(format!("query: {}", e.body_text()))
}

async fn get_consent(
    State(st): State<AdminState>,
    q: Result<Query<ConsentParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(query_error)?;
    let cfg = st.engine.config();
    let page = query::consent_page_for(&st.store, &cfg, p.as_query()).await?;
    let rows: Vec<Value> = page.rows.iter().map(consent_json).collect();
    Ok(Json(
        json!({ "rows": rows, "next_cursor": page.next_cursor }),
    ))
}

fn consent_json(r: &ConsentRow) -> Value {
    json!({
        "campaign": r.key.campaign,
        "sender": r.key.sender,
        "recipient": r.key.recipient,
        "status": r.status.as_str(),
        "updated_at": rfc3339_millis(r.updated_at),
        "source": r.source,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventParams {
    recipient: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    kind: Option<String>,
}

async fn get_events(
    State(st): State<AdminState>,
    q: Result<Query<EventParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(query_error)?;
    let cfg = st.engine.config();
    let recipient = query::recipient(p.recipient.as_deref(), &cfg)?;
    let since = query::since(p.since.as_deref())?;
    let limit = query::limit(p.limit.as_deref(), DEFAULT_EVENTS)?;
    let rows = match query::present(p.kind.as_deref()) {
        None => query::events(&st.store, recipient, since, limit).await?,
        Some(kind) => {
            let kind = kind.to_owned();
            st.store
                .transact(move |env| {
                    let rows = crate::consent::review::events_of_kind(
                        env,
                        &kind,
                        recipient.as_deref(),
                        since,
                        limit,
                    )?;
                    Ok((rows, Durable::Now))
                })
                .await
                .map_err(store_error)?
        }
    };
    let status = |s: Option<ConsentStatus>| s.map(ConsentStatus::as_str);
    let events: Vec<Value> = rows
        .iter()
        .map(|r| {
            let e = &r.event;
            json!({
                "id": r.id,
                "at": rfc3339_millis(r.at),
                "campaign": e.key.campaign,
                "sender": e.key.sender,
                "recipient": e.key.recipient,
                "kind": e.kind,
                "old_status": status(e.old_status),
                "new_status": status(e.new_status),
                "source": e.source,
                "message_ids": e.message_ids,
            })
        })
        .collect();
    Ok(Json(json!({ "events": events })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeldParams {
    recipient: Option<String>,
}

async fn get_held(
    State(st): State<AdminState>,
    q: Result<Query<HeldParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(query_error)?;
    let recipient = query::recipient(p.recipient.as_deref(), &st.engine.config())?;
    let pdus = query::held(&st.store, recipient).await?;
    let held: Vec<Value> = group(&pdus)
        .into_iter()
        .map(|(first, parts)| {
            json!({
                "id": first.group_id,
                "campaign": first.key.campaign,
                "sender": first.key.sender,
                "recipient": first.key.recipient,
                "account": first.account,
                "held_at": rfc3339_millis(first.held_at),
                "expires_at": rfc3339_millis(first.expires_at),
                "parts": parts,
            })
        })
        .collect();
    Ok(Json(json!({ "held": held })))
}

/// Body of the PUT.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    status: String,
    sender: Option<String>,
    reason: Option<String>,
}

fn body_error(e: JsonRejection) -> ApiError {
    // A body of the wrong shape is bad input like any other (400); a wrong
    // content type or an oversized body keeps its own status.
    let status = match e.status() {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        s => s,
    };
    ApiError::new(status, format!("body: {}", e.body_text()))
}

async fn put_consent(
    State(st): State<AdminState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<SetBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((campaign, recipient)) = path.map_err(|e| bad_request(e.body_text()))?;
    let Json(body) = body.map_err(body_error)?;
    let cfg = st.engine.config();
    let target = cfg.campaigns.get(&campaign).ok_or_else(|| {
        manual::unknown_campaign(&campaign, cfg.campaigns.iter().map(|c| c.id.as_str()))
    })?;
    let key = ManualCampaign::from_policy(target).key(
        body.sender.as_deref(),
        &recipient,
        &cfg.country_code,
    )?;
    let new = manual::settable_status(&body.status)?;
    let source = manual::source("api", body.reason.as_deref())?;
    let (k, s) = (key.clone(), source.clone());
    let old = st
        .store
        .transact(move |env| {
            let old = env.set_status(&k, new, &s, "")?;
            Ok((old, Durable::AfterCommit))
        })
        .await
        .map_err(store_error)?;
    if old != new {
        metrics::counter!("optgate_consent_changes_total", "to" => new.as_str()).increment(1);
        info!(campaign = %key.campaign, old = old.as_str(), new = new.as_str(), "consent changed through the admin API");
        // Held messages of this key are released or dropped now, not at
        // the settler's next tick.
        st.engine.settle_wake.notify_one();
    }
    Ok(Json(json!({
        "campaign": key.campaign,
        "sender": key.sender,
        "recipient": key.recipient,
        "old_status": old.as_str(),
        "new_status": new.as_str(),
        "changed": old != new,
        "source": source,
    })))
}
