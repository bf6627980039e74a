//! SQLite statements of the compliance rules (issue 17): the receipt time
//! of the MO behind an opt-out confirmation, and events by kind (the
//! review of probable opt-outs).

use rusqlite::{params, Connection, OptionalExtension};

use super::consent::event_row;
use crate::store::consent::EventRow;
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
