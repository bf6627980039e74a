//! The consent engine through the real daemon and a fake carrier: the MT
//! table, keywords, responses, holds, footers, expiry and scopes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::postgres::Backend;
use common::*;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Body, Pdu, Text};

const CAMPAIGNS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101", "14155550102", "14155550103", "14155550104", "14155550105", "14155550106", "14155550107"]

[[campaigns]]
id = "optin"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"

[[campaigns]]
id = "prevent"
brand = "Prevco"
numbers = ["14155550101"]
outbound_unknown = "prevent"

[[campaigns]]
id = "allow"
brand = "Allco"
numbers = ["14155550102"]
outbound_unknown = "allow"
attachment = "first_message"
footer = "Reply STOP to opt out."

[[campaigns]]
id = "auto"
brand = "Autoco"
numbers = ["14155550103"]
inbound_unknown = "auto_opt_in"

[[campaigns]]
id = "ttl"
brand = "Ttlco"
numbers = ["14155550104"]
hold_ttl = "1s"

[[campaigns]]
id = "wide"
brand = "Wide"
numbers = ["14155550105", "14155550106"]
consent_scope = "campaign"
outbound_unknown = "prevent"

[[campaigns]]
id = "later"
status = "pending"
brand = "Later"
numbers = ["14155550107"]
outbound_unknown = "prevent"
"#;

const OPT_IN_REQUEST: &str = "ACME: Reply START to receive messages from ACME. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";
const OPTED_IN: &str = "ACME: You are now opted-in. For help, reply HELP. To opt out, reply STOP";
const OPTED_OUT: &str = "ACME: You are now opted-out and will receive no further messages";

struct Rig {
    carrier: FakeCarrier,
    daemon: Daemon,
    p: Esme,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    rig_on(Backend::Sqlite).await
}

async fn rig_on(backend: Backend) -> Rig {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), CAMPAIGNS);
    backend.apply(&mut cfg);
    let daemon = common::start_daemon(&carrier, &cfg).await;
    let mut p = Esme::connect(daemon.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    Rig {
        carrier,
        daemon,
        p,
        _dir: dir,
    }
}

/// Texts the carrier got for `to`, in order.
fn sent_to(c: &FakeCarrier, to: &str) -> Vec<String> {
    c.submits()
        .iter()
        .filter(
            |p| matches!(&p.body, Body::SubmitSm(s) if &s.destination_addr[..] == to.as_bytes()),
        )
        .map(text_of)
        .collect()
}

async fn wait_sent(c: &FakeCarrier, to: &str, n: usize) -> Vec<String> {
    wait_until(|| sent_to(c, to).len() >= n).await;
    sent_to(c, to)
}

#[tokio::test]
async fn require_opt_in_holds_then_releases_in_order_on_start() {
    require_opt_in_holds_then_releases_in_order_on_start_on(Backend::Sqlite).await;
}

