//! The store thread's own tables on PostgreSQL: the carrier id map, stored
//! deliveries and the liveness write. Mirrors the SQLite `ops` module
//! function by function.

use std::time::Duration;

use postgres::GenericClient;

use super::{limit, Pg, StoreError};
use crate::store::{DeliveryKind, MessageOwner, StoredDelivery};

pub use crate::store::consent::now_ms;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> i64 {
    now_ms() / 1000
}

/// `now - ttl` in Unix seconds: rows created before this have expired.
pub fn cutoff(ttl: Duration) -> i64 {
    now_unix().saturating_sub(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// The id map table rows written at `now` go to (see the SQLite backend:
/// `id_map_{period mod 3}`, a period one `ttl` long).
fn id_map_generation(now: i64, ttl: Duration) -> usize {
    let period = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
    // rem_euclid of a positive divisor: 0, 1 or 2.
    (now.div_euclid(period)).rem_euclid(3) as usize
}

const ID_MAP_INSERT: [&str; 3] = [
    "INSERT INTO id_map_0 (carrier_id, account, optgate_id, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (carrier_id) DO UPDATE SET account = EXCLUDED.account, optgate_id = EXCLUDED.optgate_id, created_at = EXCLUDED.created_at",
    "INSERT INTO id_map_1 (carrier_id, account, optgate_id, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (carrier_id) DO UPDATE SET account = EXCLUDED.account, optgate_id = EXCLUDED.optgate_id, created_at = EXCLUDED.created_at",
    "INSERT INTO id_map_2 (carrier_id, account, optgate_id, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (carrier_id) DO UPDATE SET account = EXCLUDED.account, optgate_id = EXCLUDED.optgate_id, created_at = EXCLUDED.created_at",
];

const ID_MAP_PURGE: [&str; 3] = [
    "DELETE FROM id_map_0 WHERE carrier_id IN (SELECT carrier_id FROM id_map_0 WHERE created_at < $1 LIMIT $2)",
    "DELETE FROM id_map_1 WHERE carrier_id IN (SELECT carrier_id FROM id_map_1 WHERE created_at < $1 LIMIT $2)",
    "DELETE FROM id_map_2 WHERE carrier_id IN (SELECT carrier_id FROM id_map_2 WHERE created_at < $1 LIMIT $2)",
];

/// Records (or replaces) the owner of a carrier message id.
pub fn map_message_id<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    carrier_id: &str,
    account: &str,
    optgate_id: Option<&str>,
    ttl: Duration,
) -> Result<(), StoreError> {
    let now = now_unix();
    pg.execute(
        ID_MAP_INSERT[id_map_generation(now, ttl)],
        &[&carrier_id, &account, &optgate_id, &now],
    )?;
    Ok(())
}

/// Plain inserts of many rows: half the server's work of the `ON CONFLICT`
/// form (about 180,000 rows/s against 80,000 here); a carrier id already
/// in the table makes it fail, and [`ID_MAP_INSERT_MANY`] does the chunk.
const ID_MAP_INSERT_NEW: [&str; 3] = [
    "INSERT INTO id_map_0 (carrier_id, account, optgate_id, created_at)
     SELECT c, a, o, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, a, o)",
    "INSERT INTO id_map_1 (carrier_id, account, optgate_id, created_at)
     SELECT c, a, o, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, a, o)",
    "INSERT INTO id_map_2 (carrier_id, account, optgate_id, created_at)
     SELECT c, a, o, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, a, o)",
];

const ID_MAP_INSERT_MANY: [&str; 3] = [
    "INSERT INTO id_map_0 (carrier_id, account, optgate_id, created_at)
     SELECT c, a, o, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, a, o)
     ON CONFLICT (carrier_id) DO UPDATE SET account = EXCLUDED.account, optgate_id = EXCLUDED.optgate_id, created_at = EXCLUDED.created_at",
    "INSERT INTO id_map_1 (carrier_id, account, optgate_id, created_at)
     SELECT c, a, o, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, a, o)
     ON CONFLICT (carrier_id) DO UPDATE SET account = EXCLUDED.account, optgate_id = EXCLUDED.optgate_id, created_at = EXCLUDED.created_at",
    "INSERT INTO id_map_2 (carrier_id, account, optgate_id, created_at)
     SELECT c, a, o, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, a, o)
     ON CONFLICT (carrier_id) DO UPDATE SET account = EXCLUDED.account, optgate_id = EXCLUDED.optgate_id, created_at = EXCLUDED.created_at",
];

