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

mod common;

/// PostgreSQL: a fresh server from the test kit with one database.
struct Postgres {
    url: String,
    server: common::postgres::Postgres,
}

/// Holds an EXCLUSIVE lock on every table (reads pass, writes wait) from
/// another session until dropped. The blocking client may not run on a
/// tokio worker, so the session lives on a thread of its own.
struct TableLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TableLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl conformance::Setup for Postgres {
    const BLOCKED_WRITE_FAILS_THE_BATCH: bool = false;

    async fn new() -> Self {
        let server = common::postgres::Postgres::start();
        Postgres {
            url: server.create_db(),
            server,
        }
    }

    async fn open_tuned(&self, tune: impl FnOnce(&mut StoreOptions)) -> Result<Store, StoreError> {
        let mut opts = StoreOptions::postgres(&self.url);
        tune(&mut opts);
        Store::open(opts).await
    }

    async fn block_writes(&self) -> Box<dyn Send> {
        let url = self.url.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            c.batch_execute(
                "BEGIN; LOCK TABLE meta, consent, events, held, outbox, deliveries, \
                 id_map_0, id_map_1, id_map_2 IN EXCLUSIVE MODE",
            )
            .unwrap();
            locked_tx.send(()).unwrap();
            // Until the guard drops its sender.
            let _ = release_rx.recv();
            let _ = c.batch_execute("ROLLBACK");
        });
        locked_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        Box::new(TableLock {
            release: Some(release_tx),
            thread: Some(thread),
        })
    }

    async fn open_unusable(&self) -> Result<Store, StoreError> {
        let _ = &self.server;
        // Nothing listens there.
        let url = format!("postgres://u:p@127.0.0.1:{}/db", common::free_port());
        Store::open(StoreOptions::postgres(url)).await
    }
}

conformance_suite!(postgres, crate::Postgres);
