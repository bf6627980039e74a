//! The PostgreSQL backend (DESIGN.md §7): the same tables and operations as
//! the SQLite backend, over the blocking `postgres` client.
//!
//! The blocking client (a thin facade over tokio-postgres) is used because
//! the store's unit of work is synchronous and runs on the store's own OS
//! thread inside one batch transaction; it must never be called from a
//! tokio worker thread (it drives its own runtime). [`conn::connect`] is
//! safe anywhere: it connects on a short-lived thread of its own.
//!
//! Several instances on one database: [`listen`] (other connections'
//! consent and delivery writes, announced by NOTIFY), [`instance`] (the
//! instance name, its heartbeat, the claims of work one instance does at a
//! time), [`locks`] (the advisory lock numbers they agree on).
//!
//! Statements are prepared once per connection and kept in a
//! [`StmtCache`]; every SQL text is a `&'static str`, so the cache key is
//! the text itself.

mod backend;
pub mod compliance;
pub mod conn;
pub mod consent;
pub mod copy;
pub mod instance;
pub mod listen;
pub mod locks;
pub mod ops;
pub mod schema;

use std::collections::HashMap;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement, Transaction};

use super::{DbError, StoreError};

pub use backend::{PgBackend, PgTxn};

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(std::sync::Arc::new(e))
    }
}

/// Opens the store of a daemon (or a test) on PostgreSQL: the store
/// thread, then, for a named instance, the instance claim and its keeper
/// (`instance.rs`), and the listener of other connections' writes
/// (`listen.rs`).
pub(super) async fn open_store(opts: super::StoreOptions) -> Result<super::Store, StoreError> {
    use std::sync::Arc;
    let (url, instance) = (opts.url.clone(), opts.instance.clone());
    let (lease, timeout) = (opts.lease, opts.connect_timeout);
    let readers = super::readers::Readers::new(url.clone(), opts.pool_size, timeout);
    let pid = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let own = Arc::clone(&pid);
    let mut store =
        super::Store::open_with(opts, move |o| PgBackend::open_with_pid(o, own)).await?;
    store.readers = Some(Arc::new(readers));
    let cache = Arc::downgrade(store.consent_cache());
    if !instance.is_empty() {
        let (u, c) = (url.clone(), cache.clone());
        // The blocking client may not run on a tokio worker.
        let claims =
            tokio::task::spawn_blocking(move || instance::start(&u, &instance, lease, timeout, c))
                .await
                .map_err(|_| StoreError::Closed)??;
        store.claims = Some(claims);
    }
    listen::spawn(url, cache, pid, Arc::clone(&store.elsewhere))
        .map_err(|e| StoreError::Thread(Arc::new(e)))?;
    Ok(store)
}

/// Statement parameters.
pub type Params<'p> = [&'p (dyn ToSql + Sync)];

/// Prepared statements of one connection, by SQL text, and whether the
/// connection was lost.
#[derive(Default)]
pub struct StmtCache {
    stmts: HashMap<&'static str, Statement>,
    /// Set by the first error that lost the connection (not a server's
    /// answer to one statement): the transaction is gone with it.
    lost: Option<DbError>,
    /// A statement failed outside any savepoint: PostgreSQL has aborted the
    /// whole transaction, and a COMMIT would silently roll it back.
    failed: Option<DbError>,
    /// Statements run inside a request's savepoint (their failure undoes
    /// only the savepoint).
    in_savepoint: bool,
    /// The last request's savepoint is released lazily, together with the
    /// next SAVEPOINT (one round trip per request instead of two); COMMIT
    /// releases the last one.
    release_pending: bool,
}

impl StmtCache {
    /// Shares a driver error, remembering it when it lost the connection
    /// (no answer from the server: closed socket, I/O error) rather than
    /// being the server's answer to one statement.
    pub(crate) fn note_lost(&mut self, e: postgres::Error) -> DbError {
        let lost = e.is_closed() || e.as_db_error().is_none();
        let e: DbError = std::sync::Arc::new(e);
        if lost && self.lost.is_none() {
            self.lost = Some(e.clone());
        }
        if !self.in_savepoint && self.failed.is_none() {
            self.failed = Some(e.clone());
        }
        e
    }

    /// Forgets the previous transaction's state (at BEGIN).
    fn begin(&mut self) {
        self.failed = None;
        self.in_savepoint = false;
        self.release_pending = false;
    }

    /// Why the current transaction can not commit, if it can not.
    fn doomed(&self) -> Option<DbError> {
        self.lost.clone().or_else(|| self.failed.clone())
    }
}

/// A connection and its prepared statements.
pub struct PgConn {
    client: Client,
    stmts: StmtCache,
}

