//! Opt-out webhooks through the real daemon and a real local HTTP
//! receiver: delivery of every consent change in order, the HMAC
//! signature, a retry after a 500, a 4xx that stops retries, the campaign
//! filter, and a restart in the middle (the queue is durable).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod webhook_receiver;

use std::time::Duration;

use common::*;
use optgate::pdu::command as cmd;
use webhook_receiver::Receiver;

const SECRET: &str = "whsec-test";

fn extra(url: &str, filter: &str) -> String {
    format!(
        r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100"]

[[campaigns]]
id = "other"
brand = "Other"
numbers = ["14155550101"]

[[webhooks]]
url = "{url}"
secret = "{SECRET}"
{filter}
"#
    )
}

async fn daemon(
    c: &FakeCarrier,
    dir: &std::path::Path,
    url: &str,
    filter: &str,
) -> (optgate::daemon::Daemon, Esme) {
    daemon_on(c, dir, url, filter, None).await
}

async fn daemon_on(
    c: &FakeCarrier,
    dir: &std::path::Path,
    url: &str,
    filter: &str,
    pg_url: Option<&str>,
) -> (optgate::daemon::Daemon, Esme) {
    let mut cfg = config(&c.address(), dir, &extra(url, filter));
    if let Some(u) = pg_url {
        cfg.store.backend = optgate::config::StoreBackend::Postgres;
        cfg.store.url = u.to_owned();
    }
    let d = start_daemon(c, &cfg).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    (d, p)
}

async fn say(c: &FakeCarrier, p: &mut Esme, from: &str, to: &str, text: &str) {
    assert_eq!(c.deliver(mo(from, to, text)).await.command_status, 0);
    let m = p.expect_deliver().await;
    p.ack(&m).await;
}