async fn require_opt_in_holds_then_releases_in_order_on_start_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559001";
    let mut reg = submit("14155550100", to, "first held");
    if let Body::SubmitSm(s) = &mut reg.body {
        s.registered_delivery = 1;
    }
    let (a, _) = r.p.request(reg).await;
    assert_eq!(a.command_status, 0, "held messages are accepted");
    let held_id = message_id(&a);
    assert_eq!(held_id.len(), 16);
    assert!(held_id.chars().all(|c| c.is_ascii_digit()));
    let (b, _) = r.p.request(submit("14155550100", to, "second held")).await;
    assert_eq!(b.command_status, 0);

    // Only the opt-in request reaches the carrier, once.
    assert_eq!(wait_sent(&r.carrier, to, 1).await, [OPT_IN_REQUEST]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sent_to(&r.carrier, to).len(), 1);

    // The recipient answers START: opt-in response, then the held messages in order.
    let resp = r.carrier.deliver(mo(to, "14155550100", "start")).await;
    assert_eq!(resp.command_status, 0);
    let got = wait_sent(&r.carrier, to, 4).await;
    assert_eq!(got, [OPT_IN_REQUEST, OPTED_IN, "first held", "second held"]);
    // The platform still sees the MO.
    let m = r.p.expect_deliver().await;
    assert_eq!(text_of(&m), "start");
    r.p.ack(&m).await;

    // The receipt for the released message reaches the platform under the optgate id.
    let carrier_id = r
        .carrier
        .submits()
        .iter()
        .position(|p| text_of(p) == "first held")
        .map(|i| format!("c{}", i + 1))
        .unwrap();
    let resp = r
        .carrier
        .deliver(receipt(&carrier_id, to, "14155550100"))
        .await;
    assert_eq!(resp.command_status, 0);
    let dlr = r.p.expect_deliver().await;
    assert!(
        text_of(&dlr).starts_with(&format!("id:{held_id} ")),
        "receipt carries the optgate id: {}",
        text_of(&dlr)
    );
    r.p.ack(&dlr).await;

    // Now active: sent straight through.
    let (c, _) = r.p.request(submit("14155550100", to, "direct")).await;
    assert_eq!(c.command_status, 0);
    assert_eq!(wait_sent(&r.carrier, to, 5).await[4], "direct");
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn stop_refuses_with_one_response_and_blocks_later_submits() {
    stop_refuses_with_one_response_and_blocks_later_submits_on(Backend::Sqlite).await;
}

async fn stop_refuses_with_one_response_and_blocks_later_submits_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559002";
    // Active first (START), then STOP.
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "START"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "Stop."))
            .await
            .command_status,
        0
    );
    let m = r.p.expect_deliver().await;
    assert_eq!(text_of(&m), "Stop.", "keywords still reach the platform");
    r.p.ack(&m).await;
    let got = wait_sent(&r.carrier, to, 2).await;
    assert_eq!(got, [OPTED_IN, OPTED_OUT]);

    let (a, _) = r.p.request(submit("14155550100", to, "after stop")).await;
    assert_eq!(a.command_status, 0x400, "opted_out code, permanent");
    // HELP is answered whatever the status.
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "help"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    let got = wait_sent(&r.carrier, to, 3).await;
    assert!(got[2].starts_with("ACME: "), "help response: {}", got[2]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sent_to(&r.carrier, to).len(),
        3,
        "exactly one opt-out response, nothing else"
    );
    // The audit trail: the consent changes and every message optgate sent.
    let key = to.to_string();
    let events = r
        .daemon
        .store()
        .transact(move |env| {
            let rows = optgate::store::StoreTxn::list_events(env, Some(&key), None, 100)?;
            Ok((rows, optgate::store::Durable::Now))
        })
        .await
        .unwrap();
    let kinds: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.event.kind.clone(), e.event.source.clone()))
        .collect();
    assert!(
        kinds.contains(&("consent_change".into(), "stop".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("sent".into(), "opt_out_response".into())),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("sent".into(), "help".into())), "{kinds:?}");
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn stop_drops_held_messages_with_rejected_receipts() {
    stop_drops_held_messages_with_rejected_receipts_on(Backend::Sqlite).await;
}

async fn stop_drops_held_messages_with_rejected_receipts_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559003";
    let mut reg = submit("14155550100", to, "to be dropped");
    if let Body::SubmitSm(s) = &mut reg.body {
        s.registered_delivery = 1;
    }
    let (a, _) = r.p.request(reg).await;
    let held_id = message_id(&a);
    wait_sent(&r.carrier, to, 1).await;
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "STOP"))
            .await
            .command_status,
        0
    );
    let mut saw_receipt = false;
    let mut saw_mo = false;
    for _ in 0..2 {
        let m = r.p.expect_deliver().await;
        let t = text_of(&m);
        if t == "STOP" {
            saw_mo = true;
        } else {
            assert!(
                t.starts_with(&format!("id:{held_id} ")) && t.contains("stat:REJECTD"),
                "{t}"
            );
            saw_receipt = true;
        }
        r.p.ack(&m).await;
    }
    assert!(saw_mo && saw_receipt);
    assert_eq!(
        wait_sent(&r.carrier, to, 2).await,
        [OPT_IN_REQUEST, OPTED_OUT]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sent_to(&r.carrier, to).iter().any(|t| t == "to be dropped"));
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn prevent_rejects_until_the_recipient_writes_first() {
    prevent_rejects_until_the_recipient_writes_first_on(Backend::Sqlite).await;
}

