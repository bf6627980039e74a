//! The compliance rules' SQL on PostgreSQL (issue 17). Mirrors the SQLite
//! backend's `compliance` module function by function.

use postgres::GenericClient;

use super::consent::event_row;
use super::{limit, Pg, StoreError};
use crate::store::consent::EventRow;

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
