//! The store conformance suite (tests/conformance/) run against each
//! backend. Add a backend by implementing `conformance::Setup` for it and
//! one more `conformance_suite!` line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use std::path::PathBuf;

use optgate::store::{Store, StoreError, StoreOptions};

/// SQLite: a database file in a fresh temporary directory.
struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn path(&self) -> PathBuf {
        self.dir.path().join("optgate.db")
    }
}

/// Holds SQLite's write lock from another connection until dropped.
struct WriteLock(rusqlite::Connection);

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

impl conformance::Setup for Sqlite {
    async fn new() -> Self {
        Sqlite {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    async fn open_tuned(&self, tune: impl FnOnce(&mut StoreOptions)) -> Result<Store, StoreError> {
        let mut opts = StoreOptions::new(self.path());
        tune(&mut opts);
        Store::open(opts).await
    }

    async fn block_writes(&self) -> Box<dyn Send> {
        let c = rusqlite::Connection::open(self.path()).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        Box::new(WriteLock(c))
    }

    async fn open_unusable(&self) -> Result<Store, StoreError> {
        // The database's directory would be under a regular file.
        let file = self.dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        Store::open(StoreOptions::new(file.join("optgate.db"))).await
    }
}

conformance_suite!(sqlite, crate::Sqlite);
