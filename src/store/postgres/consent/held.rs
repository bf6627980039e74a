//! Held messages on PostgreSQL (see the SQLite backend's `consent`
//! module, function by function): hold, count, take when released or
//! expired, a group read, replaced or deleted, and their listing.

use postgres::{GenericClient, Row};

use super::super::{limit, Pg, StoreError};
use super::key_at;
use crate::store::consent::{now_ms, HeldRow, Key, NewHeld};

fn row_to_held(r: &Row) -> HeldRow {
    let rd: i16 = r.get(8);
    HeldRow {
        id: r.get(0),
        group_id: r.get(1),
        key: key_at(r, 2),
        account: r.get(5),
        held_at: r.get(6),
        expires_at: r.get(7),
        registered_delivery: u8::try_from(rd).unwrap_or(0),
        pdu: r.get(9),
    }
}

/// Holds one PDU; returns its group id. No group starts a new one whose id
/// is the new row's own id (taken from the sequence first, so one statement
/// does it).
pub fn hold<C: GenericClient>(pg: &mut Pg<'_, C>, h: &NewHeld<'_>) -> Result<i64, StoreError> {
    let key = h.key;
    let now = now_ms();
    let row = pg.query_one(
        "WITH n AS (SELECT nextval(pg_get_serial_sequence('held', 'id')) AS id)
         INSERT INTO held (id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu)
         SELECT n.id, COALESCE($1, n.id), $2, $3, $4, $5, $6, $7, $8, $9 FROM n
         RETURNING group_id",
        &[
            &h.group_id,
            &key.campaign,
            &key.sender,
            &key.recipient,
            &h.account,
            &now,
            &now.saturating_add(h.ttl_ms),
            &i16::from(h.registered_delivery),
            &h.pdu,
        ],
    )?;
    Ok(row.get(0))
}

/// Held messages (groups) for `key`.
pub fn held_count<C: GenericClient>(pg: &mut Pg<'_, C>, key: &Key) -> Result<u32, StoreError> {
    let n: i64 = pg
        .query_one(
            "SELECT COUNT(DISTINCT group_id) FROM held WHERE campaign = $1 AND sender = $2 AND recipient = $3",
            &[&key.campaign, &key.sender, &key.recipient],
        )?
        .get(0);
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Sorts rows returned by a DELETE … RETURNING (which has no order) by id.
pub(in crate::store::postgres) fn by_id(rows: &[Row]) -> Vec<HeldRow> {
    let mut out: Vec<HeldRow> = rows.iter().map(row_to_held).collect();
    out.sort_by_key(|h| h.id);
    out
}

/// Removes and returns every held PDU of `key`, in the order they were held.
pub fn take_held<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    key: &Key,
) -> Result<Vec<HeldRow>, StoreError> {
    let rows = pg.query(
        "DELETE FROM held WHERE campaign = $1 AND sender = $2 AND recipient = $3
         RETURNING id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu",
        &[&key.campaign, &key.sender, &key.recipient],
    )?;
    Ok(by_id(&rows))
}

/// Removes and returns up to `n` held messages (groups) whose hold expired
/// by `now`, every part of each, in id order.
pub fn take_expired<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    now: i64,
    n: u32,
) -> Result<Vec<HeldRow>, StoreError> {
    let rows = pg.query(
        "DELETE FROM held WHERE group_id IN
           (SELECT DISTINCT group_id FROM held WHERE expires_at <= $1 ORDER BY group_id LIMIT $2)
         RETURNING id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu",
        &[&now, &limit(n)],
    )?;
    Ok(by_id(&rows))
}

/// The PDUs of one held message (group), in order.
pub fn held_group<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    group_id: i64,
) -> Result<Vec<HeldRow>, StoreError> {
    let rows = pg.query(
        "SELECT id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu
         FROM held WHERE group_id = $1 ORDER BY id",
        &[&group_id],
    )?;
    Ok(rows.iter().map(row_to_held).collect())
}

/// Deletes one held message (group); returns how many PDUs it had.
pub fn delete_held_group<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    group_id: i64,
) -> Result<usize, StoreError> {
    let n = pg.execute("DELETE FROM held WHERE group_id = $1", &[&group_id])?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Replaces the PDU of a single-part held message (replace_sm).
pub fn replace_held<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    id: i64,
    pdu: &[u8],
    registered_delivery: u8,
) -> Result<bool, StoreError> {
    Ok(pg.execute(
        "UPDATE held SET pdu = $2, registered_delivery = $3 WHERE id = $1",
        &[&id, &pdu, &i16::from(registered_delivery)],
    )? > 0)
}

/// Held messages for the command line / API.
pub fn list_held<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    recipient: Option<&str>,
    n: u32,
) -> Result<Vec<HeldRow>, StoreError> {
    let rows = pg.query(
        "SELECT id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu
         FROM held WHERE ($1::text IS NULL OR recipient = $1) ORDER BY id LIMIT $2",
        &[&recipient, &limit(n)],
    )?;
    Ok(rows.iter().map(row_to_held).collect())
}

/// Held messages (groups) in total (for the gauge).
pub fn count_held<C: GenericClient>(pg: &mut Pg<'_, C>) -> Result<u64, StoreError> {
    let n: i64 = pg
        .query_one("SELECT COUNT(DISTINCT group_id) FROM held", &[])?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}
