//! SQLite statements of the consent engine: the consent log, audit events,
//! held messages and the outbox. Plain functions over a connection or
//! transaction; [`super::SqliteTxn`] exposes them as [`crate::store::StoreTxn`].

use rusqlite::{params, Connection, OptionalExtension};

use crate::policy::ConsentStatus;
use crate::store::consent::{
    now_ms, ConsentFilter, ConsentRow, Event, EventRow, Flag, HeldRow, Key, NewHeld, OutboxRow,
};
use crate::store::StoreError;

/// The scope key in the three columns from `first` (campaign, sender,
/// recipient).
pub(super) fn key_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Key> {
    Ok(Key {
        campaign: r.get(first)?,
        sender: r.get(first + 1)?,
        recipient: r.get(first + 2)?,
    })
}

fn status_of(s: &str) -> ConsentStatus {
    ConsentStatus::parse(s).unwrap_or(ConsentStatus::None)
}

fn row_to_consent(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConsentRow> {
    let status: String = r.get(3)?;
    Ok(ConsentRow {
        key: key_at(r, 0)?,
        status: status_of(&status),
        updated_at: r.get(4)?,
        source: r.get(5)?,
        opt_in_request_sent: r.get::<_, i64>(6)? != 0,
        custom_forwarded: r.get::<_, i64>(7)? != 0,
    })
}

const CONSENT_COLS: &str =
    "campaign, sender, recipient, status, updated_at, source, opt_in_request_sent, custom_forwarded";

/// The state of `key` (status none when there is no row).
pub fn get(c: &Connection, key: &Key) -> Result<ConsentRow, StoreError> {
    // A literal, not format!: this runs for every MT of a campaign.
    const SQL: &str = "SELECT campaign, sender, recipient, status, updated_at, source, opt_in_request_sent, custom_forwarded
         FROM consent WHERE campaign = ?1 AND sender = ?2 AND recipient = ?3";
    let row = c
        .prepare_cached(SQL)?
        .query_row(
            params![key.campaign, key.sender, key.recipient],
            row_to_consent,
        )
        .optional()?;
    Ok(row.unwrap_or_else(|| ConsentRow::none(key.clone())))
}

/// Sets the status of `key`, records the change as an event, and returns
/// the old status. A "change" to the same status records nothing.
pub fn set_status(
    c: &Connection,
    key: &Key,
    status: ConsentStatus,
    source: &str,
    message_ids: &str,
) -> Result<ConsentStatus, StoreError> {
    let old = get(c, key)?.status;
    if old == status {
        return Ok(old);
    }
    c.prepare_cached(
        "INSERT INTO consent (campaign, sender, recipient, status, updated_at, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (campaign, sender, recipient)
         DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, source = excluded.source",
    )?
    .execute(params![key.campaign, key.sender, key.recipient, status.as_str(), now_ms(), source])?;
    insert_event(
        c,
        &Event {
            key: key.clone(),
            kind: "consent_change".into(),
            old_status: Some(old),
            new_status: Some(status),
            source: source.into(),
            message_ids: message_ids.into(),
        },
    )?;
    Ok(old)
}

/// Sets `flag` on `key`, creating a row with status none if needed.
pub fn mark(c: &Connection, key: &Key, flag: Flag) -> Result<(), StoreError> {
    let col = match flag {
        Flag::OptInRequestSent => "opt_in_request_sent",
        Flag::CustomForwarded => "custom_forwarded",
    };
    let sql = format!(
        "INSERT INTO consent (campaign, sender, recipient, status, updated_at, source, {col})
         VALUES (?1, ?2, ?3, 'none', ?4, '', 1)
         ON CONFLICT (campaign, sender, recipient) DO UPDATE SET {col} = 1"
    );
    c.prepare_cached(&sql)?
        .execute(params![key.campaign, key.sender, key.recipient, now_ms()])?;
    Ok(())
}

/// Appends an event.
pub fn insert_event(c: &Connection, e: &Event) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO events (at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        now_ms(),
        e.key.campaign,
        e.key.sender,
        e.key.recipient,
        e.kind,
        e.old_status.map(|s| s.as_str()),
        e.new_status.map(|s| s.as_str()),
        e.source,
        e.message_ids
    ])?;
    Ok(())
}

