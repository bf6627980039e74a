//! `optgate store copy --from sqlite:PATH --to postgres:URL`: the whole
//! state of an SQLite store arrives in PostgreSQL unchanged (ids too), the
//! sequences continue after it, a non-empty target is refused unless
//! `--overwrite`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::postgres::Postgres;
use optgate::policy::ConsentStatus::{Active, Pending, Refused};
use optgate::store::consent::{ConsentFilter, Flag, Key, NewHeld};
use optgate::store::{
    DeliveryKind, Durable, MessageOwner, Store, StoreError, StoreOptions, StoreTxn, TxnEnv,
};

fn key(r: &str) -> Key {
    Key {
        campaign: "c1".into(),
        sender: "14155550100".into(),
        recipient: r.into(),
    }
}

async fn commit<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&mut TxnEnv<'_>) -> Result<T, StoreError> + Send + 'static,
) -> T {
    store
        .transact(move |env| Ok((f(env)?, Durable::AfterCommit)))
        .await
        .unwrap()
}

/// Everything a store holds, as the interface lists it.
#[derive(Debug, PartialEq)]
struct Snapshot {
    consent: Vec<optgate::store::consent::ConsentRow>,
    events: Vec<optgate::store::consent::EventRow>,
    held: Vec<optgate::store::consent::HeldRow>,
    outbox: Vec<optgate::store::consent::OutboxRow>,
    deliveries: Vec<optgate::store::StoredDelivery>,
    owner: Option<MessageOwner>,
}

async fn snapshot(store: &Store) -> Snapshot {
    commit(store, |t| {
        let all = ConsentFilter {
            status: None,
            ..Default::default()
        };
        Ok(Snapshot {
            consent: t.list_consent(&all, None, 1000)?,
            events: t.list_events(None, None, 1000)?,
            held: t.list_held(None, 1000)?,
            outbox: t.outbox_pending(0, 1000)?,
            deliveries: t.pending_deliveries("pbx", 0, 1000)?,
            owner: t.lookup_message_id("carrier-1", Duration::from_secs(3600))?,
        })
    })
    .await
}

fn run_copy(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_optgate"))
        .args(["store", "copy"])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_state_moves_to_postgres_verified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    let sqlite = Store::open(StoreOptions::new(&path)).await.unwrap();
    let group = commit(&sqlite, |t| {
        t.set_status(&key("1"), Active, "START", "m1")?;
        t.set_status(&key("2"), Refused, "STOP", "")?;
        t.mark(&key("3"), Flag::OptInRequestSent)?;
        t.set_status(&key("3"), Pending, "opt_in_request", "")?;
        let k = key("3");
        let g = t.hold(&NewHeld {
            key: &k,
            account: "pbx",
            group_id: None,
            ttl_ms: 60_000,
            registered_delivery: 1,
            pdu: b"part1",
        })?;
        t.hold(&NewHeld {
            key: &k,
            account: "pbx",
            group_id: Some(g),
            ttl_ms: 60_000,
            registered_delivery: 1,
            pdu: b"part2",
        })?;
        t.outbox_push("opt_in_request", &k, "", None, b"request")?;
        t.insert_delivery("pbx", DeliveryKind::Mo, b"mo")?;
        t.insert_delivery("pbx", DeliveryKind::Dlr, b"dlr")?;
        t.map_message_id("carrier-1", "pbx", Some("42"), Duration::from_secs(3600))?;
        Ok(g)
    })
    .await;
    let before = snapshot(&sqlite).await;
    sqlite.close().await.unwrap();
    assert_eq!(before.held.len(), 2);
    assert!(before.owner.is_some());

    let pg = Postgres::start();
    let url = pg.create_db();
    let from = format!("sqlite:{}", path.display());
    let to = format!("postgres:{url}");
    let out = run_copy(&["--from", &from, "--to", &to]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("events"), "{stdout}");
    assert!(!stdout.contains(common::postgres::PASSWORD), "{stdout}");

    let store = Store::open(StoreOptions::postgres(&url)).await.unwrap();
    assert_eq!(
        snapshot(&store).await,
        before,
        "the same state, ids included"
    );
    // Sequences continue after the copied ids.
    let next = commit(&store, |t| {
        let k = key("9");
        t.hold(&NewHeld {
            key: &k,
            account: "pbx",
            group_id: None,
            ttl_ms: 1,
            registered_delivery: 0,
            pdu: b"x",
        })
    })
    .await;
    assert!(next > group + 1, "new id {next} after copied {group}");
    store.close().await.unwrap();

    // Not empty now: refused, then replaced with --overwrite.
    let out = run_copy(&["--from", &from, "--to", &to]);
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not empty") && err.contains("--overwrite"),
        "{err}"
    );
    let out = run_copy(&["--from", &from, "--to", &to, "--overwrite"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(StoreOptions::postgres(&url)).await.unwrap();
    assert_eq!(snapshot(&store).await, before);
    store.close().await.unwrap();

    // Bad arguments.
    let out = run_copy(&["--from", "/x.db", "--to", &to]);
    assert_eq!(out.status.code(), Some(64));
}
