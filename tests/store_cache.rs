//! The consent read cache stays correct against every writer: the store
//! thread's own writes, another connection's commits, and the command line
//! (which also tells the daemon over the control socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use optgate::policy::ConsentStatus;
use optgate::store::cache::ConsentCache;
use optgate::store::consent::{self, ConsentRow, Key};
use optgate::store::{Database, Durable, Store, StoreOptions, StoreTxn};

fn key(r: &str) -> Key {
    Key {
        campaign: "c".into(),
        sender: String::new(),
        recipient: r.into(),
    }
}

/// Reads `k` on the store thread and offers the row to the cache.
async fn read_and_fill(store: &Store, k: Key) -> ConsentRow {
    store
        .transact(move |env| {
            let row = env.consent(&k)?;
            env.fill_consent(&row);
            Ok((row, Durable::Now))
        })
        .await
        .unwrap()
}

/// Sets `k` to `status` on the store thread, answered after the commit.
async fn set(store: &Store, k: &Key, status: ConsentStatus, source: &'static str) {
    let k = k.clone();
    store
        .transact(move |env| {
            env.set_status(&k, status, source, "")?;
            Ok(((), Durable::AfterCommit))
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn store_writes_drop_the_key_before_the_writer_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreOptions::new(dir.path().join("o.db")))
        .await
        .unwrap();
    let cache = store.consent_cache().clone();
    let (a, b) = (key("1"), key("2"));
    for k in [&a, &b] {
        set(&store, k, ConsentStatus::Active, "test").await;
    }
    read_and_fill(&store, a.clone()).await;
    read_and_fill(&store, b.clone()).await;
    assert_eq!(
        cache.state(&a).map(|s| s.status),
        Some(ConsentStatus::Active)
    );

    // A STOP-like change: when its answer arrives, the key is gone.
    set(&store, &a, ConsentStatus::Refused, "STOP").await;
    assert!(!cache.contains(&a), "the written key was dropped");
    assert!(cache.contains(&b), "other keys stay");

    // A work that reads and writes the same key does not cache it.
    let k = b.clone();
    store
        .transact(move |env| {
            let row = env.consent(&k)?;
            env.mark(&k, consent::Flag::CustomForwarded)?;
            env.fill_consent(&row);
            Ok(((), Durable::Now))
        })
        .await
        .unwrap();
    assert!(!cache.contains(&b));
    // Read again: now the cache has the refused row.
    let row = read_and_fill(&store, a.clone()).await;
    assert_eq!(row.status, ConsentStatus::Refused);
    assert_eq!(
        cache.state(&a).map(|s| s.status),
        Some(ConsentStatus::Refused)
    );
    store.close().await.unwrap();
}

/// A store at `path` whose cache holds key "1" (status none).
async fn store_with_cached_key(path: &std::path::Path) -> (Store, Arc<ConsentCache>, Key) {
    let store = Store::open(StoreOptions::new(path)).await.unwrap();
    let cache = store.consent_cache().clone();
    let a = key("1");
    read_and_fill(&store, a.clone()).await;
    assert!(cache.contains(&a));
    (store, cache, a)
}

#[tokio::test]
async fn another_connections_commit_empties_the_cache_at_the_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    let (store, cache, a) = store_with_cached_key(&path).await;

    // A hand edit: a plain connection, no control socket.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute(
            "INSERT INTO consent (campaign, sender, recipient, status, updated_at, source)
             VALUES ('c', '', '1', 'refused', 0, 'hand')",
            [],
        )
        .unwrap();
    assert!(cache.contains(&a), "not seen before a batch runs");
    store.ping().await.unwrap();
    assert!(!cache.contains(&a), "data_version moved: cache emptied");
    let row = read_and_fill(&store, a.clone()).await;
    assert_eq!(row.status, ConsentStatus::Refused);
    store.close().await.unwrap();
}

#[tokio::test]
async fn the_command_line_empties_a_running_daemons_cache_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    let (store, cache, a) = store_with_cached_key(&path).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let control = tokio::spawn(optgate::store::cache::serve_control(
        path.clone(),
        cache.clone(),
        rx,
    ));
    // Wait for the socket to exist.
    let sock = optgate::store::cache::control_path(&path);
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(cache.contains(&a));
    // Database::write is what `optgate consent set/import` use; it blocks,
    // so run it off the runtime. No batch runs in between.
    let p = path.clone();
    tokio::task::spawn_blocking(move || {
        let mut db = Database::open(&p).unwrap();
        db.write(|t| t.set_status(&key("1"), ConsentStatus::Refused, "cli", ""))
            .unwrap();
    })
    .await
    .unwrap();
    assert!(!cache.contains(&a), "emptied before the command returned");
    tx.send(true).unwrap();
    control.await.unwrap();
    assert!(!sock.exists(), "socket removed at shutdown");
    assert_eq!(
        optgate::store::cache::notify_daemon(&path),
        optgate::store::cache::Notified::NoDaemon
    );
    store.close().await.unwrap();
}