#[tokio::test]
async fn every_change_is_posted_signed_in_order_and_a_500_is_retried() {
    let r = Receiver::start().await;
    let c = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = daemon(&c, dir.path(), &r.url(), "").await;
    // Give the fan-out its first tick (a new webhook starts from now).
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The first POST fails with a 500: retried, and the later change of
    // the same recipient waits behind it.
    r.script(&[500]);
    let to = "14155559701";
    say(&c, &mut p, to, "14155550100", "START").await;
    say(&c, &mut p, to, "14155550100", "STOP").await;
    say(&c, &mut p, to, "14155550100", "please stop texting me").await;
    let hits = r.wait_hits(4).await;
    assert_eq!(hits[0].status, 500);
    let ok: Vec<_> = hits.iter().filter(|h| h.status == 204).collect();
    assert_eq!(ok.len(), 3, "{hits:?}");
    for h in &hits {
        assert!(h.signed_with(SECRET), "signature: {h:?}");
        assert!(!h.signed_with("wrong"), "a wrong secret does not verify");
    }
    let v: Vec<_> = ok.iter().map(|h| h.json()).collect();
    assert_eq!(v[0]["type"], "consent_change");
    assert_eq!(v[0]["new_status"], "active");
    assert_eq!(v[1]["new_status"], "refused");
    assert_eq!(v[1]["old_status"], "active");
    assert_eq!(v[1]["source"], "stop");
    assert_eq!(v[1]["campaign"], "alerts");
    assert_eq!(v[1]["recipient"], to);
    assert_eq!(v[2]["type"], "probable_opt_out");
    assert_eq!(hits[0].body, ok[0].body, "the same change retried");
    let ts: i64 = hits[1].timestamp.parse().unwrap();
    let now = optgate::store::consent::now_ms() / 1000;
    assert!((now - ts).abs() < 60, "timestamp is now");

    // A 4xx other than 429 stops the retries of that change.
    r.script(&[410]);
    let to2 = "14155559702";
    say(&c, &mut p, to2, "14155550100", "STOP").await;
    r.wait_hits(5).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again: Vec<_> = r
        .hits()
        .into_iter()
        .filter(|h| h.body.contains(to2))
        .collect();
    assert_eq!(again.len(), 1, "not retried after a 410: {again:?}");
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn the_campaign_filter_keeps_other_campaigns_out() {
    let r = Receiver::start().await;
    let c = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = daemon(&c, dir.path(), &r.url(), "campaigns = [\"alerts\"]").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let to = "14155559703";
    say(&c, &mut p, to, "14155550101", "STOP").await; // campaign other: filtered out
    say(&c, &mut p, to, "14155550100", "STOP").await;
    let hits = r.wait_hits(1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(r.hits().len(), 1);
    assert_eq!(hits[0].json()["campaign"], "alerts");
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn changes_queued_while_the_receiver_is_down_survive_a_restart() {
    restart_on(None).await;
}

/// The same with the queue in PostgreSQL.
#[tokio::test]
async fn on_postgres_queued_changes_survive_a_restart() {
    let url = common::postgres::shared().create_db();
    restart_on(Some(&url)).await;
}

async fn restart_on(pg_url: Option<&str>) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let c = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = daemon_on(&c, dir.path(), &url, "", pg_url).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let to = "14155559704";
    say(&c, &mut p, to, "14155550100", "START").await;
    say(&c, &mut p, to, "14155550100", "STOP").await;
    // Nobody listens: tried and failed, then optgate stops.
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(p);
    d.shutdown(Duration::from_secs(2)).await;

    let r = Receiver::start_on(&format!("127.0.0.1:{port}")).await;
    let (d, _p) = daemon_on(&c, dir.path(), &url, "", pg_url).await;
    let hits = r.wait_hits(2).await;
    let v: Vec<_> = hits.iter().map(|h| h.json()).collect();
    assert_eq!(v[0]["new_status"], "active");
    assert_eq!(v[1]["new_status"], "refused");
    assert!(hits.iter().all(|h| h.signed_with(SECRET)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.hits().len(), 2, "each change once");
    d.shutdown(Duration::from_secs(2)).await;
}

/// Two instances on one PostgreSQL database with the same webhook: one of
/// them (the holder of the claim `webhooks`) fans out and sends, so each
/// change is POSTed once; when it stops, the other takes over.
#[tokio::test]
async fn two_instances_post_each_change_once() {
    let pg_url = common::postgres::shared().create_db();
    let r = Receiver::start().await;
    let c = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let instance = |name: &str| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let mut cfg = config(&c.address(), &sub, &extra(&r.url(), ""));
        cfg.store.backend = optgate::config::StoreBackend::Postgres;
        cfg.store.url = pg_url.clone();
        cfg.store.instance = name.to_owned();
        cfg
    };
    let a = start_daemon(&c, &instance("gw-a")).await;
    let b = optgate::daemon::Daemon::start(&instance("gw-b"), None)
        .await
        .expect("second instance starts");
    c.wait_binds(2).await;
    wait_until(|| b.upstream_binds_up() >= 1).await;
    let bind = |d: &optgate::daemon::Daemon| {
        let addr = d.smpp_addr();
        async move {
            let mut p = Esme::connect(addr).await;
            let st = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
            assert_eq!(st.command_status, 0);
            p
        }
    };
    let mut p = bind(&a).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // A slow receiver: a POST in flight spans several ticks of any other
    // sender that might read the same queued row.
    r.slow(Duration::from_millis(700));
    let to = "14155559705";
    say(&c, &mut p, to, "14155550100", "START").await;
    say(&c, &mut p, to, "14155550100", "STOP").await;
    r.wait_hits(2).await;
    // Time for a second instance's fan-out and sender to have run (their
    // tick is 250 ms): still one POST per change.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ids: Vec<_> = r.hits().iter().map(|h| h.json()["id"].clone()).collect();
    assert_eq!(ids.len(), 2, "each change once: {ids:?}");
    assert_ne!(ids[0], ids[1]);

    // Whichever instance held the claim, the other one carries on alone.
    drop(p);
    a.shutdown(Duration::from_secs(2)).await;
    let mut p = bind(&b).await;
    say(&c, &mut p, to, "14155550100", "START").await;
    let hits = r.wait_hits(3).await;
    assert_eq!(hits[2].json()["new_status"], "active");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(r.hits().len(), 3, "each change once");
    drop(p);
    b.shutdown(Duration::from_secs(2)).await;
}
