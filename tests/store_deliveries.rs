//! Stored deliveries, id map, group commit and schema through the `Store` API.

use std::path::Path;

use optgate::store::{
    schema, Database, DeliveryKind, MessageOwner, Store, StoreError, StoreOptions,
};

fn opts(dir: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(dir.join("nested/dir/optgate.db"));
    o.max_stored_deliveries = 10;
    o
}

async fn enqueue(
    store: &Store,
    account: &str,
    pdu: &[u8],
    kind: DeliveryKind,
) -> Result<u64, StoreError> {
    store
        .enqueue_delivery(account.into(), pdu.to_vec(), kind)
        .await
}

#[tokio::test]
async fn deliveries_survive_reopen_in_insertion_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(dir.path())).await.unwrap();
    enqueue(&store, "pbx", b"mo-1", DeliveryKind::Mo)
        .await
        .unwrap();
    enqueue(&store, "crm", b"other", DeliveryKind::Mo)
        .await
        .unwrap();
    enqueue(&store, "pbx", b"dlr-2", DeliveryKind::Dlr)
        .await
        .unwrap();
    enqueue(&store, "pbx", b"mo-3", DeliveryKind::Mo)
        .await
        .unwrap();
    store.close().await.unwrap();

    let store = Store::open(opts(dir.path())).await.unwrap();
    let pending = store.pending_deliveries("pbx".into(), 10).await.unwrap();
    let pdus: Vec<&[u8]> = pending.iter().map(|d| d.pdu.as_slice()).collect();
    assert_eq!(pdus, [&b"mo-1"[..], b"dlr-2", b"mo-3"]);
    assert_eq!(pending[1].kind, DeliveryKind::Dlr);
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(store.count_deliveries().await.unwrap(), 4);

    assert!(store.ack_delivery(pending[0].id).await.unwrap());
    assert!(
        !store.ack_delivery(pending[0].id).await.unwrap(),
        "second ack finds nothing"
    );
    let limited = store.pending_deliveries("pbx".into(), 1).await.unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].pdu, b"dlr-2");
    assert_eq!(store.count_deliveries().await.unwrap(), 3);
    store.close().await.unwrap();
}

#[tokio::test]
async fn stored_deliveries_are_bounded_also_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.max_stored_deliveries = 3;
    let store = Store::open(o.clone()).await.unwrap();
    let first = enqueue(&store, "pbx", b"1", DeliveryKind::Mo)
        .await
        .unwrap();
    enqueue(&store, "pbx", b"2", DeliveryKind::Mo)
        .await
        .unwrap();
    enqueue(&store, "pbx", b"3", DeliveryKind::Mo)
        .await
        .unwrap();
    let err = store
        .enqueue_delivery("pbx".into(), b"4".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Full { limit: 3 }), "{err:?}");
    store.close().await.unwrap();

    let store = Store::open(o).await.unwrap();
    let again = store
        .enqueue_delivery("pbx".into(), b"4".to_vec(), DeliveryKind::Mo)
        .await;
    assert!(matches!(again, Err(StoreError::Full { .. })), "{again:?}");
    store.ack_delivery(first).await.unwrap();
    enqueue(&store, "pbx", b"4", DeliveryKind::Mo)
        .await
        .unwrap();
    assert_eq!(store.count_deliveries().await.unwrap(), 3);
    store.close().await.unwrap();
}

#[tokio::test]
async fn id_map_is_written_behind_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(dir.path())).await.unwrap();
    store
        .map_message_id("C-1".into(), "pbx".into(), None)
        .await
        .unwrap();
    store
        .map_message_id("C-2".into(), "crm".into(), Some("1234".into()))
        .await
        .unwrap();
    store.flush().await.unwrap();
    store.close().await.unwrap();

    let store = Store::open(opts(dir.path())).await.unwrap();
    let one = store
        .lookup_message_id("C-1".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((one.account.as_str(), one.optgate_id), ("pbx", None));
    let two = store
        .lookup_message_id("C-2".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.optgate_id.as_deref(), Some("1234"));
    assert_eq!(store.lookup_message_id("nope".into()).await.unwrap(), None);
    store.close().await.unwrap();
}

