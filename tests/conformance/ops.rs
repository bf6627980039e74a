//! Every [`optgate::store::StoreTxn`] operation, through a real store.

use optgate::policy::ConsentStatus::{self, Active, None as NoRow, Pending, Refused};
use optgate::store::consent::{now_ms, ConsentFilter, Event, Flag, Key, NewHeld};
use optgate::store::{DeliveryKind, MessageOwner, StoreError, StoreTxn};

use super::{commit, key, read, Setup};

pub async fn consent_rows_status_flags_and_paging(s: &impl Setup) {
    let store = s.open().await;
    let k = key("news", "", "14155550001");
    let row = read(&store, {
        let k = k.clone();
        move |t| t.consent(&k)
    })
    .await;
    assert_eq!(row.status, NoRow);
    assert!(!row.opt_in_request_sent && !row.custom_forwarded);

    let (old, again) = commit(&store, {
        let k = k.clone();
        move |t| {
            let old = t.set_status(&k, Refused, "STOP", "m-1")?;
            let again = t.set_status(&k, Refused, "STOP", "m-2")?;
            Ok((old, again))
        }
    })
    .await
    .unwrap();
    assert_eq!((old, again), (NoRow, Refused));
    let row = read(&store, {
        let k = k.clone();
        move |t| t.consent(&k)
    })
    .await;
    assert_eq!((row.status, row.source.as_str()), (Refused, "STOP"));
    assert!(row.updated_at > 0);
    let events = read(&store, |t| t.list_events(None, None, 100)).await;
    assert_eq!(events.len(), 1, "setting the same status records nothing");
    let e = &events[0].event;
    assert_eq!(
        (e.kind.as_str(), e.old_status, e.new_status),
        ("consent_change", Some(NoRow), Some(Refused))
    );
    assert_eq!((e.source.as_str(), e.message_ids.as_str()), ("STOP", "m-1"));

    // Flags create a row with status none; set_updated_at keeps a date.
    let f = key("news", "", "14155550002");
    commit(&store, {
        let (k, f) = (k.clone(), f.clone());
        move |t| {
            t.mark(&f, Flag::OptInRequestSent)?;
            t.mark(&f, Flag::CustomForwarded)?;
            t.set_updated_at(&k, 1_700_000_000_000)
        }
    })
    .await
    .unwrap();
    let (rk, rf) = read(&store, {
        let (k, f) = (k.clone(), f.clone());
        move |t| Ok((t.consent(&k)?, t.consent(&f)?))
    })
    .await;
    assert_eq!(rk.updated_at, 1_700_000_000_000);
    assert_eq!(rf.status, NoRow);
    assert!(rf.opt_in_request_sent && rf.custom_forwarded);

    // Listing: ordered, none excluded unless asked, filtered, paged.
    commit(&store, |t| {
        for (i, st) in [Active, Pending, Active].into_iter().enumerate() {
            t.set_status(
                &key("alerts", "1415", &format!("1415555100{i}")),
                st,
                "api",
                "",
            )?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let all = read(&store, |t| {
        t.list_consent(&ConsentFilter::default(), None, 100)
    })
    .await;
    let names: Vec<_> = all
        .iter()
        .map(|r| (r.key.campaign.as_str(), r.key.recipient.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("alerts", "14155551000"),
            ("alerts", "14155551001"),
            ("alerts", "14155551002"),
            ("news", "14155550001")
        ]
    );
    let page1 = read(&store, |t| {
        t.list_consent(&ConsentFilter::default(), None, 2)
    })
    .await;
    let after = page1[1].key.clone();
    let page2 = read(&store, move |t| {
        t.list_consent(&ConsentFilter::default(), Some(&after), 2)
    })
    .await;
    assert_eq!(
        page2.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        all[2..].iter().map(|r| r.key.clone()).collect::<Vec<_>>()
    );
    let filter = |campaign: Option<&str>, status: Option<ConsentStatus>| ConsentFilter {
        campaign: campaign.map(Into::into),
        status,
        ..ConsentFilter::default()
    };
    let active = filter(Some("alerts"), Some(Active));
    assert_eq!(
        read(&store, move |t| t.list_consent(&active, None, 100))
            .await
            .len(),
        2
    );
    let none = filter(None, Some(NoRow));
    let rows = read(&store, move |t| t.list_consent(&none, None, 100)).await;
    assert_eq!(rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>(), [f]);
    let one = ConsentFilter {
        recipient: Some("14155551001".into()),
        sender: Some("1415".into()),
        ..ConsentFilter::default()
    };
    assert_eq!(
        read(&store, move |t| t.list_consent(&one, None, 100)).await[0].status,
        Pending
    );
    store.close().await.unwrap();
}

pub async fn events_are_listed_in_order_and_filtered(s: &impl Setup) {
    let store = s.open().await;
    let ev = |r: &str, kind: &str| Event {
        key: key("news", "", r),
        kind: kind.into(),
        old_status: None,
        new_status: None,
        source: "test".into(),
        message_ids: "a b".into(),
    };
    let (e1, e2, e3) = (ev("1", "blocked"), ev("2", "held"), ev("1", "released"));
    let before = now_ms();
    commit(&store, {
        let es = [e1.clone(), e2.clone(), e3.clone()];
        move |t| es.iter().try_for_each(|e| t.insert_event(e))
    })
    .await
    .unwrap();
    let all = read(&store, |t| t.list_events(None, None, 100)).await;
    assert_eq!(
        all.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
        [e1.clone(), e2, e3.clone()]
    );
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert!(
        all.iter()
            .all(|r| r.at >= before - 1000 && r.at <= now_ms() + 1000),
        "stamped now"
    );
    let one = read(&store, |t| t.list_events(Some("1"), None, 100)).await;
    assert_eq!(
        one.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
        [e1, e3]
    );
    assert_eq!(
        read(&store, |t| t.list_events(None, None, 2)).await.len(),
        2
    );
    assert!(read(&store, |t| t.list_events(
        None,
        Some(now_ms() + 60_000),
        100
    ))
    .await
    .is_empty());
    assert_eq!(
        read(&store, move |t| t.list_events(
            None,
            Some(before - 1000),
            100
        ))
        .await
        .len(),
        3
    );
    store.close().await.unwrap();
}

fn held<'a>(key: &'a Key, group_id: Option<i64>, ttl_ms: i64, pdu: &'a [u8]) -> NewHeld<'a> {
    NewHeld {
        key,
        account: "pbx",
        group_id,
        ttl_ms,
        registered_delivery: 1,
        pdu,
    }
}

pub async fn held_messages_group_replace_settle_and_expire(s: &impl Setup) {
    let store = s.open().await;
    let (a, b, c) = (
        key("alerts", "1", "2001"),
        key("alerts", "1", "2002"),
        key("alerts", "1", "2003"),
    );
    let (ga, gb, gc) = commit(&store, {
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        move |t| {
            let ga = t.hold(&held(&a, None, 60_000, b"a1"))?;
            assert_eq!(
                t.hold(&held(&a, Some(ga), 60_000, b"a2"))?,
                ga,
                "a part joins its group"
            );
            let gb = t.hold(&held(&b, None, 60_000, b"b1"))?;
            let gc = t.hold(&held(&c, None, 0, b"c1"))?;
            Ok((ga, gb, gc))
        }
    })
    .await
    .unwrap();
    assert!(ga < gb && gb < gc, "group ids increase");
    let (count_a, total, group) = read(&store, {
        let a = a.clone();
        move |t| Ok((t.held_count(&a)?, t.count_held()?, t.held_group(ga)?))
    })
    .await;
    assert_eq!(
        (count_a, total),
        (1, 3),
        "counted per message, not per part"
    );
    assert_eq!(
        group.iter().map(|r| r.pdu.as_slice()).collect::<Vec<_>>(),
        [b"a1", b"a2"]
    );
    assert!(group
        .iter()
        .all(|r| r.group_id == ga && r.key == a && r.account == "pbx"));
    assert!(group[0].expires_at >= group[0].held_at + 60_000);
    assert!(group[0].id < group[1].id);
    let listed = read(&store, |t| t.list_held(Some("2002"), 100)).await;
    assert_eq!((listed.len(), listed[0].group_id), (1, gb));
    assert_eq!(read(&store, |t| t.list_held(None, 2)).await.len(), 2);

    // replace_sm of a single-part message.
    let bid = listed[0].id;
    assert!(commit(&store, move |t| t.replace_held(bid, b"b2", 0))
        .await
        .unwrap());
    assert!(!commit(&store, |t| t.replace_held(i64::MAX, b"x", 0))
        .await
        .unwrap());
    let b_row = read(&store, move |t| t.held_group(gb)).await;
    assert_eq!(
        (b_row[0].pdu.as_slice(), b_row[0].registered_delivery),
        (&b"b2"[..], 0)
    );

    // A status that settles: a active (release), b refused (drop).
    let settled = commit(&store, {
        let (a, b) = (a.clone(), b.clone());
        move |t| {
            t.set_status(&a, Active, "START", "")?;
            t.set_status(&b, Refused, "STOP", "")?;
            let mut s = t.settled_held_keys(100)?;
            s.sort_by(|x, y| x.0.recipient.cmp(&y.0.recipient));
            Ok(s)
        }
    })
    .await
    .unwrap();
    assert_eq!(settled, [(a.clone(), Active), (b.clone(), Refused)]);
    let taken = commit(&store, {
        let a = a.clone();
        move |t| t.take_held(&a)
    })
    .await
    .unwrap();
    assert_eq!(
        taken.iter().map(|r| r.pdu.as_slice()).collect::<Vec<_>>(),
        [b"a1", b"a2"]
    );
    assert_eq!(
        commit(&store, move |t| t.delete_held_group(gb))
            .await
            .unwrap(),
        1
    );
    assert!(read(&store, |t| t.settled_held_keys(100)).await.is_empty());

    // c was held with a TTL of 0: it has expired.
    let expired = commit(&store, |t| t.take_expired(now_ms(), 10))
        .await
        .unwrap();
    assert_eq!(expired.iter().map(|r| r.group_id).collect::<Vec<_>>(), [gc]);
    assert_eq!(read(&store, |t| t.count_held()).await, 0);
    let again = commit(&store, move |t| t.hold(&held(&c, None, 60_000, b"c2")))
        .await
        .unwrap();
    assert!(again > gc, "group ids are never reused");
    assert!(read(&store, move |t| t.held_group(ga)).await.is_empty());
    store.close().await.unwrap();
}

pub async fn outbox_push_pending_attempted_handed_done(s: &impl Setup) {
    let store = s.open().await;
    let k = key("news", "", "3001");
    let (i1, i2) = commit(&store, {
        let k = k.clone();
        move |t| {
            let i1 = t.outbox_push("opt_in_request", &k, "optgate", None, b"p1")?;
            let i2 = t.outbox_push("released", &k, "pbx", Some("0000000000000007"), b"p2")?;
            t.outbox_attempted(i2)?;
            t.outbox_attempted(i2)?;
            Ok((i1, i2))
        }
    })
    .await
    .unwrap();
    assert!(i1 < i2);
    let rows = read(&store, |t| t.outbox_pending(0, 10)).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].id,
            rows[0].kind.as_str(),
            rows[0].attempts,
            rows[0].optgate_id.as_deref()
        ),
        (i1, "opt_in_request", 0, None)
    );
    assert_eq!(
        (
            rows[1].account.as_str(),
            rows[1].attempts,
            rows[1].optgate_id.as_deref()
        ),
        ("pbx", 2, Some("0000000000000007"))
    );
    assert_eq!(
        (rows[1].key.clone(), rows[1].pdu.as_slice()),
        (k.clone(), &b"p2"[..])
    );
    assert_eq!(
        read(&store, move |t| t.outbox_pending(i2, 10)).await.len(),
        1
    );
    assert_eq!(read(&store, |t| t.outbox_pending(0, 1)).await.len(), 1);
    // The at-most-once mark: set, read back, cleared.
    assert_eq!(rows[0].handed_at, None);
    commit(&store, move |t| {
        t.outbox_handed(i1, Some(1_700_000_000_123))
    })
    .await
    .unwrap();
    let rows = read(&store, |t| t.outbox_pending(0, 10)).await;
    assert_eq!(
        rows.iter().map(|r| r.handed_at).collect::<Vec<_>>(),
        [Some(1_700_000_000_123), None]
    );
    commit(&store, move |t| t.outbox_handed(i1, None))
        .await
        .unwrap();
    assert_eq!(
        read(&store, |t| t.outbox_pending(0, 1)).await[0].handed_at,
        None
    );
    commit(&store, move |t| t.outbox_done(i1)).await.unwrap();
    commit(&store, move |t| t.outbox_done(i2)).await.unwrap();
    let i3 = commit(&store, {
        let k = k.clone();
        move |t| t.outbox_push("help", &k, "optgate", None, b"p3")
    })
    .await
    .unwrap();
    assert!(i3 > i2, "ids are never reused");
    let left = read(&store, |t| t.outbox_pending(0, 10)).await;
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), [i3]);
    store.close().await.unwrap();
}

