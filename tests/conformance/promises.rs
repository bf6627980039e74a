//! The promises of the store: an `Ok` means durable, work runs in order,
//! a failing unit of work leaves nothing, the cache is never stale, and a
//! database that fails gives errors, never a panic or a false `Ok`.

use std::time::{Duration, Instant};

use optgate::policy::ConsentStatus::{self, Active, None as NoRow, Refused};
use optgate::store::consent::{Event, NewHeld};
use optgate::store::{DeliveryKind, Durable, StoreError, StoreTxn};

use super::{commit, key, read, Setup};

fn event(recipient: &str, kind: &str) -> Event {
    Event {
        key: key("news", "", recipient),
        kind: kind.into(),
        old_status: None,
        new_status: None,
        source: "test".into(),
        message_ids: String::new(),
    }
}

pub async fn ok_means_durable_for_another_reader_and_after_reopen(s: &impl Setup) {
    let writer = s.open().await;
    let reader = s.open().await;
    let k = key("news", "", "4001");
    // Each write is visible to another store as soon as it was answered.
    for (i, status) in [Refused, Active, Refused].into_iter().enumerate() {
        commit(&writer, {
            let k = k.clone();
            move |t| t.set_status(&k, status, "STOP", "")
        })
        .await
        .unwrap();
        let seen = read(&reader, {
            let k = k.clone();
            move |t| t.consent(&k)
        })
        .await;
        assert_eq!(
            seen.status, status,
            "write {i} not visible to another reader"
        );
    }
    let gid = commit(&writer, {
        let k = k.clone();
        move |t| {
            t.outbox_push("help", &k, "optgate", None, b"o")?;
            t.hold(&NewHeld {
                key: &k,
                account: "pbx",
                group_id: None,
                ttl_ms: 60_000,
                registered_delivery: 0,
                pdu: b"h",
            })
        }
    })
    .await
    .unwrap();
    let id = writer
        .enqueue_delivery("pbx".into(), b"mo".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap();
    let check = |store: optgate::store::Store| {
        let k = k.clone();
        async move {
            let (row, held, outbox, deliveries) = read(&store, move |t| {
                Ok((
                    t.consent(&k)?,
                    t.held_group(gid)?,
                    t.outbox_pending(0, 10)?,
                    t.pending_deliveries("pbx", 0, 10)?,
                ))
            })
            .await;
            assert_eq!(row.status, Refused);
            assert_eq!(held.len(), 1);
            assert_eq!(outbox.len(), 1);
            assert_eq!(deliveries.iter().map(|d| d.id).collect::<Vec<_>>(), [id]);
            store
        }
    };
    let reader = check(reader).await;
    reader.close().await.unwrap();
    writer.close().await.unwrap();
    let reopened = check(s.open().await).await;
    assert_eq!(reopened.count_deliveries().await.unwrap(), 1);
    reopened.close().await.unwrap();
}

/// The read of an MT decision queued right after an MO's change sees that
/// change, even with many requests in flight and the MT answered before
/// the MO's commit.
pub async fn an_mo_change_orders_before_a_following_mt_decision(s: &impl Setup) {
    let store = s.open().await;
    let decide = |k: optgate::store::consent::Key| {
        move |t: &mut optgate::store::TxnEnv<'_>| {
            let row = t.consent(&k)?;
            t.fill_consent(&row);
            Ok((row.status, Durable::Now))
        }
    };
    let mut pending = Vec::new();
    for i in 0..40 {
        let k = key("news", "", &format!("50{i:02}"));
        let before = store.transact_queued(decide(k.clone())).await.unwrap();
        let mo = store
            .transact_queued({
                let k = k.clone();
                move |t| Ok((t.set_status(&k, Refused, "STOP", "")?, Durable::AfterCommit))
            })
            .await
            .unwrap();
        let after = store.transact_queued(decide(k.clone())).await.unwrap();
        pending.push((k, before, mo, after));
    }
    let cache = store.consent_cache().clone();
    for (k, before, mo, after) in pending {
        assert_eq!(before.await.unwrap().unwrap(), NoRow);
        assert_eq!(after.await.unwrap().unwrap(), Refused, "{k:?}");
        assert_eq!(mo.await.unwrap().unwrap(), NoRow);
        // Once the STOP is acknowledged the cache can not say none.
        assert_ne!(cache.state(&k).map(|c| c.status), Some(NoRow), "{k:?}");
    }
    store.close().await.unwrap();
}

