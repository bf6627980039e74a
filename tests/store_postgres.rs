//! The PostgreSQL backend against a real server started by the test kit:
//! migrations, every SQL operation, consent writes of other connections
//! (failure paths: tests/store_postgres_faults.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::postgres::Postgres;
use optgate::policy::ConsentStatus;
use optgate::store::consent::{ConsentFilter, Event, Flag, Key, NewHeld};
use optgate::store::postgres::{consent as pc, ops, schema, PgConn};
use optgate::store::{DeliveryKind, StoreError};

const T: Duration = Duration::from_secs(10);

fn open(url: &str) -> PgConn {
    let mut c = PgConn::connect(url, T).unwrap();
    schema::migrate(&mut c).unwrap();
    c
}

fn key(r: &str) -> Key {
    Key {
        campaign: "c1".into(),
        sender: "14155550100".into(),
        recipient: r.into(),
    }
}

#[test]
fn migrations_fresh_rerun_and_concurrent() {
    let pg = Postgres::start();
    let url = pg.create_db();
    let mut c = PgConn::connect(&url, T).unwrap();
    assert_eq!(schema::version(&mut c).unwrap(), 0);
    assert!(schema::check_current(&mut c).is_err());
    assert_eq!(schema::migrate(&mut c).unwrap(), schema::latest_version());
    assert_eq!(schema::version(&mut c).unwrap(), schema::latest_version());
    schema::check_current(&mut c).unwrap();
    // A second run applies nothing.
    assert_eq!(schema::migrate(&mut c).unwrap(), 0);

    // Eight processes-worth of connections start together on a fresh
    // database: exactly one migrates, none fails.
    let url2 = pg.create_db();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url2.clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                let mut c = PgConn::connect(&url, T).unwrap();
                b.wait();
                schema::migrate(&mut c).unwrap()
            })
        })
        .collect();
    let applied: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        applied.iter().filter(|&&n| n > 0).count(),
        1,
        "applied: {applied:?}"
    );
    let mut c2 = PgConn::connect(&url2, T).unwrap();
    schema::check_current(&mut c2).unwrap();
    let rows: i64 = c2
        .client()
        .query_one("SELECT COUNT(*) FROM optgate_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}

#[test]
fn newer_schema_is_refused() {
    let pg = Postgres::start();
    let url = pg.create_db();
    let mut c = open(&url);
    c.client()
        .execute("UPDATE optgate_schema SET version = version + 5", &[])
        .unwrap();
    assert!(matches!(
        schema::migrate(&mut c),
        Err(StoreError::SchemaTooNew { .. })
    ));
}

#[test]
fn consent_events_and_flags() {
    let pg = Postgres::start();
    let mut c = open(&pg.create_db());
    let k = key("14155550111");
    c.transaction(|tx| {
        assert_eq!(pc::get(tx, &k)?.status, ConsentStatus::None);
        let old = pc::set_status(tx, &k, ConsentStatus::Active, "START", "m1")?;
        assert_eq!(old, ConsentStatus::None);
        // Same status again: no change, no event.
        assert_eq!(
            pc::set_status(tx, &k, ConsentStatus::Active, "START", "")?,
            ConsentStatus::Active
        );
        pc::mark(tx, &k, Flag::OptInRequestSent)?;
        pc::mark(tx, &key("14155550112"), Flag::CustomForwarded)?;
        pc::insert_event(
            tx,
            &Event {
                key: k.clone(),
                kind: "blocked".into(),
                old_status: None,
                new_status: None,
                source: "test".into(),
                message_ids: "x y".into(),
            },
        )
    })
    .unwrap();
    let mut a = c.autocommit();
    let row = pc::get(&mut a, &k).unwrap();
    assert_eq!(row.status, ConsentStatus::Active);
    assert_eq!(row.source, "START");
    assert!(row.opt_in_request_sent && !row.custom_forwarded);
    assert!(row.updated_at > 0);
    let other = pc::get(&mut a, &key("14155550112")).unwrap();
    assert_eq!(other.status, ConsentStatus::None);
    assert!(other.custom_forwarded);

    let ev = pc::list_events(&mut a, None, None, 100).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].event.kind, "consent_change");
    assert_eq!(ev[0].event.new_status, Some(ConsentStatus::Active));
    assert_eq!(ev[0].event.old_status, Some(ConsentStatus::None));
    assert_eq!(ev[0].event.message_ids, "m1");
    assert_eq!(ev[1].event.old_status, None);
    assert!(ev[0].id < ev[1].id);
    assert_eq!(
        pc::list_events(&mut a, Some("nobody"), None, 100)
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        pc::list_events(&mut a, Some(&k.recipient), Some(ev[1].at), 100)
            .unwrap()
            .len(),
        1
    );
    assert!(pc::list_events(&mut a, None, Some(i64::MAX), 100)
        .unwrap()
        .is_empty());

    // The consent log: none rows hidden by default, paging in byte order.
    for r in ["14155550120", "14155550121", "14155550122"] {
        pc::set_status(&mut a, &key(r), ConsentStatus::Refused, "STOP", "").unwrap();
    }
    let all = pc::list_consent(&mut a, &ConsentFilter::default(), None, 100).unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    let page1 = pc::list_consent(&mut a, &ConsentFilter::default(), None, 2).unwrap();
    let page2 =
        pc::list_consent(&mut a, &ConsentFilter::default(), Some(&page1[1].key), 10).unwrap();
    assert_eq!(page1.len() + page2.len(), 4);
    assert_eq!(page2[0].key.recipient, "14155550121");
    let refused = pc::list_consent(
        &mut a,
        &ConsentFilter {
            status: Some(ConsentStatus::Refused),
            ..Default::default()
        },
        None,
        100,
    )
    .unwrap();
    assert_eq!(refused.len(), 3);
    let nones = pc::list_consent(
        &mut a,
        &ConsentFilter {
            status: Some(ConsentStatus::None),
            recipient: Some("14155550112".into()),
            ..Default::default()
        },
        None,
        100,
    )
    .unwrap();
    assert_eq!(nones.len(), 1);
}

