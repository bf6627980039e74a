//! Opt-out webhooks (`[[webhooks]]`): every consent change — opt-out,
//! opt-in, probable opt-out, manual change, import, review — POSTed as
//! JSON to each configured URL.
//!
//! Durable in two steps, both in the store: a *fan-out* reads the audit
//! trail (`events`, which every writer — engine, API, command line —
//! already appends to in the change's own transaction) past each webhook's
//! cursor and queues the changes it wants in `webhook_outbox`, moving the
//! cursor in the same transaction; a *sender* per webhook POSTs the queue
//! in id order. A row is deleted only after a 2xx (or when given up), so
//! a restart resumes where it stopped. Failures (no answer, 5xx, 429) are
//! retried with exponential backoff (1 s doubling, at most 1 h between
//! tries) for up to 24 h; a 4xx other than 429 means the receiver refuses
//! that change: it is dropped, logged and counted. Changes of one
//! recipient go in order: while one waits for a retry, the later ones of
//! that recipient wait behind it; other recipients go on.

pub mod client;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::config::WebhookConfig;
use crate::present::rfc3339_millis;
use crate::store::consent::{now_ms, EventRow, WebhookRow};
use crate::store::{Durable, Store, StoreError, StoreTxn};
use client::Target;

/// How long a change is retried.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The longest pause between two tries of one change.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often the queue and the events are looked at.
const TICK: Duration = Duration::from_millis(250);
/// Events read per fan-out, queued rows read per pass.
const BATCH: u32 = 500;

/// Event kinds a webhook reports.
const KINDS: [&str; 2] = ["consent_change", "probable_opt_out"];

/// Runs the fan-out and one sender per webhook until shutdown.
pub async fn run(store: Store, hooks: Vec<WebhookConfig>, shutdown: watch::Receiver<bool>) {
    if hooks.is_empty() {
        return;
    }
    let mut senders = Vec::new();
    for h in &hooks {
        senders.push(tokio::spawn(send_loop(
            store.clone(),
            h.clone(),
            shutdown.clone(),
        )));
    }
    fan_out_loop(store, hooks, shutdown).await;
    for s in senders {
        let _ = s.await;
    }
}