async fn prevent_rejects_until_the_recipient_writes_first_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559004";
    let (a, _) = r.p.request(submit("14155550101", to, "cold")).await;
    assert_eq!(a.command_status, 0x401, "prevented code");
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550101", "hi there"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    let (b, _) = r.p.request(submit("14155550101", to, "warm")).await;
    assert_eq!(b.command_status, 0);
    // attachment defaults to first_message: the first custom message carries the footer.
    assert_eq!(
        wait_sent(&r.carrier, to, 1).await,
        ["warm\nReply STOP to opt out."]
    );
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn allow_forwards_with_the_footer_on_the_first_message_only() {
    allow_forwards_with_the_footer_on_the_first_message_only_on(Backend::Sqlite).await;
}

async fn allow_forwards_with_the_footer_on_the_first_message_only_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559005";
    assert_eq!(
        r.p.request(submit("14155550102", to, "Hello"))
            .await
            .0
            .command_status,
        0
    );
    assert_eq!(
        r.p.request(submit("14155550102", to, "Again"))
            .await
            .0
            .command_status,
        0
    );
    let got = wait_sent(&r.carrier, to, 2).await;
    assert!(
        got[0].starts_with("Hello") && got[0].ends_with("Reply STOP to opt out."),
        "{got:?}"
    );
    assert_eq!(got[1], "Again");
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn auto_opt_in_answers_a_first_message_with_the_request() {
    auto_opt_in_answers_a_first_message_with_the_request_on(Backend::Sqlite).await;
}

async fn auto_opt_in_answers_a_first_message_with_the_request_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559006";
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550103", "what is this?"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    let got = wait_sent(&r.carrier, to, 1).await;
    assert!(got[0].starts_with("Autoco: Reply START"), "{got:?}");
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn hold_ttl_expires_with_a_synthetic_receipt() {
    hold_ttl_expires_with_a_synthetic_receipt_on(Backend::Sqlite).await;
}

async fn hold_ttl_expires_with_a_synthetic_receipt_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let to = "14155559007";
    let mut reg = submit("14155550104", to, "will expire");
    if let Body::SubmitSm(s) = &mut reg.body {
        s.registered_delivery = 1;
    }
    let (a, _) = r.p.request(reg).await;
    let held_id = message_id(&a);
    let dlr = r.p.expect_deliver().await;
    let t = text_of(&dlr);
    assert!(
        t.starts_with(&format!("id:{held_id} ")) && t.contains("stat:EXPIRED"),
        "{t}"
    );
    r.p.ack(&dlr).await;
    // A later START releases nothing: it expired.
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550104", "START"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sent_to(&r.carrier, to).iter().any(|t| t == "will expire"));
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn campaign_scope_shares_consent_across_numbers_and_number_scope_does_not() {
    campaign_scope_shares_consent_across_numbers_and_number_scope_does_not_on(Backend::Sqlite)
        .await;
}

async fn campaign_scope_shares_consent_across_numbers_and_number_scope_does_not_on(
    backend: Backend,
) {
    let mut r = rig_on(backend).await;
    let to = "14155559008";
    // Campaign scope: writing to one number activates both.
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550105", "hello"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    assert_eq!(
        r.p.request(submit("14155550106", to, "from the other number"))
            .await
            .0
            .command_status,
        0
    );
    // Number scope (optin campaign has one number; use prevent + allow campaigns'
    // independence instead): a STOP to the campaign-scope number refuses both.
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550106", "STOP"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    assert_eq!(
        r.p.request(submit("14155550105", to, "x"))
            .await
            .0
            .command_status,
        0x400
    );
    // ...but not other campaigns.
    assert_eq!(
        r.p.request(submit("14155550102", to, "allowed elsewhere"))
            .await
            .0
            .command_status,
        0
    );
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn pending_campaign_is_not_enforced() {
    pending_campaign_is_not_enforced_on(Backend::Sqlite).await;
}