fn held<'a>(
    key: &'a Key,
    group_id: Option<i64>,
    ttl_ms: i64,
    rd: u8,
    pdu: &'a [u8],
) -> NewHeld<'a> {
    NewHeld {
        key,
        account: "pbx",
        group_id,
        ttl_ms,
        registered_delivery: rd,
        pdu,
    }
}

#[test]
fn held_messages() {
    let pg = Postgres::start();
    let mut c = open(&pg.create_db());
    let k = key("14155550130");
    let mut a = c.autocommit();
    let g1 = pc::hold(&mut a, &held(&k, None, 60_000, 1, b"p1")).unwrap();
    let g1b = pc::hold(&mut a, &held(&k, Some(g1), 60_000, 1, b"p2")).unwrap();
    assert_eq!(g1, g1b);
    let g2 = pc::hold(&mut a, &held(&k, None, -1, 0, b"single")).unwrap();
    assert!(g2 > g1);
    let other = pc::hold(&mut a, &held(&key("14155550131"), None, 60_000, 0, b"o")).unwrap();
    assert_eq!(pc::held_count(&mut a, &k).unwrap(), 2);
    assert_eq!(pc::count_held(&mut a).unwrap(), 3);
    let group = pc::held_group(&mut a, g1).unwrap();
    assert_eq!(
        group.iter().map(|h| h.pdu.as_slice()).collect::<Vec<_>>(),
        [b"p1".as_slice(), b"p2"]
    );
    assert_eq!(group[0].id, g1);
    assert_eq!(group[0].registered_delivery, 1);
    assert!(group[0].expires_at > group[0].held_at);

    assert!(pc::replace_held(&mut a, g2, b"replaced", 1).unwrap());
    assert!(!pc::replace_held(&mut a, 999_999, b"x", 1).unwrap());
    assert_eq!(pc::held_group(&mut a, g2).unwrap()[0].pdu, b"replaced");

    assert_eq!(pc::list_held(&mut a, None, 100).unwrap().len(), 4);
    assert_eq!(
        pc::list_held(&mut a, Some("14155550131"), 100)
            .unwrap()
            .len(),
        1
    );

    // g2 expired at once (ttl -1).
    let expired = pc::take_expired(&mut a, optgate::store::consent::now_ms(), 10).unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].group_id, g2);
    assert!(pc::take_expired(&mut a, 0, 10).unwrap().is_empty());

    // Settled keys: only when the status is active or refused.
    assert!(pc::settled_held_keys(&mut a, 10).unwrap().is_empty());
    pc::set_status(&mut a, &k, ConsentStatus::Active, "START", "").unwrap();
    pc::set_status(&mut a, &key("14155550131"), ConsentStatus::Pending, "x", "").unwrap();
    assert_eq!(
        pc::settled_held_keys(&mut a, 10).unwrap(),
        vec![(k.clone(), ConsentStatus::Active)]
    );

    let taken = pc::take_held(&mut a, &k).unwrap();
    assert_eq!(
        taken.iter().map(|h| h.pdu.as_slice()).collect::<Vec<_>>(),
        [b"p1".as_slice(), b"p2"]
    );
    assert!(pc::take_held(&mut a, &k).unwrap().is_empty());
    assert_eq!(pc::delete_held_group(&mut a, other).unwrap(), 1);
    assert_eq!(pc::count_held(&mut a).unwrap(), 0);
}

