//! The direct path for carrier receipts and plain MOs: handed straight to a
//! bound platform, the carrier answered only after the platform's
//! `deliver_sm_resp`, nothing written to the store; and every way back to
//! the store (a slow platform, a temporary error, a session that ends, a
//! backlog ahead of it, `direct_delivery_wait = "0s"`), on both backends.
//!
//! "Nothing was written" is checked by the store's next delivery id: ids
//! are never reused (SQLite AUTOINCREMENT, PostgreSQL BIGSERIAL), so a
//! probe row gets id 1 only if no row was ever stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::postgres::Backend;
use common::*;
use optgate::config::Config;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Body, MessageIdResp, Pdu};
use optgate::store::DeliveryKind;

fn config_on(carrier: &FakeCarrier, dir: &std::path::Path, backend: Backend, wait: &str) -> Config {
    let mut cfg = config(&carrier.address(), dir, TWO_ACCOUNTS);
    cfg.server.direct_delivery_wait = humantime::parse_duration(wait).unwrap();
    backend.apply(&mut cfg);
    cfg
}

/// The carrier delivers `pdu` in the background; the answer comes later.
fn deliver_later(carrier: &std::sync::Arc<FakeCarrier>, pdu: Pdu) -> tokio::task::JoinHandle<Pdu> {
    let c = carrier.clone();
    tokio::spawn(async move { c.deliver(pdu).await })
}

/// The id the next stored delivery gets (a probe row for an account no
/// config names, so no dispatcher takes it).
async fn next_delivery_id(d: &Daemon) -> u64 {
    d.store()
        .enqueue_delivery_queued("probe".into(), vec![0], DeliveryKind::Mo)
        .await
        .unwrap()
        .await
        .unwrap()
        .unwrap()
}

async fn count_rows(d: &Daemon) -> u64 {
    d.store().count_deliveries().await.unwrap() as u64
}

async fn answer(p: &mut Esme, to: &Pdu, code: u32) {
    let r = Pdu::response_to(
        to,
        code,
        Body::DeliverSmResp(MessageIdResp::new(bytes::Bytes::new())),
    );
    p.send(&r).await;
}

async fn bound(d: &Daemon) -> Esme {
    let mut p = Esme::connect(d.smpp_addr()).await;
    let r = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, status::ESME_ROK);
    p
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod on_postgres { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

both!(
    straight_through_the_carrier_waits_for_the_platform,
    a_slow_platform_gets_it_once_and_the_row_is_settled_by_its_answer,
    a_temporary_error_goes_to_the_store_and_is_delivered_again,
    a_permanent_refusal_is_the_carriers_answer,
    a_session_that_ends_unanswered_leaves_it_in_the_store,
    a_backlog_is_not_overtaken,
    zero_wait_stores_first,
    a_platform_that_binds_again_is_served_straight_away,
    a_full_window_does_not_strand_what_waits_behind_it,
);

async fn straight_through_the_carrier_waits_for_the_platform(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "5s")).await;
    let mut p = bound(&d).await;
    for i in 0..3 {
        let id = format!("c{i}");
        let carrier_answer = deliver_later(&carrier, receipt(&id, "14155559999", "14155550100"));
        let got = p.expect_deliver().await;
        assert!(text_of(&got).contains(&format!("id:{id} ")), "{got:?}");
        // The carrier has no answer while the platform has not answered.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !carrier_answer.is_finished(),
            "carrier answered before the platform"
        );
        p.ack(&got).await;
        let r = carrier_answer.await.unwrap();
        assert_eq!(r.command_status, status::ESME_ROK);
    }
    // A plain MO takes the same path.
    let carrier_answer = deliver_later(&carrier, mo("14155554444", "14155550100", "hello"));
    let got = p.take_deliver().await;
    assert_eq!(text_of(&got), "hello");
    assert_eq!(
        carrier_answer.await.unwrap().command_status,
        status::ESME_ROK
    );
    assert_eq!(next_delivery_id(&d).await, 1, "a row was stored");
    d.shutdown(Duration::from_secs(2)).await;
}

async fn a_slow_platform_gets_it_once_and_the_row_is_settled_by_its_answer(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "200ms")).await;
    let mut p = bound(&d).await;
    let carrier_answer = deliver_later(&carrier, receipt("slow1", "14155559999", "14155550100"));
    let got = p.expect_deliver().await;
    // The platform does not answer within the wait: the message is stored
    // and only then is the carrier answered.
    let r = carrier_answer.await.unwrap();
    assert_eq!(r.command_status, status::ESME_ROK);
    assert_eq!(count_rows(&d).await, 1);
    // The late answer settles the stored row: deleted, not delivered again.
    p.ack(&got).await;
    let d2 = &d;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count_rows(d2).await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stored row not settled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        p.try_recv(Duration::from_millis(700)).await.is_none(),
        "delivered twice"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

async fn a_temporary_error_goes_to_the_store_and_is_delivered_again(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "5s")).await;
    let mut p = bound(&d).await;
    let carrier_answer = deliver_later(&carrier, receipt("tmp1", "14155559999", "14155550100"));
    let first = p.expect_deliver().await;
    answer(&mut p, &first, status::ESME_RX_T_APPN).await;
    // Stored, so the carrier is answered OK; and delivered from the store.
    assert_eq!(
        carrier_answer.await.unwrap().command_status,
        status::ESME_ROK
    );
    let again = p.take_deliver().await;
    assert_eq!(text_of(&again), text_of(&first));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count_rows(&d).await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "row not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(next_delivery_id(&d).await >= 2, "it was stored");
    d.shutdown(Duration::from_secs(2)).await;
}