#[tokio::test]
async fn expired_id_map_rows_are_ignored_and_purged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    {
        // An expired row in each of the three generation tables.
        let _db = Database::open(&path).unwrap();
        for t in 0..3 {
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute(
                    &format!("INSERT INTO id_map_{t} (carrier_id, account, optgate_id, created_at) VALUES ('old', 'pbx', NULL, 0)"),
                    [],
                )
                .unwrap();
        }
    }
    let count = |path: &std::path::Path| -> i64 {
        let _ro = Database::open_readonly(path).unwrap();
        (0..3)
            .map(|t| {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .query_row(&format!("SELECT COUNT(*) FROM id_map_{t}"), [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .unwrap()
            })
            .sum()
    };
    let store = Store::open(StoreOptions::new(&path)).await.unwrap();
    assert_eq!(store.lookup_message_id("old".into()).await.unwrap(), None);
    // The purge runs after the first batch; a flush makes sure it has. It
    // empties the one table no one writes to in this TTL period; the others
    // get their turn in later periods (their expired rows are ignored).
    store.flush().await.unwrap();
    assert_eq!(count(&path), 2);
    // A fresh mapping is found, an expired one with the same id is not.
    store
        .map_message_id("old".into(), "crm".into(), None)
        .await
        .unwrap();
    assert_eq!(
        store.lookup_message_id("old".into()).await.unwrap(),
        Some(MessageOwner {
            account: "crm".into(),
            optgate_id: None
        })
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.max_stored_deliveries = 10_000;
    let store = Store::open(o).await.unwrap();
    let before = store.stats();
    let tasks: Vec<_> = (0..1000u32)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.enqueue_delivery("pbx".into(), i.to_be_bytes().to_vec(), DeliveryKind::Mo)
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1000);
    let after = store.stats();
    let commits = after.commits - before.commits;
    assert_eq!(after.requests - before.requests, 1000);
    // One commit per request would be 1000; group commit needs far fewer.
    eprintln!(
        "group commit: {commits} commits for 1000 enqueues, last commit {:?}",
        after.last_commit
    );
    assert!(commits < 100, "{commits} commits for 1000 requests");
    assert_eq!(store.count_deliveries().await.unwrap(), 1000);
    store.close().await.unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent_and_newer_schemas_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    for _ in 0..2 {
        let store = Store::open(StoreOptions::new(&path)).await.unwrap();
        store.ping().await.unwrap();
        store.close().await.unwrap();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), schema::latest_version());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", schema::latest_version() + 1)
        .unwrap();
    drop(db);
    let err = Store::open(StoreOptions::new(&path)).await.unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
    let err = Database::open_readonly(&path).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err:?}");
}

#[tokio::test]
async fn readonly_database_reads_what_the_daemon_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    assert!(Database::open_readonly(&path).is_err(), "missing file");
    let store = Store::open(StoreOptions::new(&path)).await.unwrap();
    store
        .enqueue_delivery("pbx".into(), b"x".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    let ro = Database::open_readonly(&path).unwrap();
    assert_eq!(ro.count_deliveries().unwrap(), 1);
    assert_eq!(ro.pending_deliveries("pbx", 5).unwrap()[0].pdu, b"x");
    store.close().await.unwrap();
}

#[tokio::test]
async fn closed_store_refuses_requests() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(opts(dir.path())).await.unwrap();
    let other = store.clone();
    assert!(store.is_writable().await);
    store.close().await.unwrap();
    assert!(matches!(other.ping().await, Err(StoreError::Closed)));
    assert!(matches!(
        other.map_message_id("c".into(), "a".into(), None).await,
        Err(StoreError::Closed)
    ));
    assert!(!other.is_writable().await);
}

#[tokio::test]
async fn a_version_2_database_keeps_its_id_map_through_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    {
        // The schema as optgate wrote it before the id map generations.
        let mut c = rusqlite::Connection::open(&path).unwrap();
        for sql in &schema::MIGRATIONS[..2] {
            let tx = c.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            tx.commit().unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        c.execute(
            "INSERT INTO id_map (carrier_id, account, optgate_id, created_at) VALUES ('C-9', 'crm', '0000000000000042', ?1)",
            [now],
        )
        .unwrap();
    }
    let store = Store::open(StoreOptions::new(&path)).await.unwrap();
    assert_eq!(
        store.lookup_message_id("C-9".into()).await.unwrap(),
        Some(MessageOwner {
            account: "crm".into(),
            optgate_id: Some("0000000000000042".into())
        })
    );
    store.close().await.unwrap();
    let db = Database::open_readonly(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), schema::latest_version());
    let old: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'id_map'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "the old table is gone");
}
