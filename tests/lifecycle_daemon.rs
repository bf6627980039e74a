//! Platform-side lifecycle of the in-process daemon: failed-bind limits,
//! inactivity, keep-alives, delivery to several binds, redelivery after a
//! disconnect, and the connection limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::postgres::Backend;
use common::*;
use optgate::config::Config;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Bind, Body, Pdu};

/// Long enough for optgate to have sent what it was going to send.
const QUIET: Duration = Duration::from_millis(500);

async fn start_with(
    carrier: &FakeCarrier,
    dir: &std::path::Path,
    tune: impl FnOnce(&mut Config),
) -> Daemon {
    let mut cfg = config(&carrier.address(), dir, TWO_ACCOUNTS);
    tune(&mut cfg);
    cfg.validate().expect("tuned config stays valid");
    common::start_daemon(carrier, &cfg).await
}

#[tokio::test]
async fn failed_binds_are_limited_per_source_ip() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start_with(&carrier, dir.path(), |c| c.server.failed_bind_limit = 3).await;
    for _ in 0..3 {
        let mut e = Esme::connect(d.smpp_addr()).await;
        let r = e.bind(cmd::BIND_TRANSCEIVER, "pbx", "wrong").await;
        assert_eq!(r.command_status, status::ESME_RINVPASWD);
        assert!(e.closed().await);
    }
    // The right password is refused too while this address is blocked...
    let mut e = Esme::connect(d.smpp_addr()).await;
    let r = e.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, status::ESME_RBINDFAIL);
    assert!(e.closed().await, "and the connection is closed");
    // ...but only this address: another source IP binds fine.
    let mut other = Esme::connect_from(d.smpp_addr(), "127.0.0.2".parse().unwrap()).await;
    let r = other.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, status::ESME_ROK);
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn inactivity_timeout_unbinds_a_silent_platform() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start_with(&carrier, dir.path(), |c| {
        c.server.inactivity_timeout = Duration::from_secs(1)
    })
    .await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    let r = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, 0);
    let t0 = std::time::Instant::now();
    let unbind = p.recv().await;
    assert_eq!(unbind.command_id(), cmd::UNBIND, "an unbind comes first");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    assert!(p.closed().await, "then the connection closes");
    // The bind slot is given back: both of pbx's max_binds = 2 are free.
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut again = Esme::connect(d.smpp_addr()).await;
        let r = again.bind(cmd::BIND_TRANSMITTER, "pbx", "secret").await;
        assert_eq!(r.command_status, 0);
        open.push(again);
    }
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn optgate_sends_enquire_link_to_an_idle_platform() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The platform side uses [upstream] enquire_link_interval and
    // response_timeout for its own keep-alives too.
    let d = start_with(&carrier, dir.path(), |c| {
        c.upstream.enquire_link_interval = Duration::from_millis(300)
    })
    .await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_RECEIVER, "pbx", "secret").await;
    for _ in 0..2 {
        let el = p.recv().await;
        assert_eq!(el.command_id(), cmd::ENQUIRE_LINK);
        p.send(&Pdu::new(el.sequence_number, Body::EnquireLinkResp))
            .await;
    }
    // Answered, the session lives on; unanswered, it is closed after
    // response_timeout (2 s in the test config).
    let el = p.recv().await;
    assert_eq!(el.command_id(), cmd::ENQUIRE_LINK);
    assert!(
        p.closed().await,
        "an unanswered enquire_link closes the session"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

/// Reads deliver_sm from `p` (acknowledging them) until `QUIET` passes with nothing.
async fn drain_delivers(p: &mut Esme) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(m) = p.try_recv(QUIET).await {
        assert_eq!(m.command_id(), cmd::DELIVER_SM, "{m:?}");
        p.ack(&m).await;
        got.push(text_of(&m));
    }
    got
}

