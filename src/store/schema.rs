//! The database schema: an ordered list of migrations, applied by
//! `PRAGMA user_version` (version N = the first N steps are applied).
//!
//! Append new steps at the end; never edit a released step.

use rusqlite::Connection;

use super::StoreError;

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
