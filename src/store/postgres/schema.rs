//! The PostgreSQL schema: an ordered list of migrations, like SQLite's
//! (`super::super::schema`), numbered on their own. Step 1 is the whole
//! schema SQLite reached in its three steps; later steps are appended and
//! never edited once released.
//!
//! Everything missing is applied at start in one transaction that first
//! takes a transaction-scoped advisory lock: two processes starting
//! together serialise on it, and the second finds the schema current.

use super::{PgConn, StoreError};

/// Key of the advisory lock held while migrating ("optgate1" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x6f70_7467_6174_6531;

/// Migration steps in order.
pub const MIGRATIONS: &[&str] = &[
    // 1: the tables of SQLite's steps 1-3. Times are BIGINT as there (Unix
    // milliseconds for the consent tables, seconds for id map and
    // deliveries) so a store copy moves values unchanged; ids are BIGSERIAL,
    // increasing with insertion order and never reused.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE id_map_0 (
        carrier_id  TEXT PRIMARY KEY,
        account     TEXT NOT NULL,
        optgate_id  TEXT,
        created_at  BIGINT NOT NULL
    );
    CREATE TABLE id_map_1 (LIKE id_map_0 INCLUDING ALL);
    CREATE TABLE id_map_2 (LIKE id_map_0 INCLUDING ALL);
    CREATE TABLE deliveries (
        id          BIGSERIAL PRIMARY KEY,
        account     TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('mo', 'dlr')),
        pdu         BYTEA NOT NULL,
        created_at  BIGINT NOT NULL
    );
    CREATE INDEX deliveries_account ON deliveries (account, id);
    -- One row per scope key; sender is '' under consent_scope = "campaign".
    CREATE TABLE consent (
        campaign             TEXT NOT NULL,
        sender               TEXT NOT NULL,
        recipient            TEXT NOT NULL,
        status               TEXT NOT NULL CHECK (status IN ('none', 'pending', 'active', 'refused')),
        updated_at           BIGINT NOT NULL,
        source               TEXT NOT NULL,
        opt_in_request_sent  BOOLEAN NOT NULL DEFAULT FALSE,
        custom_forwarded     BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (campaign, sender, recipient)
    );
    CREATE INDEX consent_recipient ON consent (recipient);
    CREATE INDEX consent_status ON consent (status, campaign);
    -- The audit trail: never updated, never deleted by optgate.
    CREATE TABLE events (
        id           BIGSERIAL PRIMARY KEY,
        at           BIGINT NOT NULL,
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
        id                   BIGSERIAL PRIMARY KEY,
        group_id             BIGINT NOT NULL,
        campaign             TEXT NOT NULL,
        sender               TEXT NOT NULL,
        recipient            TEXT NOT NULL,
        account              TEXT NOT NULL,
        held_at              BIGINT NOT NULL,
        expires_at           BIGINT NOT NULL,
        registered_delivery  SMALLINT NOT NULL,
        pdu                  BYTEA NOT NULL
    );
    CREATE INDEX held_key ON held (campaign, sender, recipient, id);
    CREATE INDEX held_expiry ON held (expires_at);
    CREATE INDEX held_group ON held (group_id);
    -- optgate's own MTs, sent in id order and retried while the carrier is down.
    CREATE TABLE outbox (
        id          BIGSERIAL PRIMARY KEY,
        created_at  BIGINT NOT NULL,
        kind        TEXT NOT NULL,
        campaign    TEXT NOT NULL,
        sender      TEXT NOT NULL,
        recipient   TEXT NOT NULL,
        account     TEXT NOT NULL DEFAULT '',
        optgate_id  TEXT,
        attempts    BIGINT NOT NULL DEFAULT 0,
        pdu         BYTEA NOT NULL
    );
    -- Consent writes counted per server process (backend pid), so the
    -- daemon can tell whether anyone else changed consent since its last
    -- batch and drop its cached rows (PostgreSQL's answer to SQLite's
    -- PRAGMA data_version). Each writer touches only its own row: no lock
    -- is shared between writers.
    CREATE TABLE consent_writes (
        pid  INTEGER PRIMARY KEY,
        n    BIGINT NOT NULL
    );
    CREATE FUNCTION optgate_count_consent_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO consent_writes (pid, n) VALUES (pg_backend_pid(), 1)
        ON CONFLICT (pid) DO UPDATE SET n = consent_writes.n + 1;
        -- Delivered after the commit to every daemon listening (listen.rs);
        -- one per transaction, PostgreSQL folds identical ones.
        PERFORM pg_notify('optgate_consent', '');
        RETURN NULL;
    END $$;
    CREATE TRIGGER consent_counted AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON consent
        FOR EACH STATEMENT EXECUTE FUNCTION optgate_count_consent_write();
    "#,
    // 2: SQLite's step 4, when an at-most-once message (the opt-out
    // confirmation) was handed to a carrier bind.
    r#"
    ALTER TABLE outbox ADD COLUMN handed_at BIGINT;
    "#,
    // 3: several instances on one database (DESIGN.md §7). The instances
    // and their heartbeats; consent notifications that name the changed key
    // and carry a number of a sequence, so a listener can tell that it
    // missed one (listen.rs); deliveries announced to the instance holding
    // the account's platform bind.
    r#"
    CREATE FUNCTION optgate_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
        SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
    $$;
    CREATE TABLE instances (
        name          TEXT PRIMARY KEY,
        started_at    BIGINT NOT NULL,
        heartbeat_at  BIGINT NOT NULL,
        os_pid        INTEGER NOT NULL,
        version       TEXT NOT NULL
    );
    CREATE SEQUENCE consent_change_seq;
    CREATE FUNCTION optgate_consent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE k consent;
    BEGIN
        IF TG_OP = 'DELETE' THEN k := OLD; ELSE k := NEW; END IF;
        PERFORM pg_notify('optgate_consent', nextval('consent_change_seq')::text
            || chr(31) || k.campaign || chr(31) || k.sender || chr(31) || k.recipient);
        RETURN NULL;
    END $$;
    CREATE FUNCTION optgate_consent_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('optgate_consent', nextval('consent_change_seq')::text || chr(31) || '*');
        RETURN NULL;
    END $$;
    DROP TRIGGER consent_counted ON consent;
    DROP FUNCTION optgate_count_consent_write();
    DROP TABLE consent_writes;
    CREATE TRIGGER consent_changed AFTER INSERT OR UPDATE OR DELETE ON consent
        FOR EACH ROW EXECUTE FUNCTION optgate_consent_changed();
    CREATE TRIGGER consent_truncated AFTER TRUNCATE ON consent
        FOR EACH STATEMENT EXECUTE FUNCTION optgate_consent_truncated();
    CREATE FUNCTION optgate_delivery_stored() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('optgate_delivery', NEW.account);
        RETURN NULL;
    END $$;
    CREATE TRIGGER delivery_stored AFTER INSERT ON deliveries
        FOR EACH ROW EXECUTE FUNCTION optgate_delivery_stored();
    "#,
    // 4: SQLite's step 5, when the MO behind an opt-out
    // confirmation reached optgate.
    r#"
    ALTER TABLE outbox ADD COLUMN received_at BIGINT;
    "#,
    // 5: SQLite's step 6, events by kind.
    r#"
    CREATE INDEX events_kind ON events (kind, id);
    "#,
    // 6: SQLite's step 7, opt-out webhooks.
    r#"
    CREATE TABLE webhook_cursor (
        url         TEXT PRIMARY KEY,
        last_event  BIGINT NOT NULL
    );
    CREATE TABLE webhook_outbox (
        id          BIGSERIAL PRIMARY KEY,
        url         TEXT NOT NULL,
        event_id    BIGINT NOT NULL,
        recipient   TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        next_at     BIGINT NOT NULL,
        attempts    BIGINT NOT NULL DEFAULT 0,
        body        TEXT NOT NULL
    );
    CREATE INDEX webhook_outbox_url ON webhook_outbox (url, id);
    "#,
    // 7: the consent key in byte order (SQLite's), whatever the database's
    // collation, so the primary key serves the listing's ORDER BY and its
    // page cursor (`consent::list_consent`): with the database's collation
    // and `COLLATE "C"` in the query, a page 500,000 rows deep sorted the
    // whole table (187 ms at 1M rows against 0.3 ms now). Only the indexes
    // are rebuilt; the rows are not rewritten.
    r#"
    ALTER TABLE consent
        ALTER COLUMN campaign TYPE TEXT COLLATE "C",
        ALTER COLUMN sender TYPE TEXT COLLATE "C",
        ALTER COLUMN recipient TYPE TEXT COLLATE "C";
    "#,
    // 8, 9: reserved for the passthru and idmap branches (no-ops here;
    // replaced by theirs when merged).
    "SELECT 1;",
    "SELECT 1;",
    // 10: SQLite's step 10, quiet hours: a held PDU waiting for the recipient's quiet hours
    // to end (ms; 0: a consent hold), and the due ones by time.
    r#"
    ALTER TABLE held ADD COLUMN quiet_until BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX held_quiet ON held (quiet_until) WHERE quiet_until > 0;
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    // The list is tiny; the cast can not truncate.
    MIGRATIONS.len() as u32
}