/// Rows per multi-row id map statement (bounds the message size).
const ID_MAP_CHUNK: usize = 5_000;

/// Records many id map rows in one statement per [`ID_MAP_CHUNK`] (a
/// round trip each, where one per row capped the consent benchmark at a
/// few percent of SQLite's rate): a plain insert first, the `ON CONFLICT`
/// form when a carrier id is already mapped. A carrier id twice in the rows
/// keeps the later (one statement may not update a row twice).
pub fn map_message_ids<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    rows: &[(&str, &str, Option<&str>)],
    ttl: Duration,
) -> Result<(), StoreError> {
    let now = now_unix();
    let generation = id_map_generation(now, ttl);
    let mut last = std::collections::HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(r.0, i);
    }
    let unique: Vec<&(&str, &str, Option<&str>)> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| last.get(r.0) == Some(i))
        .map(|(_, r)| r)
        .collect();
    for chunk in unique.chunks(ID_MAP_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|r| r.0).collect();
        let accounts: Vec<&str> = chunk.iter().map(|r| r.1).collect();
        let optgate_ids: Vec<Option<&str>> = chunk.iter().map(|r| r.2).collect();
        let args: [&(dyn postgres::types::ToSql + Sync); 4] = [&ids, &accounts, &optgate_ids, &now];
        // In a savepoint: a carrier id seen before fails only this try.
        let fresh = pg.savepoint(|sp| sp.execute(ID_MAP_INSERT_NEW[generation], &args));
        if fresh.is_err() {
            pg.execute(ID_MAP_INSERT_MANY[generation], &args)?;
        }
    }
    Ok(())
}

/// The owner of a carrier message id, unless unknown or older than `ttl`
/// (the newest mapping if the carrier reused the id).
pub fn lookup_message_id<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    carrier_id: &str,
    ttl: Duration,
) -> Result<Option<MessageOwner>, StoreError> {
    let row = pg.query_opt(
        "SELECT account, optgate_id, created_at FROM id_map_0 WHERE carrier_id = $1 AND created_at >= $2
         UNION ALL
         SELECT account, optgate_id, created_at FROM id_map_1 WHERE carrier_id = $1 AND created_at >= $2
         UNION ALL
         SELECT account, optgate_id, created_at FROM id_map_2 WHERE carrier_id = $1 AND created_at >= $2
         ORDER BY created_at DESC LIMIT 1",
        &[&carrier_id, &cutoff(ttl)],
    )?;
    Ok(row.map(|r| MessageOwner {
        account: r.get(0),
        optgate_id: r.get(1),
    }))
}

/// When the newest id map row was written (Unix seconds), if any.
pub fn newest_message_id_at<C: GenericClient>(
    pg: &mut Pg<'_, C>,
) -> Result<Option<i64>, StoreError> {
    let row = pg.query_opt(
        "SELECT max(t) FROM (SELECT max(created_at) AS t FROM id_map_0
         UNION ALL SELECT max(created_at) FROM id_map_1
         UNION ALL SELECT max(created_at) FROM id_map_2) AS m",
        &[],
    )?;
    Ok(row.and_then(|r| r.get(0)))
}

/// Deletes up to `limit` expired id map rows from the generation table no
/// one writes to now; returns how many.
pub fn purge_message_ids<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    ttl: Duration,
    n: u32,
) -> Result<usize, StoreError> {
    let next = (id_map_generation(now_unix(), ttl) + 1) % 3;
    let deleted = pg.execute(ID_MAP_PURGE[next], &[&cutoff(ttl), &limit(n)])?;
    Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
}

/// Stores one MO or receipt PDU for `account`; returns its id.
pub fn insert_delivery<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    account: &str,
    kind: DeliveryKind,
    pdu: &[u8],
) -> Result<u64, StoreError> {
    let id: i64 = pg
        .query_one(
            "INSERT INTO deliveries (account, kind, pdu, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&account, &kind.as_str(), &pdu, &now_unix()],
        )?
        .get(0);
    // BIGSERIAL ids start at 1.
    Ok(u64::try_from(id).unwrap_or(0))
}

