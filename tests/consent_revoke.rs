//! Revoke-all through the real daemon: `opt_out_scope = "brand" |
//! "account"` carries a STOP to the other campaigns of the brand or the
//! platform account, each change its own event naming the originating
//! campaign; START restores only the key it was sent to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use optgate::pdu::command as cmd;
use optgate::store::{Durable, StoreTxn};

const CAMPAIGNS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101", "14155550102", "14155550103"]

[[server.accounts]]
system_id = "crm"
password = "secret"
numbers = ["14155550110"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100", "14155550101"]
outbound_unknown = "prevent"
opt_out_scope = "brand"

[[campaigns]]
id = "promo"
brand = "acme"
numbers = ["14155550110"]
consent_scope = "campaign"
outbound_unknown = "prevent"

[[campaigns]]
id = "beta"
brand = "Beta"
numbers = ["14155550102"]
outbound_unknown = "prevent"

[[campaigns]]
id = "ops"
brand = "Ops"
numbers = ["14155550103"]
outbound_unknown = "prevent"
opt_out_scope = "account"
"#;

const ALL: [&str; 5] = [
    "14155550100",
    "14155550101",
    "14155550102",
    "14155550103",
    "14155550110",
];

struct Rig {
    carrier: FakeCarrier,
    daemon: optgate::daemon::Daemon,
    p: Esme,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    rig_on(false).await
}

async fn rig_on(postgres: bool) -> Rig {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), CAMPAIGNS);
    if postgres {
        common::postgres::Backend::Postgres.apply(&mut cfg);
    }
    let daemon = start_daemon(&carrier, &cfg).await;
    let mut p = Esme::connect(daemon.smpp_addr()).await;
    let b = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(b.command_status, 0);
    Rig {
        carrier,
        daemon,
        p,
        _dir: dir,
    }
}

/// The recipient texts `word` to `to`; the platform of pbx gets the MO.
async fn mo_word(r: &mut Rig, from: &str, to: &str, word: &str) {
    let resp = r.carrier.deliver(mo(from, to, word)).await;
    assert_eq!(resp.command_status, 0);
    if to != "14155550110" {
        let m = r.p.expect_deliver().await;
        r.p.ack(&m).await;
    }
}

async fn submit_status(r: &mut Rig, from: &str, to: &str) -> u32 {
    r.p.request(submit(from, to, "hello"))
        .await
        .0
        .command_status
}

/// (campaign, sender, status, source) of every consent row of `recipient`.
async fn rows(r: &Rig, recipient: &str) -> Vec<(String, String, String, String)> {
    let recipient = recipient.to_owned();
    let filter = optgate::store::consent::ConsentFilter {
        recipient: Some(recipient),
        ..Default::default()
    };
    let rows = r
        .daemon
        .store()
        .transact(move |env| Ok((env.list_consent(&filter, None, 100)?, Durable::Now)))
        .await
        .unwrap();
    rows.into_iter()
        .map(|c| {
            (
                c.key.campaign,
                c.key.sender,
                c.status.as_str().to_owned(),
                c.source,
            )
        })
        .collect()
}

fn row(c: &str, s: &str, status: &str, source: &str) -> (String, String, String, String) {
    (c.into(), s.into(), status.into(), source.into())
}

#[tokio::test]
async fn brand_scope_stop_refuses_the_brands_campaigns_and_start_restores_one_key() {
    brand_scope_on(false).await;
}

#[tokio::test]
async fn on_postgres_brand_scope_stop_refuses_the_brands_campaigns() {
    brand_scope_on(true).await;
}

async fn brand_scope_on(postgres: bool) {
    let mut r = rig_on(postgres).await;
    let to = "14155559301";
    for n in ALL {
        mo_word(&mut r, to, n, "START").await;
    }
    mo_word(&mut r, to, "14155550100", "STOP").await;
    let want = vec![
        row("alerts", "14155550100", "refused", "stop"),
        row(
            "alerts",
            "14155550101",
            "refused",
            "stop via campaign alerts",
        ),
        row("beta", "14155550102", "active", "start"),
        row("ops", "14155550103", "active", "start"),
        row("promo", "", "refused", "stop via campaign alerts"),
    ];
    assert_eq!(rows(&r, to).await, want);
    // Through the MT path too: the other number of the brand is refused,
    // the other brand is not.
    assert_eq!(submit_status(&mut r, "14155550101", to).await, 0x400);
    assert_eq!(submit_status(&mut r, "14155550102", to).await, 0);

    // Each change is its own event.
    let key = to.to_owned();
    let events = r
        .daemon
        .store()
        .transact(move |env| Ok((env.list_events(Some(&key), None, 200)?, Durable::Now)))
        .await
        .unwrap();
    let revoked: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == "consent_change" && e.event.source.contains("via"))
        .map(|e| e.event.key.campaign.clone())
        .collect();
    assert_eq!(revoked, ["alerts", "promo"]);

    // START restores only the key it was sent to.
    mo_word(&mut r, to, "14155550100", "START").await;
    assert_eq!(submit_status(&mut r, "14155550100", to).await, 0);
    assert_eq!(submit_status(&mut r, "14155550101", to).await, 0x400);
    // Only one opt-out confirmation went out, from the number STOP was sent
    // to (the outbox sends it on its own schedule: wait for it, then make
    // sure no second one follows).
    let confirmations = |c: &FakeCarrier| {
        c.submits()
            .iter()
            .filter(|p| text_of(p).contains("opted-out"))
            .count()
    };
    wait_until(|| confirmations(&r.carrier) >= 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(confirmations(&r.carrier), 1);
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn account_scope_stop_refuses_campaigns_of_the_same_platform_account() {
    let mut r = rig().await;
    let to = "14155559302";
    for n in ALL {
        mo_word(&mut r, to, n, "START").await;
    }
    mo_word(&mut r, to, "14155550103", "stop").await;
    let via = "stop via campaign ops";
    let want = vec![
        row("alerts", "14155550100", "refused", via),
        row("alerts", "14155550101", "refused", via),
        row("beta", "14155550102", "refused", via),
        row("ops", "14155550103", "refused", "stop"),
        row("promo", "", "active", "start"),
    ];
    assert_eq!(rows(&r, to).await, want);
    assert_eq!(submit_status(&mut r, "14155550102", to).await, 0x400);
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn default_campaign_scope_stop_stays_on_its_key() {
    let mut r = rig().await;
    let to = "14155559303";
    for n in ALL {
        mo_word(&mut r, to, n, "START").await;
    }
    mo_word(&mut r, to, "14155550102", "STOP").await;
    let refused: Vec<_> = rows(&r, to)
        .await
        .into_iter()
        .filter(|r| r.2 == "refused")
        .collect();
    assert_eq!(refused, [row("beta", "14155550102", "refused", "stop")]);
    assert_eq!(submit_status(&mut r, "14155550100", to).await, 0);
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[test]
fn a_misspelt_opt_out_scope_names_the_key() {
    let text = CAMPAIGNS.replace("opt_out_scope = \"brand\"", "opt_out_scope = \"brnad\"");
    let err = optgate::config::Config::from_toml_str(&text).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("opt_out_scope") && msg.contains("brnad"),
        "{msg}"
    );
}