/// Holds the version; created by the first migration run.
const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS optgate_schema (version INTEGER NOT NULL, migrated_at BIGINT NOT NULL)";

/// The database's schema version (0 when optgate never migrated it).
pub fn version(conn: &mut PgConn) -> Result<u32, StoreError> {
    let exists: bool = conn
        .client()
        .query_one("SELECT to_regclass('optgate_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: i32 = conn
        .client()
        .query_one("SELECT COALESCE(MAX(version), 0) FROM optgate_schema", &[])?
        .get(0);
    Ok(u32::try_from(v).unwrap_or(0))
}

/// Applies every missing step in one transaction under the advisory lock;
/// returns how many were applied. Refuses a database written by a newer
/// optgate.
pub fn migrate(conn: &mut PgConn) -> Result<u32, StoreError> {
    let latest = latest_version();
    let applied = conn.transaction(|tx| {
        // Waits for another process migrating at the same moment; released
        // by this transaction's end.
        tx.c.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch(VERSION_TABLE)?;
        let found: i32 =
            tx.c.query_one("SELECT COALESCE(MAX(version), 0) FROM optgate_schema", &[])?
                .get(0);
        let found = u32::try_from(found).unwrap_or(0);
        if found > latest {
            return Err(StoreError::SchemaTooNew { found, latest });
        }
        for sql in MIGRATIONS.iter().skip(found as usize) {
            tx.batch(sql)?;
        }
        if found < latest {
            tx.c.execute("DELETE FROM optgate_schema", &[])?;
            tx.c.execute(
                "INSERT INTO optgate_schema (version, migrated_at) VALUES ($1, $2)",
                &[
                    &i32::try_from(latest).unwrap_or(i32::MAX),
                    &super::ops::now_unix(),
                ],
            )?;
        }
        Ok(latest - found)
    })?;
    if applied > 0 {
        tracing::info!(
            version = latest,
            steps = applied,
            "postgres schema migrated"
        );
    }
    Ok(applied)
}

/// Checks that a database has exactly this build's schema (for commands
/// that must not migrate).
pub fn check_current(conn: &mut PgConn) -> Result<(), StoreError> {
    let found = version(conn)?;
    let latest = latest_version();
    match found.cmp(&latest) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew { found, latest }),
        std::cmp::Ordering::Less => Err(StoreError::SchemaTooOld { found, latest }),
    }
}