/// Up to `n` stored deliveries of `account` with id >= `from_id`, oldest first.
pub fn pending_deliveries<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    account: &str,
    from_id: u64,
    n: u32,
) -> Result<Vec<StoredDelivery>, StoreError> {
    let from = i64::try_from(from_id).unwrap_or(i64::MAX);
    let rows = pg.query(
        "SELECT id, kind, pdu FROM deliveries WHERE account = $1 AND id >= $2 ORDER BY id LIMIT $3",
        &[&account, &from, &limit(n)],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let kind: &str = r.get(1);
            StoredDelivery {
                id: u64::try_from(id).unwrap_or(0),
                kind: if kind == "dlr" {
                    DeliveryKind::Dlr
                } else {
                    DeliveryKind::Mo
                },
                pdu: r.get(2),
            }
        })
        .collect())
}

/// Deletes a stored delivery; `false` if it was not there.
pub fn delete_delivery<C: GenericClient>(pg: &mut Pg<'_, C>, id: u64) -> Result<bool, StoreError> {
    let id = i64::try_from(id).unwrap_or(i64::MAX);
    Ok(pg.execute("DELETE FROM deliveries WHERE id = $1", &[&id])? > 0)
}

/// Stores many MOs or receipts, [`ID_MAP_CHUNK`] rows per statement (one
/// round trip each, not one per row). The rows are inserted in the order
/// given, so the sequence hands out their ids ascending in that order.
pub fn insert_deliveries<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    rows: &[(&str, DeliveryKind, &[u8])],
) -> Result<Vec<u64>, StoreError> {
    let now = now_unix();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ID_MAP_CHUNK) {
        let accounts: Vec<&str> = chunk.iter().map(|r| r.0).collect();
        let kinds: Vec<&str> = chunk.iter().map(|r| r.1.as_str()).collect();
        let pdus: Vec<&[u8]> = chunk.iter().map(|r| r.2).collect();
        let got = pg.query(
            "INSERT INTO deliveries (account, kind, pdu, created_at)
             SELECT a, k, p, $4 FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS t(a, k, p, n)
             ORDER BY n
             RETURNING id",
            &[&accounts, &kinds, &pdus, &now],
        )?;
        let mut ids: Vec<u64> = got
            .iter()
            .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
            .collect();
        if ids.len() != chunk.len() {
            let why = format!(
                "{} deliveries stored, {} ids returned",
                chunk.len(),
                ids.len()
            );
            return Err(StoreError::Database(std::sync::Arc::from(Box::<
                dyn std::error::Error + Send + Sync,
            >::from(
                why
            ))));
        }
        // RETURNING's order is not promised; the ids' is.
        ids.sort_unstable();
        out.extend(ids);
    }
    Ok(out)
}

/// Deletes many stored deliveries in one statement; for each id, whether
/// it was there (as if deleted one by one, in order).
pub fn delete_deliveries<C: GenericClient>(
    pg: &mut Pg<'_, C>,
    ids: &[u64],
) -> Result<Vec<bool>, StoreError> {
    let want: Vec<i64> = ids
        .iter()
        .map(|&id| i64::try_from(id).unwrap_or(i64::MAX))
        .collect();
    let mut gone: std::collections::HashSet<i64> = pg
        .query(
            "DELETE FROM deliveries WHERE id = ANY($1) RETURNING id",
            &[&want],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // An id asked twice was there for the first ask only, as one by one.
    Ok(want.iter().map(|id| gone.remove(id)).collect())
}

/// Number of stored deliveries.
pub fn count_deliveries<C: GenericClient>(pg: &mut Pg<'_, C>) -> Result<u64, StoreError> {
    let n: i64 = pg.query_one("SELECT COUNT(*) FROM deliveries", &[])?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A small committed write proving the database is writable.
pub fn touch<C: GenericClient>(pg: &mut Pg<'_, C>) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO meta (key, value) VALUES ('last_ping', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&now_unix().to_string()],
    )?;
    Ok(())
}

/// A round trip proving the server answers (no write).
pub fn ping<C: GenericClient>(pg: &mut Pg<'_, C>) -> Result<(), StoreError> {
    pg.query_one("SELECT 1", &[])?;
    Ok(())
}