async fn fan_out_loop(
    store: Store,
    hooks: Vec<WebhookConfig>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if !claimed(&store).await {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
            continue;
        }
        let h = hooks.clone();
        let r = store
            .transact(move |env| Ok((fan_out(env, &h)?, Durable::AfterCommit)))
            .await;
        let more = match r {
            Ok(n) => n == BATCH as usize,
            Err(e) => {
                tracing::warn!(error = %e, "webhook fan-out failed; retried");
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// With several instances on one PostgreSQL database, one of them — the
/// holder of the claim `webhooks`, freed at once when it dies — fans out
/// and sends; the others wait, so a change is queued once and POSTed by
/// one instance. A single instance (SQLite, or PostgreSQL alone) always
/// holds it.
async fn claimed(store: &Store) -> bool {
    store.claim("webhooks").await
}

/// Queues the new changes of every webhook; returns the most events one
/// webhook read (a full batch: call again).
pub fn fan_out(t: &mut dyn StoreTxn, hooks: &[WebhookConfig]) -> Result<usize, StoreError> {
    let mut most = 0;
    for h in hooks {
        // A new webhook starts with the changes made from now on.
        let Some(cursor) = t.webhook_cursor(&h.url)? else {
            let last = t.last_event_id()?;
            t.set_webhook_cursor(&h.url, last)?;
            continue;
        };
        let events = t.events_after(cursor, BATCH)?;
        let Some(last) = events.last().map(|e| e.id) else {
            continue;
        };
        most = most.max(events.len());
        for e in &events {
            if wanted(h, e) {
                t.webhook_push(&h.url, e.id, &e.event.key.recipient, &body(e))?;
            }
        }
        t.set_webhook_cursor(&h.url, last)?;
    }
    Ok(most)
}

fn wanted(h: &WebhookConfig, e: &EventRow) -> bool {
    KINDS.contains(&e.event.kind.as_str())
        && (h.campaigns.is_empty() || h.campaigns.contains(&e.event.key.campaign))
}

/// The JSON a receiver gets for one change.
pub fn body(e: &EventRow) -> String {
    let status = |s: Option<crate::policy::ConsentStatus>| s.map(|s| s.as_str());
    json!({
        "id": e.id,
        "at": rfc3339_millis(e.at),
        "type": e.event.kind,
        "campaign": e.event.key.campaign,
        "sender": e.event.key.sender,
        "recipient": e.event.key.recipient,
        "old_status": status(e.event.old_status),
        "new_status": status(e.event.new_status),
        "source": e.event.source,
    })
    .to_string()
}

/// Pause after the `attempts`-th failure: 1 s, 2 s, 4 s … at most 1 h.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 12)).unwrap_or(12);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

/// What became of one try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retry,
    Rejected(u16),
    Expired,
}

fn judge(answer: &Result<u16, String>) -> Outcome {
    match answer {
        Ok(s) if (200..300).contains(s) => Outcome::Delivered,
        Ok(429) => Outcome::Retry,
        Ok(s) if (400..500).contains(s) => Outcome::Rejected(*s),
        _ => Outcome::Retry,
    }
}

async fn send_loop(store: Store, hook: WebhookConfig, mut shutdown: watch::Receiver<bool>) {
    let target = match Target::new(&hook.url) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, url = %hook.url, "webhook can not be used; its changes stay queued");
            return;
        }
    };
    loop {
        if !claimed(&store).await {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
            continue;
        }
        let url = hook.url.clone();
        let rows = store
            .transact(move |env| Ok((env.webhook_pending(&url, BATCH)?, Durable::Now)))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the webhook queue failed");
                Vec::new()
            });
        let mut waiting: HashSet<String> = HashSet::new();
        for row in rows {
            if *shutdown.borrow() {
                return;
            }
            if waiting.contains(&row.recipient) {
                continue;
            }
            let now = now_ms();
            let age = Duration::from_millis(u64::try_from(now - row.created_at).unwrap_or(0));
            let outcome = if age > MAX_AGE {
                Outcome::Expired
            } else if row.next_at > now {
                waiting.insert(row.recipient.clone());
                continue;
            } else {
                let answer = target
                    .post(&hook.secret, now / 1000, &row.body, hook.timeout)
                    .await;
                if let Err(why) = &answer {
                    tracing::debug!(%why, url = %hook.url, "webhook try failed");
                }
                judge(&answer)
            };
            if outcome == Outcome::Retry {
                waiting.insert(row.recipient.clone());
            }
            record(&store, &hook, &row, outcome).await;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

async fn record(store: &Store, hook: &WebhookConfig, row: &WebhookRow, outcome: Outcome) {
    let (id, attempts) = (row.id, row.attempts);
    let r = store
        .transact(move |env| {
            match outcome {
                Outcome::Retry => {
                    let next = now_ms() + i64::try_from(backoff(attempts).as_millis()).unwrap_or(0);
                    env.webhook_retry(id, next)?;
                }
                _ => env.webhook_done(id)?,
            }
            Ok(((), Durable::AfterCommit))
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "webhook bookkeeping failed");
    }
    let label = match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry => "retried",
        Outcome::Rejected(status) => {
            tracing::warn!(url = %hook.url, event = row.event_id, status, "webhook receiver refused a change; not retried");
            "rejected"
        }
        Outcome::Expired => {
            tracing::warn!(url = %hook.url, event = row.event_id, "webhook change undelivered for 24 h; given up");
            "expired"
        }
    };
    metrics::counter!("optgate_webhook_deliveries_total", "outcome" => label).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn only_4xx_other_than_429_stops_retries() {
        assert_eq!(judge(&Ok(204)), Outcome::Delivered);
        assert_eq!(judge(&Ok(500)), Outcome::Retry);
        assert_eq!(judge(&Ok(429)), Outcome::Retry);
        assert_eq!(judge(&Ok(410)), Outcome::Rejected(410));
        assert_eq!(judge(&Err("connect".into())), Outcome::Retry);
        assert_eq!(judge(&Ok(302)), Outcome::Retry);
    }
}
