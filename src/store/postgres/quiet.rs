//! Quiet holds on PostgreSQL; mirrors the SQLite backend's `quiet` module.

use postgres::GenericClient;

use super::consent::{by_id, key_at};
use super::{limit, Pg, StoreError};
use crate::store::consent::{HeldRow, Key};

/// Marks every PDU of a held message as a quiet hold until `until`.
pub fn set_held_quiet<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    group_id: i64,
    until: i64,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE held SET quiet_until = $2 WHERE group_id = $1",
        &[&group_id, &until],
    )?;
    Ok(())
}

/// Moves the quiet holds of `key` (with `all`, every hold of it) to `until`.
pub fn defer_held<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    key: &Key,
    until: i64,
    all: bool,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE held SET quiet_until = $4
         WHERE campaign = $1 AND sender = $2 AND recipient = $3 AND ($5 OR quiet_until > 0)",
        &[&key.campaign, &key.sender, &key.recipient, &until, &all],
    )?;
    Ok(())
}

/// Keys with a quiet hold due at `now`.
pub fn due_quiet_keys<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    now: i64,
    n: u32,
) -> Result<Vec<Key>, StoreError> {
    let rows = pg.query(
        "SELECT DISTINCT campaign, sender, recipient FROM held
         WHERE quiet_until > 0 AND quiet_until <= $1 LIMIT $2",
        &[&now, &limit(n)],
    )?;
    Ok(rows.iter().map(|r| key_at(r, 0)).collect())
}

/// Removes and returns the quiet holds of `key`, in the order held.
pub fn take_quiet<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    key: &Key,
) -> Result<Vec<HeldRow>, StoreError> {
    let rows = pg.query(
        "DELETE FROM held WHERE campaign = $1 AND sender = $2 AND recipient = $3 AND quiet_until > 0
         RETURNING id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu",
        &[&key.campaign, &key.sender, &key.recipient],
    )?;
    Ok(by_id(&rows))
}