impl PgConn {
    /// Connects (bounded by `timeout` as a whole; see [`conn::connect`]).
    pub fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        Ok(Self {
            client: conn::connect(url, timeout)?,
            stmts: StmtCache::default(),
        })
    }

    /// The bare client (for statements outside a transaction).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Runs `f` in one transaction and commits it; an error rolls back.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Pg<'_, Transaction<'_>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.client.transaction()?;
        self.stmts.begin();
        let out = f(&mut Pg {
            c: &mut tx,
            stmts: &mut self.stmts,
        })?;
        if let Some(e) = self.stmts.doomed() {
            return Err(StoreError::Commit(e));
        }
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a transaction opened by `begin` (e.g. with an isolation
    /// level) and commits it; an error (of any type that can hold a store
    /// error) rolls back.
    pub fn transaction_with<T, E: From<StoreError>>(
        &mut self,
        begin: &str,
        f: impl FnOnce(Pg<'_, Client>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.client.batch_execute(begin).map_err(StoreError::from)?;
        self.stmts.begin();
        let mut out = f(Pg {
            c: &mut self.client,
            stmts: &mut self.stmts,
        });
        if let (Ok(_), Some(e)) = (&out, self.stmts.doomed()) {
            out = Err(StoreError::Commit(e).into());
        }
        let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
        match (self.client.batch_execute(end), out) {
            (Ok(()), out) => out,
            (Err(e), Ok(_)) => Err(StoreError::Commit(std::sync::Arc::new(e)).into()),
            // The work's own error says more than a failed rollback.
            (Err(_), Err(e)) => Err(e),
        }
    }

    /// Statements run outside a transaction (each commits by itself).
    pub fn autocommit(&mut self) -> Pg<'_, Client> {
        Pg {
            c: &mut self.client,
            stmts: &mut self.stmts,
        }
    }

    /// Why the connection is gone (server gone, network, fatal error), if
    /// it is.
    pub fn lost(&self) -> Option<DbError> {
        if let Some(e) = &self.stmts.lost {
            return Some(e.clone());
        }
        self.client.is_closed().then(|| {
            let e: DbError = std::sync::Arc::new(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "connection to PostgreSQL closed",
            ));
            e
        })
    }
}

/// A client or transaction with the connection's statement cache: what the
/// SQL functions of this backend run on.
pub struct Pg<'a, C: GenericClient> {
    c: &'a mut C,
    stmts: &'a mut StmtCache,
}

impl<'a, C: GenericClient> Pg<'a, C> {
    /// Wraps a client or transaction of the connection `stmts` belongs to.
    pub fn new(c: &'a mut C, stmts: &'a mut StmtCache) -> Self {
        Self { c, stmts }
    }

    /// A savepoint inside this transaction: the closure's statements are
    /// undone if it fails, and the enclosing transaction stays usable.
    pub fn savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Pg<'_, Transaction<'_>>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut sp = self.c.transaction()?;
        let outer = std::mem::replace(&mut self.stmts.in_savepoint, true);
        let out = f(&mut Pg {
            c: &mut sp,
            stmts: self.stmts,
        });
        self.stmts.in_savepoint = outer;
        // Dropping `sp` on an error rolls back to the savepoint.
        let out = out?;
        sp.commit()?;
        Ok(out)
    }

    fn prepared(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.stmts.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.c.prepare(sql).map_err(|e| self.note(e))?;
        self.stmts.stmts.insert(sql, s.clone());
        Ok(s)
    }

    /// Converts a driver error, remembering it when it lost the connection.
    fn note(&mut self, e: postgres::Error) -> StoreError {
        StoreError::Database(self.stmts.note_lost(e))
    }

    /// Runs a statement; returns the rows it changed.
    pub fn execute(&mut self, sql: &'static str, p: &Params<'_>) -> Result<u64, StoreError> {
        let s = self.prepared(sql)?;
        self.c.execute(&s, p).map_err(|e| self.note(e))
    }

    /// Every row of a query.
    pub fn query(&mut self, sql: &'static str, p: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.prepared(sql)?;
        self.c.query(&s, p).map_err(|e| self.note(e))
    }

    /// The one row a query returns.
    pub fn query_one(&mut self, sql: &'static str, p: &Params<'_>) -> Result<Row, StoreError> {
        let s = self.prepared(sql)?;
        self.c.query_one(&s, p).map_err(|e| self.note(e))
    }

    /// The row of a query returning at most one.
    pub fn query_opt(
        &mut self,
        sql: &'static str,
        p: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let s = self.prepared(sql)?;
        self.c.query_opt(&s, p).map_err(|e| self.note(e))
    }

    /// Runs SQL text of several statements, unprepared (migrations).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.c.batch_execute(sql).map_err(|e| self.note(e))
    }
}

/// A `u32` limit as the BIGINT parameter PostgreSQL's LIMIT takes.
fn limit(n: u32) -> i64 {
    i64::from(n)
}