/// Occupies the store thread for 300 ms; await the receiver for its end.
async fn keep_busy(
    store: &optgate::store::Store,
) -> tokio::sync::oneshot::Receiver<Result<(), StoreError>> {
    store
        .transact_queued(|_| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(((), optgate::store::Durable::Now))
        })
        .await
        .unwrap()
}

/// Stores and deletes queued while the store thread is busy reach it as
/// one batch, which writes each run of them in one statement: ids ascend
/// in queue order, the bound refuses exactly the ones beyond it, and each
/// delete says whether its row was there.
pub async fn stored_deliveries_queued_together(s: &impl Setup) {
    let store = s.open_tuned(|o| o.max_stored_deliveries = 5).await.unwrap();
    // The store thread busy while the requests below queue up.
    let busy = keep_busy(&store).await;
    let mut queued = Vec::new();
    for i in 0..8u8 {
        let kind = if i % 2 == 0 {
            DeliveryKind::Mo
        } else {
            DeliveryKind::Dlr
        };
        let rx = store
            .enqueue_delivery_queued("pbx".into(), vec![b'p', i], kind)
            .await
            .unwrap();
        queued.push(rx);
    }
    let commits_before = store.stats().commits;
    busy.await.unwrap().unwrap();
    let mut ids = Vec::new();
    for (i, rx) in queued.into_iter().enumerate() {
        match rx.await.unwrap() {
            Ok(id) => {
                assert!(i < 5, "store {i} is beyond the bound of 5 but got id {id}");
                ids.push(id);
            }
            Err(e) => {
                assert!(i >= 5, "store {i} refused: {e}");
                assert!(matches!(e, StoreError::Full { limit: 5 }), "{e:?}");
            }
        }
    }
    assert_eq!(ids.len(), 5);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids in queue order: {ids:?}"
    );
    assert!(
        store.stats().commits - commits_before <= 2,
        "the queued stores were committed together"
    );
    let pending = store.pending_deliveries("pbx".into(), 10).await.unwrap();
    let got: Vec<(u64, DeliveryKind, Vec<u8>)> =
        pending.into_iter().map(|d| (d.id, d.kind, d.pdu)).collect();
    let want: Vec<(u64, DeliveryKind, Vec<u8>)> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let kind = if i % 2 == 0 {
                DeliveryKind::Mo
            } else {
                DeliveryKind::Dlr
            };
            (id, kind, vec![b'p', i as u8])
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(store.count_deliveries().await.unwrap(), 5);

    // Deletes queued together: two rows twice, an id never stored.
    let busy = keep_busy(&store).await;
    let order = [ids[0], ids[3], ids[0], ids[4] + 1000, ids[3], ids[1]];
    let acks = order.map(|id| store.ack_delivery(id));
    let (done, gone) = tokio::join!(busy, futures_util::future::join_all(acks));
    done.unwrap().unwrap();
    let gone: Vec<bool> = gone.into_iter().map(Result::unwrap).collect();
    // join_all polls in order, so the deletes queue in order: the first
    // delete of a row finds it, the second does not.
    assert_eq!(gone, [true, true, false, false, false, true]);
    assert_eq!(store.count_deliveries().await.unwrap(), 2);
    let left: Vec<u64> = store
        .pending_deliveries("pbx".into(), 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(left, [ids[2], ids[4]]);
    store.close().await.unwrap();
}

