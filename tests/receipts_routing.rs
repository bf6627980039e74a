//! How receipts find their account (README "How receipts are routed"): the
//! carrier id → account map is written only where the receipt's address
//! would route it wrongly or its id must be rewritten; every other receipt
//! goes by its destination address, and no map row is written for it. Both
//! store backends, real daemon, fake carrier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::postgres::Backend;
use common::*;
use optgate::config::Config;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, Body, Pdu};
use optgate::store::Database;
use optgate::store::MessageOwner;

/// pbx owns a number, an alphanumeric sender and a campaign number that
/// holds messages; crm may send from any number (`allow_any_sender`).
const ACCOUNTS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "ACME", "14155550300"]

[[server.accounts]]
system_id = "crm"
password = "secret2"
numbers = ["14155550200"]
allow_any_sender = true

[[campaigns]]
id = "optin"
brand = "Acme"
numbers = ["14155550300"]
outbound_unknown = "require_opt_in"
"#;

const PBX: &str = "14155550100";
const CRM: &str = "14155550200";
const HOLDS: &str = "14155550300";
const MOBILE: &str = "14155559001";

fn config_on(carrier: &FakeCarrier, dir: &std::path::Path, backend: Backend) -> Config {
    let mut cfg = config(&carrier.address(), dir, ACCOUNTS);
    backend.apply(&mut cfg);
    cfg
}

/// A submit asking for a receipt, accepted; its message id.
async fn send(p: &mut Esme, pdu: Pdu) -> String {
    let (r, _) = p.request(pdu).await;
    assert_eq!(r.command_status, 0, "{r:?}");
    message_id(&r)
}

/// A receipt-asking submit from the alphanumeric sender `from` (TON 5).
fn submit_alpha(from: &str, to: &str, text: &str) -> Pdu {
    let mut s = sm(from, to, text);
    s.source_addr_ton = 5;
    s.source_addr_npi = 0;
    s.registered_delivery = 1;
    Pdu::new(0, Body::SubmitSm(Box::new(s)))
}

/// What the store's id map holds for `carrier_id` (read as the CLI does).
async fn mapped(cfg: &Config, carrier_id: &str) -> Option<MessageOwner> {
    let (store, id) = (cfg.store.clone(), carrier_id.to_string());
    tokio::task::spawn_blocking(move || {
        let db = Database::open_config(&store).unwrap();
        db.lookup_message_id(&id, Duration::from_secs(3600))
            .unwrap()
    })
    .await
    .unwrap()
}

