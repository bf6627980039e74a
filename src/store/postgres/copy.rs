//! `optgate store copy`: an SQLite installation's whole state into a
//! PostgreSQL database, in one PostgreSQL transaction, verified by row
//! counts before it commits.
//!
//! The SQLite file is read in one read transaction (a consistent snapshot,
//! also while a daemon runs — but stop it first, or what it writes after
//! the snapshot is not copied). Ids are kept, so message ids given to
//! platforms (held groups) and the order of events stay the same; the
//! PostgreSQL sequences are then moved past them.

use std::path::Path;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::{Connection, OpenFlags};

use super::{schema, PgConn};
use crate::store::sqlite::schema as sqlite_schema;
use crate::store::StoreError;

/// Column kinds, as SQLite stores them and PostgreSQL wants them.
#[derive(Clone, Copy)]
enum Col {
    Text,
    OptText,
    Int,
    OptInt,
    SmallInt,
    Bool,
    Bytes,
}

impl Col {
    fn pg_type(self) -> Type {
        match self {
            Col::Text | Col::OptText => Type::TEXT,
            Col::Int | Col::OptInt => Type::INT8,
            Col::SmallInt => Type::INT2,
            Col::Bool => Type::BOOL,
            Col::Bytes => Type::BYTEA,
        }
    }
}

/// One value read from SQLite.
enum Val {
    Text(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    SmallInt(i16),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Val {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Val::Text(v) => v,
            Val::Int(v) => v,
            Val::OptInt(v) => v,
            Val::SmallInt(v) => v,
            Val::Bool(v) => v,
            Val::Bytes(v) => v,
        }
    }
}

use Col::*;

/// Every table of the shared schema with its columns (the same names on
/// both backends); tables with a BIGSERIAL `id` come with its sequence.
const TABLES: &[(&str, &[(&str, Col)])] = &[
    ("meta", &[("key", Text), ("value", Text)]),
    (
        "consent",
        &[
            ("campaign", Text),
            ("sender", Text),
            ("recipient", Text),
            ("status", Text),
            ("updated_at", Int),
            ("source", Text),
            ("opt_in_request_sent", Bool),
            ("custom_forwarded", Bool),
        ],
    ),
    (
        "events",
        &[
            ("id", Int),
            ("at", Int),
            ("campaign", Text),
            ("sender", Text),
            ("recipient", Text),
            ("kind", Text),
            ("old_status", OptText),
            ("new_status", OptText),
            ("source", Text),
            ("message_ids", Text),
        ],
    ),
    (
        "held",
        &[
            ("id", Int),
            ("group_id", Int),
            ("campaign", Text),
            ("sender", Text),
            ("recipient", Text),
            ("account", Text),
            ("held_at", Int),
            ("expires_at", Int),
            ("registered_delivery", SmallInt),
            ("pdu", Bytes),
        ],
    ),
    (
        "outbox",
        &[
            ("id", Int),
            ("created_at", Int),
            ("kind", Text),
            ("campaign", Text),
            ("sender", Text),
            ("recipient", Text),
            ("account", Text),
            ("optgate_id", OptText),
            ("attempts", Int),
            ("pdu", Bytes),
            ("handed_at", OptInt),
            ("received_at", OptInt),
        ],
    ),
    (
        "deliveries",
        &[
            ("id", Int),
            ("account", Text),
            ("kind", Text),
            ("pdu", Bytes),
            ("created_at", Int),
        ],
    ),
    ("id_map_0", ID_MAP),
    ("id_map_1", ID_MAP),
    ("id_map_2", ID_MAP),
];

const ID_MAP: &[(&str, Col)] = &[
    ("carrier_id", Text),
    ("account", Text),
    ("optgate_id", OptText),
    ("created_at", Int),
];

/// Tables whose `id` is a BIGSERIAL.
const SERIAL: &[&str] = &["events", "held", "outbox", "deliveries"];

/// Rows copied per table, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows) for every table.
    pub tables: Vec<(&'static str, u64)>,
}

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A store could not be opened or failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The target already holds data and `overwrite` was not given.
    #[error("the target database is not empty ({table}: {rows} rows); add --overwrite to replace its contents")]
    NotEmpty {
        /// The first non-empty table.
        table: &'static str,
        /// Its rows.
        rows: u64,
    },
    /// The counts after copying differ from the source's: nothing was committed.
    #[error("verification failed, nothing committed: {table} has {source_rows} rows in SQLite but {target_rows} in PostgreSQL")]
    Mismatch {
        table: &'static str,
        source_rows: u64,
        target_rows: u64,
    },
}