pub async fn stored_deliveries_bounded_and_acknowledged(s: &impl Setup) {
    let store = s.open_tuned(|o| o.max_stored_deliveries = 3).await.unwrap();
    let id1 = store
        .enqueue_delivery("pbx".into(), b"mo1".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    let id2 = commit(&store, |t| {
        t.enqueue_delivery("pbx", DeliveryKind::Dlr, b"dlr1")
    })
    .await
    .unwrap();
    let id3 = store
        .enqueue_delivery("crm".into(), b"mo2".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    assert!(id1 < id2 && id2 < id3);
    let full = store
        .enqueue_delivery("pbx".into(), b"x".to_vec(), DeliveryKind::Mo)
        .await;
    assert!(
        matches!(full, Err(StoreError::Full { limit: 3 })),
        "{full:?}"
    );
    let full = commit(&store, |t| t.insert_delivery("pbx", DeliveryKind::Mo, b"x")).await;
    assert!(
        matches!(full, Err(StoreError::Full { limit: 3 })),
        "{full:?}"
    );
    assert_eq!(store.count_deliveries().await.unwrap(), 3);
    assert_eq!(read(&store, |t| t.count_deliveries()).await, 3);
    let pbx = store.pending_deliveries("pbx".into(), 10).await.unwrap();
    assert_eq!(
        pbx.iter()
            .map(|d| (d.id, d.kind, d.pdu.as_slice()))
            .collect::<Vec<_>>(),
        [
            (id1, DeliveryKind::Mo, &b"mo1"[..]),
            (id2, DeliveryKind::Dlr, &b"dlr1"[..])
        ]
    );
    assert_eq!(
        store
            .pending_deliveries_from("pbx".into(), id2, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        read(&store, |t| t.pending_deliveries("crm", 0, 10)).await[0].id,
        id3
    );
    assert!(store.ack_delivery(id1).await.unwrap());
    assert!(!store.ack_delivery(id1).await.unwrap(), "already gone");
    assert!(commit(&store, move |t| t.delete_delivery(id2))
        .await
        .unwrap());
    assert_eq!(store.count_deliveries().await.unwrap(), 1);
    assert!(store.ack_delivery(id3).await.unwrap());
    let id4 = store
        .enqueue_delivery("pbx".into(), b"mo3".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    assert!(id4 > id3, "ids are never reused");
    store
        .enqueue_delivery("pbx".into(), b"mo4".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    store.close().await.unwrap();
    // The bound counts what is stored after a reopen too.
    let store = s.open_tuned(|o| o.max_stored_deliveries = 2).await.unwrap();
    assert_eq!(store.count_deliveries().await.unwrap(), 2);
    let full = store
        .enqueue_delivery("pbx".into(), b"x".to_vec(), DeliveryKind::Mo)
        .await;
    assert!(
        matches!(full, Err(StoreError::Full { limit: 2 })),
        "{full:?}"
    );
    store.close().await.unwrap();
}

pub async fn id_map_written_behind_and_looked_up(s: &impl Setup) {
    let store = s.open().await;
    assert_eq!(
        read(&store, |t| t.newest_message_id_at()).await,
        None,
        "an empty map has no newest row"
    );
    let before = optgate::store::consent::now_ms() / 1000;
    store
        .map_message_id("C-1".into(), "pbx".into(), None)
        .await
        .unwrap();
    store
        .map_message_id("C-2".into(), "crm".into(), Some("0000000000000009".into()))
        .await
        .unwrap();
    store.flush().await.unwrap();
    let owner = |a: &str, o: Option<&str>| {
        Some(MessageOwner {
            account: a.into(),
            optgate_id: o.map(Into::into),
        })
    };
    assert_eq!(
        store.lookup_message_id("C-1".into()).await.unwrap(),
        owner("pbx", None)
    );
    assert_eq!(
        store.lookup_message_id("C-2".into()).await.unwrap(),
        owner("crm", Some("0000000000000009"))
    );
    assert_eq!(store.lookup_message_id("C-3".into()).await.unwrap(), None);
    // Written behind again, one id already mapped (a bulk write that must
    // replace it: on PostgreSQL the plain insert fails and the chunk is upserted).
    for (id, account) in [("C-1", "crm"), ("C-9", "pbx")] {
        store
            .map_message_id(id.into(), account.into(), None)
            .await
            .unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(
        store.lookup_message_id("C-1".into()).await.unwrap(),
        owner("crm", None)
    );
    assert_eq!(
        store.lookup_message_id("C-9".into()).await.unwrap(),
        owner("pbx", None)
    );
    let newest = read(&store, |t| t.newest_message_id_at()).await.unwrap();
    assert!(
        (before..=before + 60).contains(&newest),
        "the newest row's time ({newest}, unix seconds)"
    );
    // Through the interface, with another TTL (a backend may partition by it).
    let ttl = std::time::Duration::from_secs(3600);
    commit(&store, move |t| t.map_message_id("C-4", "other", None, ttl))
        .await
        .unwrap();
    assert_eq!(
        read(&store, move |t| t.lookup_message_id("C-4", ttl)).await,
        owner("other", None)
    );
    assert_eq!(
        commit(&store, move |t| t.purge_message_ids(ttl, 100))
            .await
            .unwrap(),
        0,
        "nothing expired"
    );
    // Many rows at once (more than one statement's worth on PostgreSQL),
    // one carrier id twice: the later row wins.
    commit(&store, move |t| {
        let ids: Vec<String> = (0..6_000).map(|i| format!("D-{i}")).collect();
        let mut rows: Vec<(&str, &str, Option<&str>)> =
            ids.iter().map(|id| (id.as_str(), "pbx", None)).collect();
        rows.push(("D-7", "crm", Some("0000000000000010")));
        t.map_message_ids(&rows, ttl)
    })
    .await
    .unwrap();
    assert_eq!(
        read(&store, move |t| t.lookup_message_id("D-5999", ttl)).await,
        owner("pbx", None)
    );
    assert_eq!(
        read(&store, move |t| t.lookup_message_id("D-7", ttl)).await,
        owner("crm", Some("0000000000000010"))
    );
    // Ids already mapped, with new ones: replaced, the new ones added.
    commit(&store, move |t| {
        t.map_message_ids(&[("D-8", "other", None), ("D-new", "pbx", None)], ttl)
    })
    .await
    .unwrap();
    assert_eq!(
        read(&store, move |t| t.lookup_message_id("D-8", ttl)).await,
        owner("other", None)
    );
    assert_eq!(
        read(&store, move |t| t.lookup_message_id("D-new", ttl)).await,
        owner("pbx", None)
    );
    store.ping().await.unwrap();
    commit(&store, |t| t.touch()).await.unwrap();
    store.close().await.unwrap();
    let store = s.open().await;
    assert_eq!(
        store.lookup_message_id("C-2".into()).await.unwrap(),
        owner("crm", Some("0000000000000009"))
    );
    store.close().await.unwrap();
}
