//! SQLite statements of the console's counts (the campaign overview and the
//! opt-in / opt-out chart on the consent page).

use rusqlite::{params, Connection};

use crate::policy::ConsentStatus;
use crate::store::consent::ChangeCount;
use crate::store::StoreError;

const DAY_MS: i64 = 86_400_000;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Consent rows per campaign and status; covered by the (status, campaign)
/// index, so no table row is read.
pub fn consent_counts(c: &Connection) -> Result<Vec<(String, ConsentStatus, u64)>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT campaign, status, count(*) FROM consent \
         WHERE status IN ('active','pending','refused') GROUP BY campaign, status",
    )?;
    let rows = st.query_map([], |r| {
        let status = match r.get::<_, String>(1)?.as_str() {
            "active" => ConsentStatus::Active,
            "pending" => ConsentStatus::Pending,
            _ => ConsentStatus::Refused,
        };
        Ok((r.get(0)?, status, count(r.get(2)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Held messages per campaign.
pub fn held_counts(c: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut st = c.prepare_cached("SELECT campaign, count(*) FROM held GROUP BY campaign")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, count(r.get(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Opt-ins and opt-outs at or after `from_ms`, per campaign and UTC day.
/// Events are in time order by id, so the window starts after the newest
/// event older than `from_ms`, found walking back from the end: only the
/// window is read.
pub fn consent_changes_since(c: &Connection, from_ms: i64) -> Result<Vec<ChangeCount>, StoreError> {
    let first: i64 = c.query_row(
        "SELECT coalesce((SELECT id FROM events WHERE at < ?1 ORDER BY id DESC LIMIT 1), 0)",
        params![from_ms],
        |r| r.get(0),
    )?;
    let mut st = c.prepare_cached(
        "SELECT campaign, at / ?3, new_status, count(*) FROM events \
         WHERE id > ?1 AND at >= ?2 AND kind = 'consent_change' \
         AND new_status IN ('active','refused') GROUP BY 1, 2, 3",
    )?;
    let rows = st.query_map(params![first, from_ms, DAY_MS], |r| {
        let to = if r.get::<_, String>(2)? == "refused" {
            ConsentStatus::Refused
        } else {
            ConsentStatus::Active
        };
        Ok(ChangeCount {
            campaign: r.get(0)?,
            day: r.get(1)?,
            to,
            count: count(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