/// Events, oldest first, optionally for one recipient and since a time (ms).
pub fn list_events(
    c: &Connection,
    recipient: Option<&str>,
    since_ms: Option<i64>,
    limit: u32,
) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids
         FROM events WHERE (?1 IS NULL OR recipient = ?1) AND (?2 IS NULL OR at >= ?2)
         ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![recipient, since_ms, limit], event_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An event from the columns `id, at, campaign, sender, recipient, kind,
/// old_status, new_status, source, message_ids`.
pub(super) fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    let old: Option<String> = r.get(6)?;
    let new: Option<String> = r.get(7)?;
    Ok(EventRow {
        id: r.get(0)?,
        at: r.get(1)?,
        event: Event {
            key: key_at(r, 2)?,
            kind: r.get(5)?,
            old_status: old.as_deref().map(status_of),
            new_status: new.as_deref().map(status_of),
            source: r.get(8)?,
            message_ids: r.get(9)?,
        },
    })
}

/// Consent rows (status none excluded unless asked for), ordered by
/// (campaign, sender, recipient), starting after `after` (paging cursor).
pub fn list_consent(
    c: &Connection,
    f: &ConsentFilter,
    after: Option<&Key>,
    limit: u32,
) -> Result<Vec<ConsentRow>, StoreError> {
    // Only the filters given become conditions, so SQLite can seek: the
    // primary key for the page cursor and the campaign, the recipient index
    // for a search. (`?x IS NULL OR col = ?x` would read the whole table:
    // 156 ms for a page 500,000 rows deep, against about 1 ms now.)
    let mut cond: Vec<&str> = Vec::new();
    let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
    if let Some(v) = &f.campaign {
        cond.push("campaign = ?");
        args.push(v);
    }
    if let Some(v) = &f.sender {
        cond.push("sender = ?");
        args.push(v);
    }
    if let Some(v) = &f.recipient {
        cond.push("recipient = ?");
        args.push(v);
    }
    let status = f.status.map(|s| s.as_str());
    match &status {
        Some(v) => {
            cond.push("status = ?");
            args.push(v);
        }
        None => cond.push("status != 'none'"),
    }
    if let Some(k) = after {
        cond.push("(campaign, sender, recipient) > (?, ?, ?)");
        args.push(&k.campaign);
        args.push(&k.sender);
        args.push(&k.recipient);
    }
    args.push(&limit);
    let sql = format!(
        "SELECT {CONSENT_COLS} FROM consent WHERE {} \
         ORDER BY campaign, sender, recipient LIMIT ?",
        cond.join(" AND ")
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(args.as_slice(), row_to_consent)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Holds one PDU; returns its group id.
pub fn hold(c: &Connection, h: &NewHeld<'_>) -> Result<i64, StoreError> {
    let now = now_ms();
    let key = h.key;
    c.prepare_cached(
        "INSERT INTO held (group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu)
         VALUES (COALESCE(?1, 0), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        h.group_id,
        key.campaign,
        key.sender,
        key.recipient,
        h.account,
        now,
        now.saturating_add(h.ttl_ms),
        h.registered_delivery,
        h.pdu
    ])?;
    let id = c.last_insert_rowid();
    if h.group_id.is_none() {
        c.prepare_cached("UPDATE held SET group_id = ?1 WHERE id = ?1")?
            .execute(params![id])?;
    }
    Ok(h.group_id.unwrap_or(id))
}

pub(super) const HELD_COLS: &str =
    "id, group_id, campaign, sender, recipient, account, held_at, expires_at, registered_delivery, pdu";

pub(super) fn row_to_held(r: &rusqlite::Row<'_>) -> rusqlite::Result<HeldRow> {
    Ok(HeldRow {
        id: r.get(0)?,
        group_id: r.get(1)?,
        key: key_at(r, 2)?,
        account: r.get(5)?,
        held_at: r.get(6)?,
        expires_at: r.get(7)?,
        registered_delivery: r.get(8)?,
        pdu: r.get(9)?,
    })
}

/// Held messages (groups) for `key`.
pub fn held_count(c: &Connection, key: &Key) -> Result<u32, StoreError> {
    Ok(c.prepare_cached(
        "SELECT COUNT(DISTINCT group_id) FROM held WHERE campaign = ?1 AND sender = ?2 AND recipient = ?3",
    )?
    .query_row(params![key.campaign, key.sender, key.recipient], |r| r.get(0))?)
}

/// Removes and returns every held PDU of `key`, in the order they were held.
pub fn take_held(c: &Connection, key: &Key) -> Result<Vec<HeldRow>, StoreError> {
    take_of_key(c, key, false)
}

/// Removes and returns the held PDUs of `key` (with `quiet_only`, only its
/// quiet holds), in the order they were held.
pub(super) fn take_of_key(
    c: &Connection,
    key: &Key,
    quiet_only: bool,
) -> Result<Vec<HeldRow>, StoreError> {
    let sql = format!(
        "SELECT {HELD_COLS} FROM held
         WHERE campaign = ?1 AND sender = ?2 AND recipient = ?3 AND (NOT ?4 OR quiet_until > 0) ORDER BY id"
    );
    let args = params![key.campaign, key.sender, key.recipient, quiet_only];
    let rows: Vec<HeldRow> = c
        .prepare_cached(&sql)?
        .query_map(args, row_to_held)?
        .collect::<Result<_, _>>()?;
    c.prepare_cached(
        "DELETE FROM held WHERE campaign = ?1 AND sender = ?2 AND recipient = ?3 AND (NOT ?4 OR quiet_until > 0)",
    )?
    .execute(args)?;
    Ok(rows)
}

/// Removes and returns up to `limit` held PDUs whose hold expired by `now`.
pub fn take_expired(c: &Connection, now: i64, limit: u32) -> Result<Vec<HeldRow>, StoreError> {
    let sql = format!(
        "SELECT {HELD_COLS} FROM held WHERE group_id IN
           (SELECT DISTINCT group_id FROM held WHERE expires_at <= ?1 ORDER BY group_id LIMIT ?2)
         ORDER BY id"
    );
    let rows: Vec<HeldRow> = c
        .prepare_cached(&sql)?
        .query_map(params![now, limit], row_to_held)?
        .collect::<Result<_, _>>()?;
    for r in &rows {
        c.prepare_cached("DELETE FROM held WHERE id = ?1")?
            .execute(params![r.id])?;
    }
    Ok(rows)
}

/// The PDUs of one held message (group), in order.
pub fn held_group(c: &Connection, group_id: i64) -> Result<Vec<HeldRow>, StoreError> {
    let sql = format!("SELECT {HELD_COLS} FROM held WHERE group_id = ?1 ORDER BY id");
    Ok(c.prepare_cached(&sql)?
        .query_map(params![group_id], row_to_held)?
        .collect::<Result<_, _>>()?)
}

/// Deletes one held message (group); returns how many PDUs it had.
pub fn delete_held_group(c: &Connection, group_id: i64) -> Result<usize, StoreError> {
    Ok(c.prepare_cached("DELETE FROM held WHERE group_id = ?1")?
        .execute(params![group_id])?)
}

/// Replaces the PDU of a single-part held message (replace_sm).
pub fn replace_held(
    c: &Connection,
    id: i64,
    pdu: &[u8],
    registered_delivery: u8,
) -> Result<bool, StoreError> {
    Ok(
        c.prepare_cached("UPDATE held SET pdu = ?2, registered_delivery = ?3 WHERE id = ?1")?
            .execute(params![id, pdu, registered_delivery])?
            > 0,
    )
}

/// Held messages for the command line / API.
pub fn list_held(
    c: &Connection,
    recipient: Option<&str>,
    limit: u32,
) -> Result<Vec<HeldRow>, StoreError> {
    let sql = format!(
        "SELECT {HELD_COLS} FROM held WHERE (?1 IS NULL OR recipient = ?1) ORDER BY id LIMIT ?2"
    );
    Ok(c.prepare_cached(&sql)?
        .query_map(params![recipient, limit], row_to_held)?
        .collect::<Result<_, _>>()?)
}

/// Total held PDUs (for the gauge).
pub fn count_held(c: &Connection) -> Result<u64, StoreError> {
    Ok(
        c.prepare_cached("SELECT COUNT(DISTINCT group_id) FROM held")?
            .query_row([], |r| r.get(0))?,
    )
}

/// Queues a message; returns its id.
pub fn outbox_push(
    c: &Connection,
    kind: &str,
    key: &Key,
    account: &str,
    optgate_id: Option<&str>,
    pdu: &[u8],
) -> Result<i64, StoreError> {
    c.prepare_cached(
        "INSERT INTO outbox (created_at, kind, campaign, sender, recipient, account, optgate_id, pdu)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![now_ms(), kind, key.campaign, key.sender, key.recipient, account, optgate_id, pdu])?;
    Ok(c.last_insert_rowid())
}

/// Up to `limit` queued messages with id >= `from_id`, oldest first.
pub fn outbox_pending(
    c: &Connection,
    from_id: i64,
    limit: u32,
) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, created_at, kind, campaign, sender, recipient, account, optgate_id, attempts, pdu,
                handed_at
         FROM outbox WHERE id >= ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![from_id, limit], |r| {
        Ok(OutboxRow {
            id: r.get(0)?,
            created_at: r.get(1)?,
            kind: r.get(2)?,
            key: key_at(r, 3)?,
            account: r.get(6)?,
            optgate_id: r.get(7)?,
            attempts: r.get(8)?,
            pdu: r.get(9)?,
            handed_at: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a message that was sent (or given up on).
pub fn outbox_done(c: &Connection, id: i64) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

/// Records that an at-most-once message is being handed to the carrier
/// (`Some(now)`), or that it certainly did not leave after all (`None`).
pub fn outbox_handed(c: &Connection, id: i64, at: Option<i64>) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE outbox SET handed_at = ?2 WHERE id = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// Counts a failed attempt.
pub fn outbox_attempted(c: &Connection, id: i64) -> Result<(), StoreError> {
    c.prepare_cached("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

/// Scope keys that have held messages and whose status now settles them:
/// active (release) or refused (drop). Changes made by an MO, the command
/// line or the API all end up here.
pub fn settled_held_keys(
    c: &Connection,
    limit: u32,
) -> Result<Vec<(Key, ConsentStatus)>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT h.campaign, h.sender, h.recipient, c.status
         FROM held h JOIN consent c
           ON c.campaign = h.campaign AND c.sender = h.sender AND c.recipient = h.recipient
         WHERE (c.status = 'refused' OR (c.status = 'active' AND h.quiet_until = 0)) LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![limit], |r| {
        let s: String = r.get(3)?;
        Ok((key_at(r, 0)?, status_of(&s)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Overwrites the time of the last change of `key` (an import keeps the
/// date its file gives).
pub fn set_updated_at(c: &Connection, key: &Key, at_ms: i64) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE consent SET updated_at = ?4 WHERE campaign = ?1 AND sender = ?2 AND recipient = ?3",
    )?
    .execute(params![key.campaign, key.sender, key.recipient, at_ms])?;
    Ok(())
}
