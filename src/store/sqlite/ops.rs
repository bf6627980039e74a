//! SQL statements shared by the store thread and the blocking API. Each
//! function runs on whatever connection or transaction it is given.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{DeliveryKind, MessageOwner, StoreError, StoredDelivery};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `now - ttl` in Unix seconds: rows created before this have expired.
pub fn cutoff(ttl: Duration) -> i64 {
    now_unix().saturating_sub(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// The id map table that rows written at `now` (Unix seconds) go to:
/// `id_map_{period mod 3}` where a period is one `ttl` long.
fn id_map_generation(now: i64, ttl: Duration) -> usize {
    let period = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
    // rem_euclid of a positive divisor: 0, 1 or 2.
    (now.div_euclid(period)).rem_euclid(3) as usize
}

const ID_MAP_INSERT: [&str; 3] = [
    "INSERT OR REPLACE INTO id_map_0 (carrier_id, account, optgate_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    "INSERT OR REPLACE INTO id_map_1 (carrier_id, account, optgate_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    "INSERT OR REPLACE INTO id_map_2 (carrier_id, account, optgate_id, created_at) VALUES (?1, ?2, ?3, ?4)",
];

const ID_MAP_PURGE: [&str; 3] = [
    "DELETE FROM id_map_0 WHERE carrier_id IN (SELECT carrier_id FROM id_map_0 WHERE created_at < ?1 LIMIT ?2)",
    "DELETE FROM id_map_1 WHERE carrier_id IN (SELECT carrier_id FROM id_map_1 WHERE created_at < ?1 LIMIT ?2)",
    "DELETE FROM id_map_2 WHERE carrier_id IN (SELECT carrier_id FROM id_map_2 WHERE created_at < ?1 LIMIT ?2)",
];

/// Records (or replaces) the owner of a carrier message id; `ttl` picks the
/// generation table.
pub fn map_message_id(
    conn: &Connection,
    carrier_id: &str,
    account: &str,
    optgate_id: Option<&str>,
    ttl: Duration,
) -> Result<(), StoreError> {
    let now = now_unix();
    conn.prepare_cached(ID_MAP_INSERT[id_map_generation(now, ttl)])?
        .execute(params![carrier_id, account, optgate_id, now])?;
    Ok(())
}

/// The owner of a carrier message id, unless unknown or older than `ttl`
/// (the newest mapping if the carrier reused the id).
pub fn lookup_message_id(
    conn: &Connection,
    carrier_id: &str,
    ttl: Duration,
) -> Result<Option<MessageOwner>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT account, optgate_id, created_at FROM id_map_0 WHERE carrier_id = ?1 AND created_at >= ?2
             UNION ALL
             SELECT account, optgate_id, created_at FROM id_map_1 WHERE carrier_id = ?1 AND created_at >= ?2
             UNION ALL
             SELECT account, optgate_id, created_at FROM id_map_2 WHERE carrier_id = ?1 AND created_at >= ?2
             ORDER BY created_at DESC LIMIT 1",
        )?
        .query_row(params![carrier_id, cutoff(ttl)], |r| {
            Ok(MessageOwner {
                account: r.get(0)?,
                optgate_id: r.get(1)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// When the newest id map row was written (Unix seconds), if any.
pub fn newest_message_id_at(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let t = conn.query_row(
        "SELECT max(t) FROM (SELECT max(created_at) AS t FROM id_map_0
         UNION ALL SELECT max(created_at) FROM id_map_1
         UNION ALL SELECT max(created_at) FROM id_map_2)",
        [],
        |r| r.get(0),
    )?;
    Ok(t)
}

/// Deletes up to `limit` expired id map rows from the generation table no
/// one writes to now (the one written next); returns how many.
pub fn purge_message_ids(
    conn: &Connection,
    ttl: Duration,
    limit: u32,
) -> Result<usize, StoreError> {
    let next = (id_map_generation(now_unix(), ttl) + 1) % 3;
    let n = conn
        .prepare_cached(ID_MAP_PURGE[next])?
        .execute(params![cutoff(ttl), limit])?;
    Ok(n)
}

/// Stores one MO or receipt PDU for `account`; returns its id.
pub fn insert_delivery(
    conn: &Connection,
    account: &str,
    kind: DeliveryKind,
    pdu: &[u8],
) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO deliveries (account, kind, pdu, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![account, kind.as_str(), pdu, now_unix()])?;
    // Row ids of this table are positive (AUTOINCREMENT starts at 1).
    Ok(u64::try_from(conn.last_insert_rowid()).unwrap_or(0))
}

/// Up to `limit` stored deliveries of `account`, oldest first.
pub fn pending_deliveries(
    conn: &Connection,
    account: &str,
    from_id: u64,
    limit: u32,
) -> Result<Vec<StoredDelivery>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, pdu FROM deliveries WHERE account = ?1 AND id >= ?2 ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![account, from_id, limit], |r| {
        let kind: String = r.get(1)?;
        Ok(StoredDelivery {
            id: r.get(0)?,
            kind: if kind == "dlr" {
                DeliveryKind::Dlr
            } else {
                DeliveryKind::Mo
            },
            pdu: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Deletes a stored delivery; `false` if it was not there.
pub fn delete_delivery(conn: &Connection, id: u64) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
        .execute(params![i64::try_from(id).unwrap_or(i64::MAX)])?;
    Ok(n > 0)
}

/// Number of stored deliveries.
pub fn count_deliveries(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A small committed write proving the database is writable.
pub fn touch(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('last_ping', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![now_unix().to_string()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_rotate_every_ttl() {
        let ttl = Duration::from_secs(10);
        assert_eq!(id_map_generation(0, ttl), 0);
        assert_eq!(id_map_generation(9, ttl), 0);
        assert_eq!(id_map_generation(10, ttl), 1);
        assert_eq!(id_map_generation(25, ttl), 2);
        assert_eq!(id_map_generation(30, ttl), 0);
        assert_eq!(id_map_generation(-1, ttl), 2);
        assert_eq!(id_map_generation(5, Duration::ZERO), 2);
    }
}