pub async fn a_failing_unit_of_work_leaves_nothing_and_spares_the_batch(s: &impl Setup) {
    let store = s.open().await;
    let failing = key("news", "", "6002");
    let a = store
        .transact_queued(|t| Ok((t.insert_event(&event("6001", "a"))?, Durable::AfterCommit)))
        .await
        .unwrap();
    let b = store
        .transact_queued({
            let k = failing.clone();
            move |t| -> Result<((), Durable), StoreError> {
                t.insert_event(&event("6002", "b"))?;
                t.set_status(&k, Refused, "STOP", "")?;
                t.outbox_push("help", &k, "optgate", None, b"o")?;
                t.enqueue_delivery("pbx", DeliveryKind::Mo, b"mo")?;
                Err(StoreError::Full { limit: 0 })
            }
        })
        .await
        .unwrap();
    let c = store
        .transact_queued(|t| Ok((t.insert_event(&event("6003", "c"))?, Durable::AfterCommit)))
        .await
        .unwrap();
    a.await.unwrap().unwrap();
    assert!(matches!(
        b.await.unwrap(),
        Err(StoreError::Full { limit: 0 })
    ));
    c.await.unwrap().unwrap();
    let (kinds, row, outbox) = read(&store, move |t| {
        let kinds: Vec<String> = t
            .list_events(None, None, 10)?
            .into_iter()
            .map(|e| e.event.kind)
            .collect();
        Ok((kinds, t.consent(&failing)?, t.outbox_pending(0, 10)?))
    })
    .await;
    assert_eq!(kinds, ["a", "c"]);
    assert_eq!(row.status, NoRow);
    assert!(outbox.is_empty());
    assert_eq!(
        store.count_deliveries().await.unwrap(),
        0,
        "the rolled-back delivery is not counted"
    );
    store.close().await.unwrap();
}

pub async fn the_cache_never_keeps_a_row_the_work_wrote(s: &impl Setup) {
    let store = s.open().await;
    let cache = store.consent_cache().clone();
    let k = key("news", "", "7001");
    let during = commit(&store, {
        let (k, cache) = (k.clone(), cache.clone());
        move |t| {
            let row = t.consent(&k)?;
            t.set_status(&k, Active, "START", "")?;
            // The row read before the write is stale: it must not be put,
            // not even until the work ends (sessions read the cache
            // meanwhile).
            t.fill_consent(&row);
            Ok(cache.state(&k))
        }
    })
    .await
    .unwrap();
    assert_eq!(during, None);
    assert_eq!(cache.state(&k), None);
    let other = key("news", "", "7002");
    read(&store, {
        let (k, other) = (k.clone(), other.clone());
        move |t| {
            let row = t.consent(&k)?;
            t.fill_consent(&row);
            // Setting the status a key already has writes nothing.
            let none = t.consent(&other)?;
            t.set_status(&other, ConsentStatus::None, "noop", "")?;
            t.fill_consent(&none);
            Ok(())
        }
    })
    .await;
    assert_eq!(cache.state(&k).map(|c| c.status), Some(Active));
    assert_eq!(cache.state(&other).map(|c| c.status), Some(NoRow));
    store.close().await.unwrap();
}

pub async fn blocked_writes_are_errors_then_the_store_recovers<S: Setup>(s: &S) {
    let store = s
        .open_tuned(|o| o.busy_timeout = Duration::from_millis(50))
        .await
        .unwrap();
    let k = key("news", "", "8001");
    let guard = s.block_writes().await;
    let err = commit(&store, {
        let k = k.clone();
        move |t| t.set_status(&k, Refused, "STOP", "")
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Commit(_) | StoreError::Database(_)),
        "{err:?}"
    );
    let err = store
        .enqueue_delivery("pbx".into(), b"mo".to_vec(), DeliveryKind::Mo)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Commit(_) | StoreError::Database(_)),
        "{err:?}"
    );
    assert!(!store.is_writable().await);
    if S::BLOCKED_WRITE_FAILS_THE_BATCH {
        assert!(store.stats().failed_commits >= 1);
    }
    drop(guard);
    let until = Instant::now() + Duration::from_secs(10);
    while !store.is_writable().await {
        assert!(Instant::now() < until, "the store did not recover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = read(&store, {
        let k = k.clone();
        move |t| t.consent(&k)
    })
    .await;
    assert_eq!(row.status, NoRow, "a failed write left nothing");
    assert_eq!(store.count_deliveries().await.unwrap(), 0);
    commit(&store, move |t| t.set_status(&k, Refused, "STOP", ""))
        .await
        .unwrap();
    store.close().await.unwrap();
}

pub async fn unusable_storage_is_an_error_at_open(s: &impl Setup) {
    let r = tokio::time::timeout(Duration::from_secs(30), s.open_unusable())
        .await
        .expect("open of unusable storage must not hang");
    assert!(r.is_err(), "open of unusable storage must fail");
}
