//! Faults: a database that can not be written yields errors to every waiter,
//! never a panic and never an acknowledgement, and the store recovers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::Immutable;

use optgate::store::{DeliveryKind, Store, StoreError, StoreOptions};

fn opts(path: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(path);
    o.busy_timeout = Duration::from_millis(20);
    o
}

#[tokio::test]
async fn a_held_write_lock_fails_the_batch_then_the_store_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    let store = Store::open(opts(&path)).await.unwrap();

    // Another process (e.g. a CLI command) holds the write lock.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let err = store
        .enqueue_delivery("pbx".into(), b"mo".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Commit(_)), "{err:?}");
    assert!(!store.is_writable().await);
    store
        .map_message_id("C-1".into(), "pbx".into(), None)
        .await
        .unwrap();
    assert!(
        store.flush().await.is_err(),
        "flush must report the failed commit"
    );
    let stats = store.stats();
    assert!(stats.failed_commits >= 3, "{stats:?}");
    // The lock stopped the batches before they began: the buffered id map
    // row was never taken, so it is not lost but written once the lock goes.
    assert_eq!(stats.lost_writes, 0, "{stats:?}");

    other.execute_batch("ROLLBACK").unwrap();
    assert!(store.is_writable().await);
    assert_eq!(
        store.count_deliveries().await.unwrap(),
        0,
        "nothing was stored"
    );
    assert_eq!(
        store
            .lookup_message_id("C-1".into())
            .await
            .unwrap()
            .map(|o| o.account),
        Some("pbx".to_string())
    );
    store
        .enqueue_delivery("pbx".into(), b"mo".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    assert_eq!(store.count_deliveries().await.unwrap(), 1);
    store.close().await.unwrap();
}

/// Root ignores file modes, so `chmod` alone can not make a file read-only
/// for it: add the immutable flag too where the file system allows.
fn make_read_only(path: &Path) -> Option<Immutable> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).ok()?;
    if std::fs::OpenOptions::new().write(true).open(path).is_err() {
        return Some(Immutable(Vec::new()));
    }
    Immutable::apply(&[path.to_path_buf()])
}

#[tokio::test]
async fn a_read_only_database_file_yields_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    let store = Store::open(opts(&path)).await.unwrap();
    store
        .enqueue_delivery("pbx".into(), b"kept".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    store.close().await.unwrap();
    // Only the main file: SQLite's -wal/-shm must stay creatable, as on a
    // real system where the file (not the directory) lost its write bit.
    let Some(_guard) = make_read_only(&path) else {
        eprintln!("SKIPPED: can not make a file read-only here (root without chattr)");
        return;
    };

    // SQLite would open an unwritable file read-only and fail every write;
    // the store refuses it at start, with the reason, instead.
    let err = Store::open(opts(&path)).await.unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err:?}");
    assert!(err.to_string().contains("read-only"), "{err}");
    // The CLI's read-only access still works on it.
    let ro = optgate::store::Database::open_readonly(&path).unwrap();
    assert_eq!(ro.pending_deliveries("pbx", 10).unwrap()[0].pdu, b"kept");
}
