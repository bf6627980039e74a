//! SQLite statements of the compliance rules (issue 17): the receipt time
//! of the MO behind an opt-out confirmation, and events by kind (the
//! review of probable opt-outs).

use rusqlite::{params, Connection, OptionalExtension};

use super::consent::event_row;
use crate::store::consent::{now_ms, EventRow, WebhookRow};
use crate::store::StoreError;

/// Records when the MO behind outbox row `id` reached optgate.
pub fn outbox_received(c: &Connection, id: i64, at_ms: i64) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE outbox SET received_at = ?2 WHERE id = ?1")?
        .execute(params![id, at_ms])?;
    Ok(())
}

/// When the MO behind outbox row `id` reached optgate (`None`: not
/// recorded, or no such row).
pub fn outbox_received_at(c: &Connection, id: i64) -> Result<Option<i64>, StoreError> {
    Ok(
        c.prepare_cached("SELECT received_at FROM outbox WHERE id = ?1")?
            .query_row(params![id], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten(),
    )
}

/// Events of `kind` with id > `after_id`, oldest first, at most `limit`.
pub fn events_of_kind(
    c: &Connection,
    kind: &str,
    after_id: i64,
    limit: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
         FROM events WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![kind, after_id, limit], event_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One event by id.
pub fn event(c: &Connection, id: i64) -> Result<Option<EventRow>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
             FROM events WHERE id = ?1",
        )?
        .query_row(params![id], event_row)
        .optional()?)
}

/// How far webhook `url` has read the events.
pub fn webhook_cursor(c: &Connection, url: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        c.prepare_cached("SELECT last_event FROM webhook_cursor WHERE url = ?1")?
            .query_row(params![url], |r| r.get(0))
            .optional()?,
    )
}

/// Sets how far webhook `url` has read the events.
pub fn set_webhook_cursor(c: &Connection, url: &str, last: i64) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO webhook_cursor (url, last_event) VALUES (?1, ?2)
         ON CONFLICT (url) DO UPDATE SET last_event = excluded.last_event",
    )?
    .execute(params![url, last])?;
    Ok(())
}

/// The newest event id (0 when there is none).
pub fn last_event_id(c: &Connection) -> Result<i64, StoreError> {
    Ok(c.prepare_cached("SELECT coalesce(max(id), 0) FROM events")?
        .query_row([], |r| r.get(0))?)
}

/// Events with id > `after_id`, oldest first, at most `limit`.
pub fn events_after(
    c: &Connection,
    after_id: i64,
    limit: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
         FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_id, limit], event_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Queues one change for webhook `url`; returns its id.
pub fn webhook_push(
    c: &Connection,
    url: &str,
    event_id: i64,
    recipient: &str,
    body: &str,
) -> Result<i64, StoreError> {
    let now = now_ms();
    c.prepare_cached(
        "INSERT INTO webhook_outbox (url, event_id, recipient, created_at, next_at, body)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    )?
    .execute(params![url, event_id, recipient, now, body])?;
    Ok(c.last_insert_rowid())
}

/// Up to `limit` queued changes of webhook `url`, in id order.
pub fn webhook_pending(
    c: &Connection,
    url: &str,
    limit: u32,
) -> Result<Vec<WebhookRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, url, event_id, recipient, created_at, next_at, attempts, body
         FROM webhook_outbox WHERE url = ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![url, limit], |r| {
        Ok(WebhookRow {
            id: r.get(0)?,
            url: r.get(1)?,
            event_id: r.get(2)?,
            recipient: r.get(3)?,
            created_at: r.get(4)?,
            next_at: r.get(5)?,
            attempts: r.get(6)?,
            body: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a delivered (or given up) change.
pub fn webhook_done(c: &Connection, id: i64) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM webhook_outbox WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

/// Counts a failed attempt and sets when to try again.
pub fn webhook_retry(c: &Connection, id: i64, next_at: i64) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, next_at])?;
    Ok(())
}

/// Deletes up to `limit` of the oldest events stamped before `before_ms`.
pub fn purge_events(c: &Connection, before_ms: i64, limit: u32) -> Result<usize, StoreError> {
    // Events are appended in time order: the oldest are the first ids, so
    // the inner scan stops after `limit` rows without an index on `at`.
    Ok(c.prepare_cached(
        "DELETE FROM events WHERE id IN
             (SELECT id FROM events WHERE at < ?1 ORDER BY id LIMIT ?2)",
    )?
    .execute(params![before_ms, limit])?)
}

/// Deletes up to `limit` of the oldest stored deliveries created before
/// `before_secs` (Unix seconds, as the table keeps them).
pub fn purge_deliveries(c: &Connection, before_secs: i64, limit: u32) -> Result<usize, StoreError> {
    Ok(c.prepare_cached(
        "DELETE FROM deliveries WHERE id IN
             (SELECT id FROM deliveries WHERE created_at < ?1 ORDER BY id LIMIT ?2)",
    )?
    .execute(params![before_secs, limit])?)
}