impl From<rusqlite::Error> for CopyError {
    fn from(e: rusqlite::Error) -> Self {
        CopyError::Store(e.into())
    }
}

impl From<postgres::Error> for CopyError {
    fn from(e: postgres::Error) -> Self {
        CopyError::Store(e.into())
    }
}

fn count_sql(table: &str) -> String {
    format!("SELECT COUNT(*) FROM {table}")
}

/// Copies the SQLite database at `from` into the PostgreSQL database at
/// `to` (migrated first). Refuses a target with any row unless `overwrite`,
/// which empties it first. Everything happens in one PostgreSQL
/// transaction, committed only when every table's row count matches.
pub fn sqlite_to_postgres(
    from: &Path,
    to: &str,
    overwrite: bool,
    timeout: Duration,
) -> Result<CopyReport, CopyError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(from, flags)?;
    src.busy_timeout(Duration::from_secs(5))?;
    sqlite_schema::check_current(&src)?;
    // One read transaction: every table from the same snapshot.
    src.execute_batch("BEGIN")?;

    let mut dst = PgConn::connect(to, timeout)?;
    schema::migrate(&mut dst)?;
    let mut tx = dst.client().transaction()?;
    for (table, _) in TABLES {
        let n: i64 = tx.query_one(count_sql(table).as_str(), &[])?.get(0);
        if n > 0 && !overwrite {
            return Err(CopyError::NotEmpty {
                table,
                rows: u64::try_from(n).unwrap_or(0),
            });
        }
    }
    if overwrite {
        let all: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
        tx.batch_execute(&format!("TRUNCATE {}", all.join(", ")))?;
    }

    // One notification for the whole copy instead of one per consent row
    // and delivery (every instance empties its cache on it); the ALTERs are
    // part of this transaction, so a failed copy leaves the triggers on.
    tx.batch_execute(
        "ALTER TABLE consent DISABLE TRIGGER consent_changed;
         ALTER TABLE deliveries DISABLE TRIGGER delivery_stored",
    )?;
    let mut report = CopyReport { tables: Vec::new() };
    for (table, cols) in TABLES {
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let types: Vec<Type> = cols.iter().map(|(_, c)| c.pg_type()).collect();
        let sink =
            tx.copy_in(format!("COPY {table} ({}) FROM STDIN BINARY", names.join(", ")).as_str())?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        let mut stmt = src.prepare(&format!("SELECT {} FROM {table}", names.join(", ")))?;
        let mut rows = stmt.query([])?;
        let mut copied = 0u64;
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(cols.len());
            for (i, (_, col)) in cols.iter().enumerate() {
                vals.push(match col {
                    Text => Val::Text(Some(r.get(i)?)),
                    OptText => Val::Text(r.get(i)?),
                    Int => Val::Int(r.get(i)?),
                    OptInt => Val::OptInt(r.get(i)?),
                    SmallInt => Val::SmallInt(r.get(i)?),
                    Bool => Val::Bool(r.get::<_, i64>(i)? != 0),
                    Bytes => Val::Bytes(r.get(i)?),
                });
            }
            let refs: Vec<&(dyn ToSql + Sync)> = vals.iter().map(Val::as_sql).collect();
            writer.write(&refs)?;
            copied += 1;
        }
        writer.finish()?;
        report.tables.push((table, copied));
    }
    for table in SERIAL {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        ))?;
    }
    // Verify against both sides before committing.
    for (table, copied) in &report.tables {
        let source: i64 = src.query_row(&count_sql(table), [], |r| r.get(0))?;
        let target: i64 = tx.query_one(count_sql(table).as_str(), &[])?.get(0);
        let (source, target) = (
            u64::try_from(source).unwrap_or(0),
            u64::try_from(target).unwrap_or(0),
        );
        if source != target || target != *copied {
            return Err(CopyError::Mismatch {
                table,
                source_rows: source,
                target_rows: target,
            });
        }
    }
    tx.batch_execute(
        "ALTER TABLE consent ENABLE TRIGGER consent_changed;
         ALTER TABLE deliveries ENABLE TRIGGER delivery_stored;
         SELECT pg_notify('optgate_consent', nextval('consent_change_seq')::text || chr(31) || '*');
         SELECT pg_notify('optgate_delivery', '*')",
    )?;
    tx.commit()?;
    Ok(report)
}
