//! The daemon against a fake carrier: binds, forwarding, routing, faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::postgres::Backend;
use common::*;
use optgate::config::Config;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Body, Pdu};

async fn start(carrier: &FakeCarrier, dir: &std::path::Path) -> Daemon {
    let cfg = config(&carrier.address(), dir, TWO_ACCOUNTS);
    common::start_daemon(carrier, &cfg).await
}

/// The two-account config on `backend` (a fresh database on PostgreSQL).
fn config_on(carrier: &FakeCarrier, dir: &std::path::Path, backend: Backend) -> Config {
    let mut cfg = config(&carrier.address(), dir, TWO_ACCOUNTS);
    backend.apply(&mut cfg);
    cfg
}

#[tokio::test]
async fn bind_matrix() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;

    let mut ok = Esme::connect(d.smpp_addr()).await;
    let r = ok.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_id(), cmd::BIND_TRANSCEIVER_RESP);
    assert_eq!(r.command_status, status::ESME_ROK);
    match &r.body {
        Body::BindTransceiverResp(b) => assert_eq!(b.tlvs.sc_interface_version(), Some(0x34)),
        other => panic!("{other:?}"),
    }
    // A second bind on the same session.
    let again = ok.bind(cmd::BIND_TRANSMITTER, "pbx", "secret").await;
    assert_eq!(again.command_status, status::ESME_RALYBND);

    let mut bad_id = Esme::connect(d.smpp_addr()).await;
    let r = bad_id.bind(cmd::BIND_TRANSMITTER, "nobody", "secret").await;
    assert_eq!(r.command_status, status::ESME_RINVSYSID);
    assert!(
        bad_id.closed().await,
        "connection must close after a failed bind"
    );

    let mut bad_pw = Esme::connect(d.smpp_addr()).await;
    let r = bad_pw.bind(cmd::BIND_RECEIVER, "pbx", "wrong").await;
    assert_eq!(r.command_status, status::ESME_RINVPASWD);
    assert!(bad_pw.closed().await);

    // Anything but a bind before binding.
    let mut early = Esme::connect(d.smpp_addr()).await;
    let (r, _) = early
        .request(submit("14155550100", "14155551234", "hi"))
        .await;
    assert_eq!(r.command_id(), cmd::SUBMIT_SM_RESP);
    assert_eq!(r.command_status, status::ESME_RINVBNDSTS);

    // A receiver may not submit.
    let mut rx = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        rx.bind(cmd::BIND_RECEIVER, "crm", "secret2")
            .await
            .command_status,
        0
    );
    let (r, _) = rx.request(submit("14155550200", "14155551234", "hi")).await;
    assert_eq!(r.command_status, status::ESME_RINVBNDSTS);
    assert!(
        carrier.submits().is_empty(),
        "nothing may reach the carrier"
    );

    // max_binds = 2 for pbx: the third concurrent bind is refused.
    let mut b2 = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        b2.bind(cmd::BIND_TRANSMITTER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let mut b3 = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        b3.bind(cmd::BIND_TRANSMITTER, "pbx", "secret")
            .await
            .command_status,
        status::ESME_RBINDFAIL
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn bind_timeout_closes_silent_connections() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let mut c = Esme::connect(d.smpp_addr()).await;
    let t0 = std::time::Instant::now();
    assert!(c.closed().await, "an unbound connection is closed");
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "not before bind_timeout (2s)"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn submit_round_trip_rewrites_sequence_numbers() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    p.seq = 0x7FFF_0000;
    let (r, _) = p
        .request(submit("14155550100", "14155551234", "hello"))
        .await;
    assert_eq!(r.command_status, 0);
    assert_eq!(
        r.sequence_number, 0x7FFF_0001,
        "answer carries the platform's sequence number"
    );
    assert_eq!(
        message_id(&r),
        "c1",
        "carrier message id passes through unchanged"
    );
    let seen = carrier.wait_submits(1).await;
    assert_ne!(
        seen[0].sequence_number, 0x7FFF_0001,
        "upstream uses its own sequence numbers"
    );
    assert_eq!(text_of(&seen[0]), "hello");
    // Byte-exact apart from the header's sequence number.
    let mut sent = submit("14155550100", "14155551234", "hello");
    sent.sequence_number = seen[0].sequence_number;
    assert_eq!(sent.to_bytes(), seen[0].to_bytes());
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn receipts_and_mos_reach_the_right_account() {
    receipts_and_mos_reach_the_right_account_on(Backend::Sqlite).await;
}

/// The same with the id map and stored deliveries in PostgreSQL.
#[tokio::test]
async fn on_postgres_receipts_and_mos_reach_the_right_account() {
    receipts_and_mos_reach_the_right_account_on(Backend::Postgres).await;
}

async fn receipts_and_mos_reach_the_right_account_on(backend: Backend) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_on(&carrier, dir.path(), backend);
    // A carrier that does not address receipts to the message's sender:
    // every message is mapped (by default only where the address would
    // route wrongly; tests/receipts_routing.rs).
    cfg.upstream.id_map_always = true;
    let d = start_daemon(&carrier, &cfg).await;
    let mut pbx = Esme::connect(d.smpp_addr()).await;
    pbx.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    let mut crm = Esme::connect(d.smpp_addr()).await;
    crm.bind(cmd::BIND_TRANSCEIVER, "crm", "secret2").await;

    // Both ask for receipts: only then is the carrier's message id remembered.
    let (r1, _) = pbx
        .request(submit_dlr("14155550100", "14155551111", "from pbx"))
        .await;
    let (r2, _) = crm
        .request(submit_dlr("14155550200", "14155552222", "from crm"))
        .await;
    let (id1, id2) = (message_id(&r1), message_id(&r2));

    // The receipt for crm's message is addressed oddly on purpose: routing
    // must follow the message id, not the address.
    let resp = carrier
        .deliver(receipt(&id2, "14155552222", "14155550100"))
        .await;
    assert_eq!(resp.command_id(), cmd::DELIVER_SM_RESP);
    assert_eq!(resp.command_status, 0);
    let got = crm.expect_deliver().await;
    assert!(text_of(&got).contains(&format!("id:{id2}")));
    crm.ack(&got).await;

    let resp = carrier
        .deliver(receipt(&id1, "14155551111", "14155550100"))
        .await;
    assert_eq!(resp.command_status, 0);
    let got = pbx.expect_deliver().await;
    assert!(text_of(&got).contains(&format!("id:{id1}")));
    pbx.ack(&got).await;

    // MO routed by the business number it is addressed to (crm wrote it
    // with + and spaces in its config).
    let resp = carrier
        .deliver(mo("14155553333", "14155550200", "hello crm"))
        .await;
    assert_eq!(resp.command_status, 0);
    let got = crm.expect_deliver().await;
    assert_eq!(text_of(&got), "hello crm");
    crm.ack(&got).await;
    assert!(
        pbx.try_recv(Duration::from_millis(300)).await.is_none(),
        "pbx gets nothing of crm's"
    );

    // A number nobody owns is refused, not swallowed.
    let resp = carrier
        .deliver(mo("14155553333", "19995550000", "lost"))
        .await;
    assert_eq!(resp.command_status, status::ESME_RINVDSTADR);
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn mo_waits_for_a_bind_and_survives_restart() {
    mo_waits_for_a_bind_and_survives_restart_on(Backend::Sqlite).await;
}

/// The same with the stored deliveries in PostgreSQL.
#[tokio::test]
async fn on_postgres_mo_waits_for_a_bind_and_survives_restart() {
    mo_waits_for_a_bind_and_survives_restart_on(Backend::Postgres).await;
}

async fn mo_waits_for_a_bind_and_survives_restart_on(backend: Backend) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_on(&carrier, dir.path(), backend);
    let d = start_daemon(&carrier, &cfg).await;
    // Nobody bound: both are stored, and the carrier gets OK only then.
    for t in ["first", "second"] {
        let r = carrier.deliver(mo("14155554444", "14155550100", t)).await;
        assert_eq!(r.command_status, 0);
    }
    d.shutdown(Duration::from_secs(2)).await;

    let d = Daemon::start(&cfg, None).await.unwrap();
    carrier.wait_binds(2).await;
    let r = carrier
        .deliver(mo("14155554444", "14155550100", "third"))
        .await;
    assert_eq!(r.command_status, 0);
    let mut p = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_RECEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let mut texts = Vec::new();
    for _ in 0..3 {
        let m = p.expect_deliver().await;
        texts.push(text_of(&m));
        p.ack(&m).await;
    }
    assert_eq!(texts, ["first", "second", "third"], "in order");
    assert!(
        p.try_recv(Duration::from_millis(500)).await.is_none(),
        "exactly once"
    );
    d.shutdown(Duration::from_secs(2)).await;

    // Acknowledged rows are gone: a new bind after restart gets nothing.
    let d = Daemon::start(&cfg, None).await.unwrap();
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_RECEIVER, "pbx", "secret").await;
    assert!(
        p.try_recv(Duration::from_millis(700)).await.is_none(),
        "no duplicate after restart"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn carrier_outage_gives_temporary_errors_then_recovers() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(
        p.request(submit("14155550100", "14155551234", "a"))
            .await
            .0
            .command_status,
        0
    );

    let addr = carrier.kill().await;
    common::wait_until(|| d.upstream_binds_up() == 0).await;
    let t0 = std::time::Instant::now();
    let (r, _) = p.request(submit("14155550100", "14155551234", "b")).await;
    assert_eq!(
        r.command_status,
        status::ESME_RTHROTTLED,
        "temporary error while the carrier is down"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "answered promptly, not hung"
    );

    let carrier = FakeCarrier::start_on(&addr.to_string()).await;
    carrier.wait_binds(1).await;
    common::wait_until(|| d.upstream_binds_up() == 1).await;
    let (r, _) = p.request(submit("14155550100", "14155551234", "c")).await;
    assert_eq!(r.command_status, 0, "traffic resumes after rebind");
    assert_eq!(text_of(&carrier.wait_submits(1).await[0]), "c");
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn window_overflow_is_throttled() {
    let carrier = FakeCarrier::start().await;
    carrier
        .delay_ms
        .store(100, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    // window = 10: send 15 without waiting.
    for i in 0..15u32 {
        let mut s = submit("14155550100", "14155551234", "w");
        s.sequence_number = 100 + i;
        p.send(&s).await;
    }
    let mut ok = 0;
    let mut throttled = 0;
    for _ in 0..15 {
        let r = p.recv().await;
        match r.command_status {
            0 => ok += 1,
            s if s == status::ESME_RTHROTTLED => throttled += 1,
            other => panic!("unexpected status {other:#x}"),
        }
    }
    assert_eq!((ok, throttled), (10, 5));
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn malformed_pdus_are_answered_and_the_session_survives() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;

    // Unknown command id.
    p.send_raw(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 7])
        .await;
    let r = p.recv().await;
    assert_eq!(
        (r.command_id(), r.command_status, r.sequence_number),
        (cmd::GENERIC_NACK, status::ESME_RINVCMDID, 7)
    );

    // submit_sm whose service_type C-string never ends.
    let mut bad = vec![0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 8];
    bad.extend_from_slice(b"CMTX");
    p.send_raw(&bad).await;
    let r = p.recv().await;
    assert_eq!(r.command_id(), cmd::SUBMIT_SM_RESP);
    assert_eq!(r.sequence_number, 8);
    assert_ne!(r.command_status, 0);

    // The session still works.
    let (r, _) = p
        .request(submit("14155550100", "14155551234", "still here"))
        .await;
    assert_eq!(r.command_status, 0);

    // A length below 16 loses framing: nack and close.
    p.send_raw(&[0, 0, 0, 15, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9])
        .await;
    let r = p.recv().await;
    assert_eq!(
        (r.command_id(), r.command_status),
        (cmd::GENERIC_NACK, status::ESME_RINVCMDLEN)
    );
    assert!(p.closed().await);
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn graceful_shutdown_answers_in_flight_and_unbinds() {
    let carrier = FakeCarrier::start().await;
    carrier
        .delay_ms
        .store(400, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    for i in 0..3u32 {
        let mut s = submit("14155550100", "14155551234", "inflight");
        s.sequence_number = 50 + i;
        p.send(&s).await;
    }
    carrier.wait_submits(1).await;
    let stop = tokio::spawn(d.shutdown(Duration::from_secs(3)));
    let mut answered = 0;
    let mut forwarded_ok = 0;
    let mut saw_unbind = false;
    while let Some(pdu) = p.try_recv(Duration::from_secs(5)).await {
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => {
                // Forwarded ones carry the carrier's answer; ones still unread
                // when the unbind went out get a temporary error to retry.
                assert!(
                    pdu.command_status == 0 || pdu.command_status == status::ESME_RTHROTTLED,
                    "unexpected status {:#x}",
                    pdu.command_status
                );
                if pdu.command_status == 0 {
                    forwarded_ok += 1;
                }
                answered += 1;
            }
            cmd::UNBIND => {
                saw_unbind = true;
                p.send(&Pdu::new(pdu.sequence_number, Body::UnbindResp))
                    .await;
            }
            other => panic!("unexpected {other:#x}"),
        }
    }
    assert!(saw_unbind, "platform sees an unbind");
    assert_eq!(answered, 3, "every request is answered");
    assert_eq!(
        forwarded_ok,
        carrier.submits().len(),
        "everything the carrier got was answered OK"
    );
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        carrier.log.lock().unwrap().unbinds,
        1,
        "carrier bind unbound too"
    );
}