#[test]
fn outbox_deliveries_id_map() {
    let pg = Postgres::start();
    let mut c = open(&pg.create_db());
    let mut a = c.autocommit();
    let k = key("14155550140");
    let o1 = pc::outbox_push(&mut a, "help", &k, "", None, b"one").unwrap();
    let o2 = pc::outbox_push(&mut a, "released", &k, "pbx", Some("42"), b"two").unwrap();
    assert!(o2 > o1);
    pc::outbox_attempted(&mut a, o1).unwrap();
    let pending = pc::outbox_pending(&mut a, 0, 10).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[1].optgate_id.as_deref(), Some("42"));
    assert_eq!(pending[1].account, "pbx");
    assert_eq!(pending[1].kind, "released");
    assert_eq!(pc::outbox_pending(&mut a, o2, 10).unwrap().len(), 1);
    pc::outbox_done(&mut a, o1).unwrap();
    assert_eq!(pc::outbox_pending(&mut a, 0, 10).unwrap()[0].id, o2);

    let d1 = ops::insert_delivery(&mut a, "pbx", DeliveryKind::Mo, b"mo").unwrap();
    let d2 = ops::insert_delivery(&mut a, "pbx", DeliveryKind::Dlr, b"dlr").unwrap();
    ops::insert_delivery(&mut a, "other", DeliveryKind::Mo, b"x").unwrap();
    assert!(d1 >= 1 && d2 > d1);
    let p = ops::pending_deliveries(&mut a, "pbx", 0, 10).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].kind, DeliveryKind::Dlr);
    assert_eq!(p[1].pdu, b"dlr");
    assert_eq!(
        ops::pending_deliveries(&mut a, "pbx", d2, 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ops::pending_deliveries(&mut a, "pbx", 0, 1).unwrap().len(),
        1
    );
    assert_eq!(ops::count_deliveries(&mut a).unwrap(), 3);
    assert!(ops::delete_delivery(&mut a, d1).unwrap());
    assert!(!ops::delete_delivery(&mut a, d1).unwrap());
    assert_eq!(ops::count_deliveries(&mut a).unwrap(), 2);

    let ttl = Duration::from_secs(3600);
    ops::map_message_id(&mut a, "c-1", "pbx", None, ttl).unwrap();
    ops::map_message_id(&mut a, "c-2", "pbx", Some("7"), ttl).unwrap();
    ops::map_message_id(&mut a, "c-1", "other", None, ttl).unwrap();
    let o = ops::lookup_message_id(&mut a, "c-1", ttl).unwrap().unwrap();
    assert_eq!(o.account, "other");
    let o = ops::lookup_message_id(&mut a, "c-2", ttl).unwrap().unwrap();
    assert_eq!(o.optgate_id.as_deref(), Some("7"));
    assert!(ops::lookup_message_id(&mut a, "nope", ttl)
        .unwrap()
        .is_none());
    // Rows older than the TTL are not found, and are purged from a table
    // no one writes now.
    for t in ["id_map_0", "id_map_1", "id_map_2"] {
        let sql = format!(
            "INSERT INTO {t} (carrier_id, account, created_at) VALUES ('old-{t}', 'pbx', 1)"
        );
        a.batch(&sql).unwrap();
    }
    assert!(ops::lookup_message_id(&mut a, "old-id_map_0", ttl)
        .unwrap()
        .is_none());
    assert_eq!(ops::purge_message_ids(&mut a, ttl, 100).unwrap(), 1);
    ops::touch(&mut a).unwrap();
    ops::touch(&mut a).unwrap();
    ops::ping(&mut a).unwrap();
}

/// Every consent write is announced after its commit, naming the key and
/// numbered from `consent_change_seq` (what the listener of each instance
/// invalidates by, and checks for lost announcements with).
#[test]
fn consent_writes_are_announced_with_their_key() {
    use optgate::store::postgres::listen::{parse, Change, CHANNEL};
    use postgres::fallible_iterator::FallibleIterator;
    let pg = Postgres::start();
    let url = pg.create_db();
    let mut writer = open(&url);
    let mut listener = open(&url);
    listener
        .client()
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .unwrap();
    // Rolled back: nothing announced.
    let _ = writer.transaction(|tx| {
        pc::set_status(tx, &key("8"), ConsentStatus::Refused, "STOP", "")?;
        Err::<(), _>(StoreError::Closed)
    });
    writer
        .transaction(|tx| pc::set_status(tx, &key("9"), ConsentStatus::Refused, "STOP", ""))
        .unwrap();
    let got: Vec<_> = listener
        .client()
        .notifications()
        .timeout_iter(Duration::from_secs(2))
        .take(1)
        .collect()
        .unwrap();
    assert_eq!(got.len(), 1);
    match parse(got[0].payload()) {
        Some(Change::Key(seq, k)) => {
            assert_eq!(k, key("9"));
            // The rolled-back write drew a number too: the listener's
            // poll treats such a gap as a possible loss (empties its cache).
            assert!(seq >= 2, "{seq}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let seq: i64 = listener
        .client()
        .query_one("SELECT last_value FROM consent_change_seq", &[])
        .unwrap()
        .get(0);
    assert!(seq >= 2);
}