/// Waits until the (written-behind) map row of `carrier_id` is in the store.
async fn wait_mapped(cfg: &Config, carrier_id: &str) -> MessageOwner {
    for _ in 0..100 {
        if let Some(o) = mapped(cfg, carrier_id).await {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{carrier_id} never mapped in the store");
}

/// The next receipt `p` gets, acknowledged; its text.
async fn receipt_text(p: &mut Esme) -> String {
    let m = tokio::time::timeout(Duration::from_secs(10), p.take_deliver())
        .await
        .expect("a receipt");
    text_of(&m)
}

#[tokio::test]
async fn receipts_are_mapped_only_where_the_address_would_route_wrongly() {
    on(Backend::Sqlite).await;
}

#[tokio::test]
async fn on_postgres_receipts_are_mapped_only_where_the_address_would_route_wrongly() {
    on(Backend::Postgres).await;
}

async fn on(backend: Backend) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_on(&carrier, dir.path(), backend);
    let d = start_daemon(&carrier, &cfg).await;
    let mut pbx = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        pbx.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let mut crm = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        crm.bind(cmd::BIND_TRANSCEIVER, "crm", "secret2")
            .await
            .command_status,
        0
    );

    // A held message (no consent yet), released by START: the carrier id
    // of the release is mapped to the optgate id pbx was given.
    let held = send(&mut pbx, submit_dlr(HOLDS, MOBILE, "held")).await;
    let r = carrier.deliver(mo(MOBILE, HOLDS, "start")).await;
    assert_eq!(r.command_status, 0);
    assert_eq!(text_of(&pbx.take_deliver().await), "start");
    wait_until(|| carrier.submits().iter().any(|s| text_of(s) == "held")).await;
    let n = carrier
        .submits()
        .iter()
        .position(|s| text_of(s) == "held")
        .unwrap();
    let released = format!("c{}", n + 1);

    // pbx from its own number: the address routes it, nothing mapped.
    let own = send(&mut pbx, submit_dlr(PBX, "14155551111", "own number")).await;
    // crm (allow_any_sender) from pbx's number and from its own: mapped.
    let shared = send(&mut crm, submit_dlr(PBX, "14155552222", "shared sender")).await;
    let any = send(&mut crm, submit_dlr(CRM, "14155553333", "any sender")).await;
    // pbx from its alphanumeric sender: mapped.
    let alpha = send(&mut pbx, submit_alpha("ACME", "14155554444", "alpha")).await;

    // Written behind in the order submitted: once the last is in the
    // store, the unmapped one would be too.
    let o = wait_mapped(&cfg, &alpha).await;
    assert_eq!(o.account, "pbx");
    assert_eq!(o.optgate_id, None);
    let o = wait_mapped(&cfg, &shared).await;
    assert_eq!(o.account, "crm");
    assert_eq!(wait_mapped(&cfg, &any).await.account, "crm");
    let o = wait_mapped(&cfg, &released).await;
    assert_eq!(
        (o.account.as_str(), o.optgate_id.as_deref()),
        ("pbx", Some(held.as_str()))
    );
    assert_eq!(
        mapped(&cfg, &own).await,
        None,
        "no map row for pbx's own number"
    );

    // Receipts.
    let r = carrier.deliver(receipt(&own, "14155551111", PBX)).await;
    assert_eq!(r.command_status, 0);
    assert!(receipt_text(&mut pbx).await.contains(&format!("id:{own} ")));
    let r = carrier.deliver(receipt(&any, "14155553333", CRM)).await;
    assert_eq!(r.command_status, 0);
    assert!(receipt_text(&mut crm).await.contains(&format!("id:{any} ")));
    // The alphanumeric sender as this carrier writes it back: not a number
    // anyone owns, so only the map finds pbx.
    let r = carrier
        .deliver(receipt(&alpha, "14155554444", "INFO"))
        .await;
    assert_eq!(r.command_status, 0);
    assert!(receipt_text(&mut pbx)
        .await
        .contains(&format!("id:{alpha} ")));
    // The released held message's receipt carries the optgate id.
    let r = carrier.deliver(receipt(&released, MOBILE, HOLDS)).await;
    assert_eq!(r.command_status, 0);
    let text = receipt_text(&mut pbx).await;
    assert!(text.contains(&format!("id:{held} ")), "{text}");
    assert!(
        crm.try_recv(Duration::from_millis(300)).await.is_none(),
        "crm got nothing of pbx's"
    );
    drop((pbx, crm));
    d.shutdown(Duration::from_secs(2)).await;

    // After a restart the mapping of crm's message from pbx's number is
    // read from the store: its receipt, addressed to pbx's number, still
    // goes to crm; pbx's own still goes by address.
    let d = Daemon::start(&cfg, None).await.unwrap();
    carrier.wait_binds(2).await;
    let mut pbx = Esme::connect(d.smpp_addr()).await;
    pbx.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    let mut crm = Esme::connect(d.smpp_addr()).await;
    crm.bind(cmd::BIND_TRANSCEIVER, "crm", "secret2").await;
    let r = carrier.deliver(receipt(&shared, "14155552222", PBX)).await;
    assert_eq!(r.command_status, 0);
    assert!(receipt_text(&mut crm)
        .await
        .contains(&format!("id:{shared} ")));
    let r = carrier.deliver(receipt(&own, "14155551111", PBX)).await;
    assert_eq!(r.command_status, 0);
    assert!(receipt_text(&mut pbx).await.contains(&format!("id:{own} ")));
    assert!(
        crm.try_recv(Duration::from_millis(300)).await.is_none(),
        "pbx's receipt went to pbx alone"
    );
    d.shutdown(Duration::from_secs(2)).await;
}