#[tokio::test]
async fn an_mo_goes_to_exactly_one_of_two_binds() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start_with(&carrier, dir.path(), |_| {}).await;
    let mut a = Esme::connect(d.smpp_addr()).await;
    let mut b = Esme::connect(d.smpp_addr()).await;
    let ra = a.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    let rb = b.bind(cmd::BIND_RECEIVER, "pbx", "secret").await;
    assert_eq!((ra.command_status, rb.command_status), (0, 0));
    let sent: Vec<String> = (0..6).map(|i| format!("mo {i}")).collect();
    // The platforms answer while the carrier sends: on the direct path the
    // carrier's answer waits for the platform's.
    let send = async {
        for t in &sent {
            let r = carrier.deliver(mo("14155553333", "14155550100", t)).await;
            assert_eq!(r.command_status, 0);
        }
    };
    let ((), got_a, got_b) = tokio::join!(send, drain_delivers(&mut a), drain_delivers(&mut b));
    let mut all: Vec<String> = got_a.iter().chain(&got_b).cloned().collect();
    all.sort();
    assert_eq!(
        all, sent,
        "each MO once, to one bind (a: {got_a:?}, b: {got_b:?})"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unacknowledged_deliveries_come_back_on_the_next_bind() {
    unacknowledged_deliveries_come_back_on_the_next_bind_on(Backend::Sqlite).await;
}

/// The same with the stored deliveries in PostgreSQL.
#[tokio::test]
async fn on_postgres_unacknowledged_deliveries_come_back_on_the_next_bind() {
    unacknowledged_deliveries_come_back_on_the_next_bind_on(Backend::Postgres).await;
}

async fn unacknowledged_deliveries_come_back_on_the_next_bind_on(backend: Backend) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start_with(&carrier, dir.path(), |cfg| backend.apply(cfg)).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_RECEIVER, "pbx", "secret").await;
    let first = "before the drop".to_string();
    let r = carrier
        .deliver(mo("14155553333", "14155550100", &first))
        .await;
    assert_eq!(r.command_status, 0);
    let m = p.expect_deliver().await;
    assert_eq!(text_of(&m), first);

    // More MOs arrive while the platform drops the connection without
    // answering: wherever each one is (written, queued for the session,
    // still at the dispatcher), none may be lost.
    let more: Vec<String> = (0..20).map(|i| format!("racing {i:02}")).collect();
    let inject = futures_util::future::join_all(
        more.iter()
            .map(|t| carrier.deliver(mo("14155553333", "14155550100", t))),
    );
    let drop_platform = async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        drop(p);
    };
    let (answers, ()) = tokio::join!(inject, drop_platform);
    assert!(answers.iter().all(|r| r.command_status == 0));

    let mut again = Esme::connect(d.smpp_addr()).await;
    again.bind(cmd::BIND_RECEIVER, "pbx", "secret").await;
    let mut want: BTreeSet<String> = more.into_iter().collect();
    want.insert(first);
    let mut got = Vec::new();
    while got.len() < want.len() {
        let m = again.expect_deliver().await;
        again.ack(&m).await;
        got.push(text_of(&m));
    }
    let distinct: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(distinct, want, "every MO delivered again");
    assert_eq!(got.len(), distinct.len(), "none twice to the new bind");
    assert!(drain_delivers(&mut again).await.is_empty());
    drop(again);
    d.shutdown(Duration::from_secs(2)).await;
}

fn bind_pdu(seq: u32) -> Pdu {
    let b = Bind {
        system_id: bytes::Bytes::from_static(b"pbx").into(),
        password: bytes::Bytes::from_static(b"secret").into(),
        interface_version: 0x34,
        ..Default::default()
    };
    Pdu::new(seq, Body::BindTransceiver(Box::new(b)))
}

#[tokio::test]
async fn a_full_gateway_refuses_new_connections_at_once() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start_with(&carrier, dir.path(), |c| c.server.max_connections = 3).await;
    let mut first = Esme::connect(d.smpp_addr()).await;
    let mut second = Esme::connect(d.smpp_addr()).await;
    let mut third = Esme::connect(d.smpp_addr()).await;
    let r1 = first.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    let r2 = second.bind(cmd::BIND_TRANSCEIVER, "crm", "secret2").await;
    let r3 = third.bind(cmd::BIND_TRANSCEIVER, "crm", "secret2").await;
    assert_eq!(
        (r1.command_status, r2.command_status, r3.command_status),
        (0, 0, 0)
    );

    // A 4th platform gets its bind answered ESME_RBINDFAIL within a second,
    // then the connection is closed (it used to wait in the listen backlog).
    let started = std::time::Instant::now();
    let mut fourth = Esme::connect(d.smpp_addr()).await;
    let seq = fourth.next_seq();
    fourth.send(&bind_pdu(seq)).await;
    let r = fourth
        .try_recv(Duration::from_secs(1))
        .await
        .expect("a full gateway answers the bind at once");
    assert_eq!(
        (r.command_id(), r.sequence_number, r.command_status),
        (cmd::BIND_TRANSCEIVER_RESP, seq, status::ESME_RBINDFAIL)
    );
    assert!(fourth.closed().await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // One that sends nothing is closed within the short bind wait.
    let started = std::time::Instant::now();
    let mut silent = Esme::connect(d.smpp_addr()).await;
    assert!(silent.closed().await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // The sessions already bound are not affected.
    for p in [&mut first, &mut second, &mut third] {
        let (r, _) = p
            .request(submit("14155550100", "14155551234", "still here"))
            .await;
        assert_ne!(r.command_id(), cmd::GENERIC_NACK);
    }
    let (r, _) = first
        .request(submit("14155550100", "14155551234", "still here"))
        .await;
    assert_eq!(r.command_status, 0);

    // Both refusals are counted.
    let m = optgate::telemetry::install().render();
    let line = m
        .lines()
        .find(|l| l.starts_with(r#"optgate_connections_refused_total{reason="max_connections"}"#))
        .unwrap_or_else(|| panic!("no refused counter in\n{m}"));
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 2, "{line}");

    // Once a session ends, a new platform binds again.
    let unbind = Pdu::new(first.next_seq(), Body::Unbind);
    first.send(&unbind).await;
    assert_eq!(first.recv().await.command_id(), cmd::UNBIND_RESP);
    assert!(first.closed().await);
    // (The slot frees just after the socket closes: retry briefly.)
    let mut status = None;
    for _ in 0..20 {
        let mut again = Esme::connect(d.smpp_addr()).await;
        let r = again.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
        status = Some(r.command_status);
        if r.command_status == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(0), "served once a slot is free");
    d.shutdown(Duration::from_secs(2)).await;
}