async fn pending_campaign_is_not_enforced_on(backend: Backend) {
    let mut r = rig_on(backend).await;
    let (a, _) =
        r.p.request(submit("14155550107", "14155559009", "free"))
            .await;
    assert_eq!(a.command_status, 0);
    assert_eq!(wait_sent(&r.carrier, "14155559009", 1).await, ["free"]);
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn cancel_and_query_of_a_held_message_stay_local() {
    cancel_and_query_of_a_held_message_stay_local_on(Backend::Sqlite).await;
}

async fn cancel_and_query_of_a_held_message_stay_local_on(backend: Backend) {
    use optgate::pdu::{CancelSm, QuerySm};
    let mut r = rig_on(backend).await;
    let to = "14155559010";
    let (a, _) = r.p.request(submit("14155550100", to, "cancel me")).await;
    let id = message_id(&a);
    let q = Pdu::new(
        0,
        Body::QuerySm(Box::new(QuerySm {
            message_id: Text::from(id.clone()),
            ..Default::default()
        })),
    );
    let (qr, _) = r.p.request(q).await;
    assert_eq!(qr.command_status, 0);
    assert!(
        matches!(&qr.body, Body::QuerySmResp(b) if b.state.as_ref().map(|s| s.message_state) == Some(1))
    );
    let c = Pdu::new(
        0,
        Body::CancelSm(Box::new(CancelSm {
            message_id: Text::from(id.clone()),
            ..Default::default()
        })),
    );
    assert_eq!(r.p.request(c).await.0.command_status, 0);
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "START"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !sent_to(&r.carrier, to).iter().any(|t| t == "cancel me"),
        "a cancelled hold is never released"
    );
    let q = Pdu::new(
        0,
        Body::QuerySm(Box::new(QuerySm {
            message_id: Text::from(id),
            ..Default::default()
        })),
    );
    assert_eq!(
        r.p.request(q).await.0.command_status,
        status::ESME_RQUERYFAIL
    );
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn submit_multi_is_decided_per_destination() {
    submit_multi_is_decided_per_destination_on(Backend::Sqlite).await;
}

async fn submit_multi_is_decided_per_destination_on(backend: Backend) {
    use bytes::Bytes;
    use optgate::pdu::{DestAddress, SubmitMulti};
    let mut r = rig_on(backend).await;
    let (active, refused, fresh) = ("14155559101", "14155559102", "14155559103");
    for (who, word) in [(active, "START"), (refused, "STOP")] {
        assert_eq!(
            r.carrier
                .deliver(mo(who, "14155550100", word))
                .await
                .command_status,
            0
        );
        r.p.take_deliver().await;
    }
    let dest = |a: &str| DestAddress::Sme {
        ton: 1,
        npi: 1,
        addr: Text::copy_from_slice(a.as_bytes()),
    };
    let m = SubmitMulti {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: Text::from_static(b"14155550100"),
        dests: vec![dest(active), dest(refused), dest(fresh)],
        short_message: Bytes::from_static(b"to many"),
        ..Default::default()
    };
    let (resp, _) =
        r.p.request(Pdu::new(0, Body::SubmitMulti(Box::new(m))))
            .await;
    assert_eq!(resp.command_status, 0);
    let Body::SubmitMultiResp(body) = &resp.body else {
        panic!("{resp:?}")
    };
    let un = body.unsuccess_smes.clone().unwrap_or_default();
    assert_eq!(un.len(), 1, "{un:?}");
    assert_eq!(&un[0].destination_addr[..], refused.as_bytes());
    assert_eq!(un[0].error_status_code, 0x400);
    let multis: Vec<_> = r
        .carrier
        .submits()
        .into_iter()
        .filter(|p| p.command_id() == cmd::SUBMIT_MULTI)
        .collect();
    assert_eq!(multis.len(), 1);
    let Body::SubmitMulti(sent) = &multis[0].body else {
        panic!()
    };
    assert_eq!(
        sent.dests,
        vec![dest(active)],
        "only the active recipient reaches the carrier"
    );
    // The fresh one is held and got the opt-in request.
    assert_eq!(wait_sent(&r.carrier, fresh, 1).await, [OPT_IN_REQUEST]);
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn stop_is_found_in_ucs2_multipart_and_payload_but_never_in_receipts() {
    stop_is_found_in_ucs2_multipart_and_payload_but_never_in_receipts_on(Backend::Sqlite).await;
}

async fn stop_is_found_in_ucs2_multipart_and_payload_but_never_in_receipts_on(backend: Backend) {
    use bytes::Bytes;
    use optgate::pdu::tags;
    let mut r = rig_on(backend).await;
    let biz = "14155550102"; // outbound_unknown = allow: forwarded unless refused
                             // UCS-2 "STOP".
    let mut ucs = common::sm("14155559201", biz, "");
    ucs.data_coding = 8;
    ucs.short_message = Bytes::from_static(&[0, b'S', 0, b'T', 0, b'O', 0, b'P']);
    // "ST" + "OP" as two concatenated parts, second part first.
    let part = |seq: u8, t: &[u8]| {
        let mut s = common::sm("14155559202", biz, "");
        s.esm_class = 0x40;
        let mut m = vec![5, 0, 3, 0x2A, 2, seq];
        m.extend_from_slice(t);
        s.short_message = Bytes::from(m);
        Pdu::new(0, Body::DeliverSm(Box::new(s)))
    };
    // message_payload instead of short_message.
    let mut pay = common::sm("14155559203", biz, "");
    pay.tlvs
        .push(tags::MESSAGE_PAYLOAD, Bytes::from_static(b"  stop "));
    let mut rcpt = common::sm("14155559204", biz, "id:zz1 sub:001 dlvrd:001 submit date:2611270000 done date:2611270000 stat:DELIVRD err:000 text:STOP");
    rcpt.esm_class = 0x04;
    for p in [
        Pdu::new(0, Body::DeliverSm(Box::new(ucs))),
        part(2, b"OP"),
        part(1, b"ST"),
        Pdu::new(0, Body::DeliverSm(Box::new(pay))),
        Pdu::new(0, Body::DeliverSm(Box::new(rcpt))),
    ] {
        assert_eq!(r.carrier.deliver(p).await.command_status, 0);
        r.p.take_deliver().await;
    }
    for who in ["14155559201", "14155559202", "14155559203"] {
        let (a, _) = r.p.request(submit(biz, who, "after stop")).await;
        assert_eq!(a.command_status, 0x400, "{who} is refused");
    }
    let (a, _) =
        r.p.request(submit(biz, "14155559204", "receipts are not keywords"))
            .await;
    assert_eq!(a.command_status, 0, "a receipt saying STOP refuses nobody");
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn consent_set_from_the_command_line_takes_effect_on_the_next_submit() {
    let mut r = rig().await;
    let to = "14155559301";
    // Write a config file for the CLI that points at the daemon's database.
    let dir = r._dir.path();
    let cfg_text = format!(
        "[store]\npath = \"{}\"\n[upstream]\naddress = \"127.0.0.1:1\"\nsystem_id = \"o\"\npassword = \"p\"\n{CAMPAIGNS}",
        dir.join("optgate.db").display()
    );
    let file = dir.join("cli.toml");
    std::fs::write(&file, cfg_text).unwrap();
    // The command runs off this (single-threaded) runtime: it waits for the
    // daemon, whose tasks run here, to confirm over the control socket.
    let cli = |status: &'static str| {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_optgate"))
                .args(["consent", "set", "-c"])
                .arg(&file)
                .args([
                    "--campaign",
                    "allow",
                    "--sender",
                    "14155550102",
                    "--recipient",
                    to,
                    "--status",
                    status,
                    "--reason",
                    "test",
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stderr).into_owned()
        })
    };
    // Warm the daemon's consent cache: the first message sets the status
    // and the footer flag, the second reads the row and caches it, the
    // third is decided from the cache alone.
    for text in ["one", "one again", "one more"] {
        assert_eq!(
            r.p.request(submit("14155550102", to, text))
                .await
                .0
                .command_status,
            0
        );
    }
    let key = optgate::store::consent::Key {
        campaign: "allow".into(),
        sender: "14155550102".into(),
        recipient: to.into(),
    };
    let cache = r.daemon.store().consent_cache().clone();
    assert!(cache.contains(&key), "the active row is cached");
    let stderr = cli("refused").await.unwrap();
    assert!(!stderr.contains("did not confirm"), "{stderr}");
    assert!(!cache.contains(&key), "the command line emptied the cache");
    assert_eq!(
        r.p.request(submit("14155550102", to, "two"))
            .await
            .0
            .command_status,
        0x400
    );
    cli("active").await.unwrap();
    assert_eq!(
        r.p.request(submit("14155550102", to, "three"))
            .await
            .0
            .command_status,
        0
    );
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn reload_applies_new_campaigns_without_dropping_binds() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let accounts = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;
    let d = common::start_daemon(&carrier, &config(&carrier.address(), dir.path(), accounts)).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    let to = "14155559401";
    assert_eq!(
        p.request(submit("14155550100", to, "before"))
            .await
            .0
            .command_status,
        0,
        "no campaign: plain proxy"
    );
    let with_campaign = format!("{accounts}\n[[campaigns]]\nid = \"new\"\nbrand = \"New\"\nnumbers = [\"14155550100\"]\noutbound_unknown = \"prevent\"\n");
    d.reload(&config(&carrier.address(), dir.path(), &with_campaign));
    let (r, _) = p.request(submit("14155550100", to, "after")).await;
    assert_eq!(
        r.command_status, 0x401,
        "the reloaded campaign is enforced on the same bind"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_multipart_message_is_held_and_released_as_one() {
    a_multipart_message_is_held_and_released_as_one_on(Backend::Sqlite).await;
}

async fn a_multipart_message_is_held_and_released_as_one_on(backend: Backend) {
    use bytes::Bytes;
    let mut r = rig_on(backend).await;
    let to = "14155559601";
    let part = |seq: u8, text: &[u8]| {
        let mut s = common::sm("14155550100", to, "");
        s.esm_class = 0x40;
        let mut m = vec![5, 0, 3, 0x77, 2, seq];
        m.extend_from_slice(text);
        s.short_message = Bytes::from(m);
        Pdu::new(0, Body::SubmitSm(Box::new(s)))
    };
    let (a, _) = r.p.request(part(1, b"first half ")).await;
    let (b, _) = r.p.request(part(2, b"second half")).await;
    assert_eq!(
        (a.command_status, b.command_status),
        (0, 0),
        "both parts held"
    );
    assert_eq!(
        message_id(&a),
        message_id(&b),
        "one optgate id for the whole message"
    );
    assert_eq!(
        wait_sent(&r.carrier, to, 1).await,
        [OPT_IN_REQUEST],
        "one opt-in request"
    );
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "START"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    let got = wait_sent(&r.carrier, to, 4).await;
    assert_eq!(got.len(), 4);
    assert!(
        got[2].ends_with("first half ") && got[3].ends_with("second half"),
        "{got:?}"
    );
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn data_sm_is_decided_like_submit_sm_and_replace_sm_edits_a_hold() {
    data_sm_is_decided_like_submit_sm_and_replace_sm_edits_a_hold_on(Backend::Sqlite).await;
}

async fn data_sm_is_decided_like_submit_sm_and_replace_sm_edits_a_hold_on(backend: Backend) {
    use bytes::Bytes;
    use optgate::pdu::{tags, DataSm, ReplaceSm};
    let mut r = rig_on(backend).await;
    let to = "14155559701";
    assert_eq!(
        r.carrier
            .deliver(mo(to, "14155550100", "STOP"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    let mut d = DataSm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: Text::from_static(b"14155550100"),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: Text::copy_from_slice(to.as_bytes()),
        ..Default::default()
    };
    d.tlvs
        .push(tags::MESSAGE_PAYLOAD, Bytes::from_static(b"via data_sm"));
    let (resp, _) = r.p.request(Pdu::new(0, Body::DataSm(Box::new(d)))).await;
    assert_eq!(resp.command_id(), cmd::DATA_SM_RESP);
    assert_eq!(
        resp.command_status, 0x400,
        "refused recipients are refused over data_sm too"
    );

    // replace_sm of a held message changes what is released later.
    let fresh = "14155559702";
    let (a, _) = r.p.request(submit("14155550100", fresh, "old text")).await;
    let id = message_id(&a);
    let rep = ReplaceSm {
        message_id: Text::from(id),
        short_message: Bytes::from_static(b"new text"),
        ..Default::default()
    };
    assert_eq!(
        r.p.request(Pdu::new(0, Body::ReplaceSm(Box::new(rep))))
            .await
            .0
            .command_status,
        0
    );
    assert_eq!(
        r.carrier
            .deliver(mo(fresh, "14155550100", "YES"))
            .await
            .command_status,
        0
    );
    r.p.take_deliver().await;
    let got = wait_sent(&r.carrier, fresh, 3).await;
    assert_eq!(got[2], "new text");
    r.daemon.shutdown(Duration::from_secs(2)).await;
}

/// Every test above that needs only the daemon's store, again on PostgreSQL
/// (the command-line test writes an SQLite config of its own; the command
/// line on PostgreSQL is in tests/daemon_postgres.rs).
mod on_postgres {
    use super::Backend::Postgres;

    #[tokio::test]
    async fn require_opt_in_holds_then_releases_in_order_on_start() {
        super::require_opt_in_holds_then_releases_in_order_on_start_on(Postgres).await;
    }

    #[tokio::test]
    async fn stop_refuses_with_one_response_and_blocks_later_submits() {
        super::stop_refuses_with_one_response_and_blocks_later_submits_on(Postgres).await;
    }

    #[tokio::test]
    async fn stop_drops_held_messages_with_rejected_receipts() {
        super::stop_drops_held_messages_with_rejected_receipts_on(Postgres).await;
    }

    #[tokio::test]
    async fn prevent_rejects_until_the_recipient_writes_first() {
        super::prevent_rejects_until_the_recipient_writes_first_on(Postgres).await;
    }

    #[tokio::test]
    async fn allow_forwards_with_the_footer_on_the_first_message_only() {
        super::allow_forwards_with_the_footer_on_the_first_message_only_on(Postgres).await;
    }

    #[tokio::test]
    async fn auto_opt_in_answers_a_first_message_with_the_request() {
        super::auto_opt_in_answers_a_first_message_with_the_request_on(Postgres).await;
    }

    #[tokio::test]
    async fn hold_ttl_expires_with_a_synthetic_receipt() {
        super::hold_ttl_expires_with_a_synthetic_receipt_on(Postgres).await;
    }

    #[tokio::test]
    async fn campaign_scope_shares_consent_across_numbers_and_number_scope_does_not() {
        super::campaign_scope_shares_consent_across_numbers_and_number_scope_does_not_on(Postgres)
            .await;
    }

    #[tokio::test]
    async fn pending_campaign_is_not_enforced() {
        super::pending_campaign_is_not_enforced_on(Postgres).await;
    }

    #[tokio::test]
    async fn stop_is_found_in_ucs2_multipart_and_payload_but_never_in_receipts() {
        super::stop_is_found_in_ucs2_multipart_and_payload_but_never_in_receipts_on(Postgres).await;
    }

    #[tokio::test]
    async fn a_multipart_message_is_held_and_released_as_one() {
        super::a_multipart_message_is_held_and_released_as_one_on(Postgres).await;
    }

    #[tokio::test]
    async fn cancel_and_query_of_a_held_message_stay_local() {
        super::cancel_and_query_of_a_held_message_stay_local_on(Postgres).await;
    }

    #[tokio::test]
    async fn submit_multi_is_decided_per_destination() {
        super::submit_multi_is_decided_per_destination_on(Postgres).await;
    }

    #[tokio::test]
    async fn data_sm_is_decided_like_submit_sm_and_replace_sm_edits_a_hold() {
        super::data_sm_is_decided_like_submit_sm_and_replace_sm_edits_a_hold_on(Postgres).await;
    }
}
