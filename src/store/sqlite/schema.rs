//! The database schema: an ordered list of migrations, applied by
//! `PRAGMA user_version` (version N = the first N steps are applied).
//!
//! Append new steps at the end; never edit a released step.

use rusqlite::Connection;

use crate::store::StoreError;

/// Migration steps in order; each runs in its own transaction.
pub const MIGRATIONS: &[&str] = &[
    // 1: metadata, carrier message id map, stored MOs / receipts.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE id_map (
        carrier_id  TEXT PRIMARY KEY,
        account     TEXT NOT NULL,
        optgate_id  TEXT,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX id_map_created ON id_map (created_at);
    -- AUTOINCREMENT: ids are never reused, so an ack after a restart can
    -- not delete a newer row that took an old id.
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        account     TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('mo', 'dlr')),
        pdu         BLOB NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX deliveries_account ON deliveries (account, id);
    "#,
    // 2: consent log, audit events, held messages, outbox of optgate's own MTs.
    r#"
    -- One row per scope key; sender is '' under consent_scope = "campaign".
    CREATE TABLE consent (
        campaign             TEXT NOT NULL,
        sender               TEXT NOT NULL,
        recipient            TEXT NOT NULL,
        status               TEXT NOT NULL CHECK (status IN ('none', 'pending', 'active', 'refused')),
        updated_at           INTEGER NOT NULL,
        source               TEXT NOT NULL,
        opt_in_request_sent  INTEGER NOT NULL DEFAULT 0,
        custom_forwarded     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign, sender, recipient)
    ) WITHOUT ROWID;
    CREATE INDEX consent_recipient ON consent (recipient);
    CREATE INDEX consent_status ON consent (status, campaign);
    -- The audit trail: never updated, never deleted by optgate.
    CREATE TABLE events (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        at           INTEGER NOT NULL,
        campaign     TEXT NOT NULL,
        sender       TEXT NOT NULL,
        recipient    TEXT NOT NULL,
        kind         TEXT NOT NULL,
        old_status   TEXT,
        new_status   TEXT,
        source       TEXT NOT NULL,
        message_ids  TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_recipient ON events (recipient, id);
    CREATE INDEX events_at ON events (at);
    -- Held MTs: one row per PDU; the parts of a multipart share group_id
    -- (the id of the first part), which is the optgate message id.
    CREATE TABLE held (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        group_id             INTEGER NOT NULL,
        campaign             TEXT NOT NULL,
        sender               TEXT NOT NULL,
        recipient            TEXT NOT NULL,
        account              TEXT NOT NULL,
        held_at              INTEGER NOT NULL,
        expires_at           INTEGER NOT NULL,
        registered_delivery  INTEGER NOT NULL,
        pdu                  BLOB NOT NULL
    );
    CREATE INDEX held_key ON held (campaign, sender, recipient, id);
    CREATE INDEX held_expiry ON held (expires_at);
    CREATE INDEX held_group ON held (group_id);
    -- optgate's own MTs (responses, opt-in requests, footers, released
    -- holds), sent in id order per scope key and retried while the carrier
    -- is down.
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at  INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        campaign    TEXT NOT NULL,
        sender      TEXT NOT NULL,
        recipient   TEXT NOT NULL,
        account     TEXT NOT NULL DEFAULT '',
        optgate_id  TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        pdu         BLOB NOT NULL
    );
    "#,
    // 3: the id map as three generation tables without rowid
    // and without a time index. Rows written in TTL period k go to table
    // k mod 3; table (k + 1) mod 3 then holds only expired rows and is
    // emptied in chunks. One B-tree insert per mapping instead of three.
    r#"
    CREATE TABLE id_map_0 (
        carrier_id  TEXT PRIMARY KEY,
        account     TEXT NOT NULL,
        optgate_id  TEXT,
        created_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE id_map_1 (
        carrier_id  TEXT PRIMARY KEY,
        account     TEXT NOT NULL,
        optgate_id  TEXT,
        created_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE id_map_2 (
        carrier_id  TEXT PRIMARY KEY,
        account     TEXT NOT NULL,
        optgate_id  TEXT,
        created_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO id_map_0 SELECT carrier_id, account, optgate_id, created_at FROM id_map;
    DROP TABLE id_map;
    "#,
    // 4: when an at-most-once message (the opt-out confirmation) was handed
    // to a carrier bind. Set and committed before the PDU can reach the
    // socket; a row found with it set after a restart may have left and is
    // never sent again.
    r#"
    ALTER TABLE outbox ADD COLUMN handed_at INTEGER;
    "#,
    // 5: when the MO behind an opt-out confirmation reached optgate (the
    // confirmation deadline runs from it; the event records it).
    r#"
    ALTER TABLE outbox ADD COLUMN received_at INTEGER;
    "#,
    // 6: events by kind (`optgate events --kind probable_opt_out`, review).
    r#"
    CREATE INDEX events_kind ON events (kind, id);
    "#,
    // 7: opt-out webhooks: how far each webhook has read the events, and
    // the changes waiting for it (durable, retried with backoff).
    r#"
    CREATE TABLE webhook_cursor (
        url         TEXT PRIMARY KEY,
        last_event  INTEGER NOT NULL
    );
    CREATE TABLE webhook_outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        url         TEXT NOT NULL,
        event_id    INTEGER NOT NULL,
        recipient   TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        next_at     INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        body        TEXT NOT NULL
    );
    CREATE INDEX webhook_outbox_url ON webhook_outbox (url, id);
    "#,
    // 8, 9: reserved for the passthru and idmap branches (no-ops here;
    // replaced by theirs when merged).
    "SELECT 1;",
    "SELECT 1;",
    // 10: quiet hours: a held PDU waiting for the recipient's quiet hours
    // to end (ms; 0: a consent hold), and the due ones by time.
    r#"
    ALTER TABLE held ADD COLUMN quiet_until INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX held_quiet ON held (quiet_until) WHERE quiet_until > 0;
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    // The list is tiny; the cast can not truncate.
    MIGRATIONS.len() as u32
}

/// The database's `user_version`.
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Applies every missing step, each in one transaction with its version
/// bump, so a crash leaves the database at a whole step. Refuses a database
/// written by a newer optgate.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    let latest = latest_version();
    if found > latest {
        return Err(StoreError::SchemaTooNew { found, latest });
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step + 1)?;
        tx.commit()?;
        tracing::info!(version = step + 1, "store schema migrated");
    }
    Ok(())
}

/// Checks that a database opened read-only has exactly this build's schema.
pub fn check_current(conn: &Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    let latest = latest_version();
    match found.cmp(&latest) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew { found, latest }),
        std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld { found, latest }),
    }
}
