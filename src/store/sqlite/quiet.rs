//! Quiet holds on SQLite: held PDUs waiting for the recipient's quiet hours
//! to end (`held.quiet_until`, migration 10).

use rusqlite::{params, Connection};

use super::consent::{key_at, take_of_key};
use crate::store::consent::{HeldRow, Key};
use crate::store::StoreError;

/// Marks every PDU of a held message as a quiet hold until `until`.
pub fn set_held_quiet(c: &Connection, group_id: i64, until: i64) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE held SET quiet_until = ?2 WHERE group_id = ?1")?
        .execute(params![group_id, until])?;
    Ok(())
}

/// Moves the quiet holds of `key` (with `all`, every hold of it) to `until`.
pub fn defer_held(c: &Connection, key: &Key, until: i64, all: bool) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE held SET quiet_until = ?4
         WHERE campaign = ?1 AND sender = ?2 AND recipient = ?3 AND (?5 OR quiet_until > 0)",
    )?
    .execute(params![key.campaign, key.sender, key.recipient, until, all])?;
    Ok(())
}

/// Keys with a quiet hold due at `now`.
pub fn due_quiet_keys(c: &Connection, now: i64, limit: u32) -> Result<Vec<Key>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT campaign, sender, recipient FROM held
         WHERE quiet_until > 0 AND quiet_until <= ?1 LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| key_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes and returns the quiet holds of `key`, in the order held.
pub fn take_quiet(c: &Connection, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
    take_of_key(c, key, true)
}
