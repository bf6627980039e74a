//! Conformance of the compliance operations (issue 17): the receipt time
//! of an outbox row, events by kind and by id.

use optgate::store::consent::Event;
use optgate::store::StoreTxn;

use super::{commit, key, read, Setup};

pub async fn outbox_received_time_is_kept_per_row(s: &impl Setup) {
    let store = s.open().await;
    let k = key("news", "", "3101");
    let (i1, i2) = commit(&store, move |t| {
        let i1 = t.outbox_push("opt_out_response", &k, "", None, b"p1")?;
        let i2 = t.outbox_push("help", &k, "", None, b"p2")?;
        t.outbox_received(i1, 1_700_000_000_001)?;
        // No such row: nothing happens, no error.
        t.outbox_received(i2 + 100, 5)?;
        Ok((i1, i2))
    })
    .await
    .unwrap();
    let got = read(&store, move |t| {
        Ok((
            t.outbox_received_at(i1)?,
            t.outbox_received_at(i2)?,
            t.outbox_received_at(i2 + 100)?,
        ))
    })
    .await;
    assert_eq!(got, (Some(1_700_000_000_001), None, None));
    commit(&store, move |t| t.outbox_done(i1)).await.unwrap();
    assert_eq!(read(&store, move |t| t.outbox_received_at(i1)).await, None);
}

pub async fn events_by_kind_and_by_id(s: &impl Setup) {
    let store = s.open().await;
    let ev = |r: &str, kind: &str| Event {
        key: key("news", "", r),
        kind: kind.into(),
        old_status: None,
        new_status: None,
        source: "stop texting me".into(),
        message_ids: String::new(),
    };
    let es = [
        ev("1", "probable_opt_out"),
        ev("2", "held"),
        ev("3", "probable_opt_out"),
        ev("4", "probable_opt_out"),
    ];
    commit(&store, {
        let es = es.clone();
        move |t| es.iter().try_for_each(|e| t.insert_event(e))
    })
    .await
    .unwrap();
    let p = read(&store, |t| t.events_of_kind("probable_opt_out", 0, 10)).await;
    let recips: Vec<_> = p.iter().map(|r| r.event.key.recipient.as_str()).collect();
    assert_eq!(recips, ["1", "3", "4"]);
    assert!(p.windows(2).all(|w| w[0].id < w[1].id));
    // Paging: after the first, at most one.
    let after = p[0].id;
    let page = read(&store, move |t| {
        t.events_of_kind("probable_opt_out", after, 1)
    })
    .await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event.key.recipient, "3");
    assert!(read(&store, |t| t.events_of_kind("nothing", 0, 10))
        .await
        .is_empty());
    let id = p[1].id;
    let one = read(&store, move |t| t.event(id)).await;
    assert_eq!(one.map(|r| r.event), Some(es[2].clone()));
    assert_eq!(read(&store, move |t| t.event(id + 1000)).await, None);
}

pub async fn webhook_cursor_outbox_and_events_after(s: &impl Setup) {
    let store = s.open().await;
    assert_eq!(read(&store, |t| t.last_event_id()).await, 0);
    assert_eq!(read(&store, |t| t.webhook_cursor("http://a/")).await, None);
    let ev = Event {
        key: key("news", "", "3201"),
        kind: "consent_change".into(),
        old_status: None,
        new_status: None,
        source: "stop".into(),
        message_ids: String::new(),
    };
    commit(&store, move |t| {
        t.insert_event(&ev)?;
        t.insert_event(&ev)?;
        t.insert_event(&ev)
    })
    .await
    .unwrap();
    let last = read(&store, |t| t.last_event_id()).await;
    let all = read(&store, |t| t.events_after(0, 10)).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].id, last);
    let first = all[0].id;
    let rest = read(&store, move |t| t.events_after(first, 1)).await;
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [all[1].id]);

    commit(&store, move |t| {
        t.set_webhook_cursor("http://a/", first)?;
        t.set_webhook_cursor("http://a/", last)
    })
    .await
    .unwrap();
    assert_eq!(
        read(&store, |t| t.webhook_cursor("http://a/")).await,
        Some(last)
    );
    assert_eq!(read(&store, |t| t.webhook_cursor("http://b/")).await, None);

    let (w1, w2) = commit(&store, move |t| {
        let w1 = t.webhook_push("http://a/", first, "3201", "{\"n\":1}")?;
        let w2 = t.webhook_push("http://a/", last, "3202", "{\"n\":2}")?;
        t.webhook_push("http://b/", last, "3202", "{}")?;
        Ok((w1, w2))
    })
    .await
    .unwrap();
    assert!(w1 < w2);
    let rows = read(&store, |t| t.webhook_pending("http://a/", 10)).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].id,
            rows[0].event_id,
            rows[0].recipient.as_str(),
            rows[0].body.as_str(),
            rows[0].attempts
        ),
        (w1, first, "3201", "{\"n\":1}", 0)
    );
    assert!(rows[0].next_at >= rows[0].created_at);
    commit(&store, move |t| t.webhook_retry(w1, 1_900_000_000_000))
        .await
        .unwrap();
    commit(&store, move |t| t.webhook_done(w2)).await.unwrap();
    let rows = read(&store, |t| t.webhook_pending("http://a/", 10)).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].attempts, rows[0].next_at), (1, 1_900_000_000_000));
    assert_eq!(
        read(&store, |t| t.webhook_pending("http://b/", 10))
            .await
            .len(),
        1
    );
}

pub async fn purge_events_and_deliveries_oldest_first_in_batches(s: &impl Setup) {
    let store = s.open().await;
    let ev = Event {
        key: key("news", "", "3301"),
        kind: "consent_change".into(),
        old_status: None,
        new_status: None,
        source: "stop".into(),
        message_ids: String::new(),
    };
    commit(&store, move |t| {
        (0..5).try_for_each(|_| t.insert_event(&ev))
    })
    .await
    .unwrap();
    commit(&store, |t| {
        for _ in 0..3 {
            t.insert_delivery("pbx", optgate::store::DeliveryKind::Mo, b"pdu")?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let all = read(&store, |t| t.events_after(0, 10)).await;
    let now = optgate::store::consent::now_ms();
    // Nothing is older than an hour ago.
    assert_eq!(
        commit(&store, move |t| t.purge_events(now - 3_600_000, 10))
            .await
            .unwrap(),
        0
    );
    // Everything is older than a minute from now: two, then the rest.
    assert_eq!(
        commit(&store, move |t| t.purge_events(now + 60_000, 2))
            .await
            .unwrap(),
        2
    );
    let left = read(&store, |t| t.events_after(0, 10)).await;
    assert_eq!(
        left.iter().map(|r| r.id).collect::<Vec<_>>(),
        all[2..].iter().map(|r| r.id).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(
        commit(&store, move |t| t.purge_events(now + 60_000, 10))
            .await
            .unwrap(),
        3
    );
    let secs = now / 1000;
    assert_eq!(
        commit(&store, move |t| t.purge_deliveries(secs - 3600, 10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        commit(&store, move |t| t.purge_deliveries(secs + 60, 2))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        read(&store, |t| t.count_deliveries()).await,
        1,
        "the running count follows"
    );
    assert_eq!(
        read(&store, |t| t.pending_deliveries("pbx", 0, 10))
            .await
            .len(),
        1
    );
}