async fn a_permanent_refusal_is_the_carriers_answer(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "5s")).await;
    let mut p = bound(&d).await;
    let carrier_answer = deliver_later(&carrier, mo("14155554444", "14155550100", "nope"));
    let got = p.expect_deliver().await;
    answer(&mut p, &got, status::ESME_RX_R_APPN).await;
    assert_eq!(
        carrier_answer.await.unwrap().command_status,
        status::ESME_RX_R_APPN
    );
    assert_eq!(
        next_delivery_id(&d).await,
        1,
        "a refused message was stored"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

async fn a_session_that_ends_unanswered_leaves_it_in_the_store(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "5s")).await;
    let mut p = bound(&d).await;
    let carrier_answer = deliver_later(&carrier, receipt("gone1", "14155559999", "14155550100"));
    let got = p.expect_deliver().await;
    drop(p); // the platform disconnects without answering
    assert_eq!(
        carrier_answer.await.unwrap().command_status,
        status::ESME_ROK
    );
    assert_eq!(count_rows(&d).await, 1);
    let mut p = bound(&d).await;
    let again = p.take_deliver().await;
    assert_eq!(text_of(&again), text_of(&got));
    d.shutdown(Duration::from_secs(2)).await;
}

async fn a_backlog_is_not_overtaken(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "5s")).await;
    // No platform bound: three MOs are stored.
    for i in 0..3 {
        let r = carrier
            .deliver(mo("14155554444", "14155550100", &format!("old{i}")))
            .await;
        assert_eq!(r.command_status, status::ESME_ROK);
    }
    let mut p = bound(&d).await;
    // A fourth arrives while the three wait for their answers.
    let first = p.expect_deliver().await;
    let carrier_answer = deliver_later(&carrier, mo("14155554444", "14155550100", "new"));
    let mut texts = vec![text_of(&first)];
    p.ack(&first).await;
    for _ in 0..3 {
        texts.push(text_of(&p.take_deliver().await));
    }
    assert_eq!(texts, ["old0", "old1", "old2", "new"]);
    assert_eq!(
        carrier_answer.await.unwrap().command_status,
        status::ESME_ROK
    );
    d.shutdown(Duration::from_secs(2)).await;
}

async fn zero_wait_stores_first(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "0s")).await;
    let mut p = bound(&d).await;
    // The carrier is answered once the row is committed, before the
    // platform has seen the message.
    let r = carrier
        .deliver(receipt("z1", "14155559999", "14155550100"))
        .await;
    assert_eq!(r.command_status, status::ESME_ROK);
    let got = p.take_deliver().await;
    assert!(text_of(&got).contains("id:z1 "));
    assert!(next_delivery_id(&d).await >= 2, "it was stored");
    d.shutdown(Duration::from_secs(2)).await;
}

/// A platform that unbinds and binds again at once: with several instances
/// its dispatcher gave up the account's claim when the last session left,
/// and takes it again on the new bind (not a claim check later), so the
/// next receipt still goes straight through.
async fn a_platform_that_binds_again_is_served_straight_away(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&carrier, &config_on(&carrier, dir.path(), backend, "5s")).await;
    for round in 0..3 {
        let mut p = bound(&d).await;
        let id = format!("r{round}");
        let carrier_answer = deliver_later(&carrier, receipt(&id, "14155559999", "14155550100"));
        let got = p.expect_deliver().await;
        assert!(text_of(&got).contains(&format!("id:{id} ")), "{got:?}");
        p.ack(&got).await;
        assert_eq!(
            carrier_answer.await.unwrap().command_status,
            status::ESME_ROK
        );
        drop(p);
        // The session is gone (and with it the claim) before the next bind.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(next_delivery_id(&d).await, 1, "a row was stored");
    d.shutdown(Duration::from_secs(2)).await;
}

/// A session's window full of direct deliveries: the next message is
/// stored and waits for room. A direct delivery's answer goes from the
/// session straight to its waiter, not through the dispatcher, so the
/// session must tell the dispatcher when its full window has room again;
/// else the stored message would wait for the next traffic (on SQLite,
/// for ever).
async fn a_full_window_does_not_strand_what_waits_behind_it(backend: Backend) {
    let carrier = std::sync::Arc::new(FakeCarrier::start().await);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_on(&carrier, dir.path(), backend, "30s");
    // The bind keeps reading while twice its window is owed an answer.
    cfg.upstream.window = 200;
    let d = start_daemon(&carrier, &cfg).await;
    let mut p = bound(&d).await;
    let window = optgate::deliver::SESSION_WINDOW;
    let mut answers = Vec::new();
    let mut held = Vec::new();
    for i in 0..window {
        answers.push(deliver_later(
            &carrier,
            mo("14155554444", "14155550100", &format!("d{i}")),
        ));
        held.push(p.expect_deliver().await);
    }
    assert_eq!(next_delivery_id(&d).await, 1, "a row was stored");
    let last = deliver_later(&carrier, mo("14155554444", "14155550100", "behind"));
    // Not taken directly (no room): stored. (Its carrier answer waits
    // behind the 256 before it: answers go out in order.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while count_rows(&d).await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "not stored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for got in &held {
        p.ack(got).await;
    }
    let got = p.take_deliver().await;
    assert_eq!(text_of(&got), "behind");
    answers.push(last);
    for a in answers {
        assert_eq!(a.await.unwrap().command_status, status::ESME_ROK);
    }
    d.shutdown(Duration::from_secs(2)).await;
}
