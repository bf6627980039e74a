//! The compliance rules' SQL on PostgreSQL (issue 17). Mirrors the SQLite
//! backend's `compliance` module function by function.

use postgres::GenericClient;

use super::consent::event_row;
use super::{limit, Pg, StoreError};
use crate::store::consent::{now_ms, EventRow, WebhookRow};

/// Records when the MO behind outbox row `id` reached optgate.
pub fn outbox_received<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    id: i64,
    at_ms: i64,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE outbox SET received_at = $2 WHERE id = $1",
        &[&id, &at_ms],
    )?;
    Ok(())
}

/// When the MO behind outbox row `id` reached optgate.
pub fn outbox_received_at<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    id: i64,
) -> Result<Option<i64>, StoreError> {
    let row = pg.query_opt("SELECT received_at FROM outbox WHERE id = $1", &[&id])?;
    Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)))
}

/// Events of `kind` with id > `after_id`, oldest first, at most `n`.
pub fn events_of_kind<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    kind: &str,
    after_id: i64,
    n: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let rows = pg.query(
        "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
         FROM events WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3",
        &[&kind, &after_id, &limit(n)],
    )?;
    Ok(rows.iter().map(event_row).collect())
}

/// One event by id.
pub fn event<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    id: i64,
) -> Result<Option<EventRow>, StoreError> {
    let row = pg.query_opt(
        "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
         FROM events WHERE id = $1",
        &[&id],
    )?;
    Ok(row.as_ref().map(event_row))
}

/// How far webhook `url` has read the events.
pub fn webhook_cursor<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    url: &str,
) -> Result<Option<i64>, StoreError> {
    let row = pg.query_opt(
        "SELECT last_event FROM webhook_cursor WHERE url = $1",
        &[&url],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Sets how far webhook `url` has read the events.
pub fn set_webhook_cursor<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    url: &str,
    last: i64,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO webhook_cursor (url, last_event) VALUES ($1, $2)
         ON CONFLICT (url) DO UPDATE SET last_event = excluded.last_event",
        &[&url, &last],
    )?;
    Ok(())
}

/// The newest event id (0 when there is none).
pub fn last_event_id<C: GenericClient>(pg: &mut Pg<'_, C>) -> Result<i64, StoreError> {
    let rows = pg.query("SELECT coalesce(max(id), 0)::bigint FROM events", &[])?;
    Ok(rows.first().map_or(0, |r| r.get(0)))
}

/// Events with id > `after_id`, oldest first, at most `n`.
pub fn events_after<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    after_id: i64,
    n: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let rows = pg.query(
        "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
         FROM events WHERE id > $1 ORDER BY id LIMIT $2",
        &[&after_id, &limit(n)],
    )?;
    Ok(rows.iter().map(event_row).collect())
}

/// Queues one change for webhook `url`; returns its id.
pub fn webhook_push<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    url: &str,
    event_id: i64,
    recipient: &str,
    body: &str,
) -> Result<i64, StoreError> {
    let now = now_ms();
    let rows = pg.query(
        "INSERT INTO webhook_outbox (url, event_id, recipient, created_at, next_at, body)
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
        &[&url, &event_id, &recipient, &now, &body],
    )?;
    Ok(rows.first().map_or(0, |r| r.get(0)))
}

/// Up to `n` queued changes of webhook `url`, in id order.
pub fn webhook_pending<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    url: &str,
    n: u32,
) -> Result<Vec<WebhookRow>, StoreError> {
    let rows = pg.query(
        "SELECT id, url, event_id, recipient, created_at, next_at, attempts, body
         FROM webhook_outbox WHERE url = $1 ORDER BY id LIMIT $2",
        &[&url, &limit(n)],
    )?;
    Ok(rows
        .iter()
        .map(|r| WebhookRow {
            id: r.get(0),
            url: r.get(1),
            event_id: r.get(2),
            recipient: r.get(3),
            created_at: r.get(4),
            next_at: r.get(5),
            attempts: r.get(6),
            body: r.get(7),
        })
        .collect())
}

/// Removes a delivered (or given up) change.
pub fn webhook_done<C: GenericClient>(pg: &mut Pg<'_, C>, id: i64) -> Result<(), StoreError> {
    pg.execute("DELETE FROM webhook_outbox WHERE id = $1", &[&id])?;
    Ok(())
}

/// Counts a failed attempt and sets when to try again.
pub fn webhook_retry<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    id: i64,
    next_at: i64,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = $2 WHERE id = $1",
        &[&id, &next_at],
    )?;
    Ok(())
}

/// Deletes up to `n` of the oldest events stamped before `before_ms`.
pub fn purge_events<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    before_ms: i64,
    n: u32,
) -> Result<usize, StoreError> {
    let done = pg.execute(
        "DELETE FROM events WHERE id IN
         (SELECT id FROM events WHERE at < $1 ORDER BY id LIMIT $2)",
        &[&before_ms, &limit(n)],
    )?;
    Ok(usize::try_from(done).unwrap_or(usize::MAX))
}

/// Deletes up to `n` of the oldest stored deliveries created before
/// `before_secs` (Unix seconds).
pub fn purge_deliveries<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    before_secs: i64,
    n: u32,
) -> Result<usize, StoreError> {
    let done = pg.execute(
        "DELETE FROM deliveries WHERE id IN
         (SELECT id FROM deliveries WHERE created_at < $1 ORDER BY id LIMIT $2)",
        &[&before_secs, &limit(n)],
    )?;
    Ok(usize::try_from(done).unwrap_or(usize::MAX))
}
