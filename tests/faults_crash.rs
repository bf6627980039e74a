//! SIGKILL of the real binary with consent state in flight: acknowledged
//! STOPs, held messages, the outbox, and MOs / receipts under load all
//! survive the kill (DESIGN.md §2 Promises).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::binary::Setup;
use common::*;
use futures_util::StreamExt;
use optgate::pdu::{command as cmd, status, Body, Pdu};

const CONF: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550199"]

[[campaigns]]
id = "optin"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"
"#;

const CAMPAIGN_NUMBER: &str = "14155550100";
/// An account number outside every campaign: submits are forwarded as they are.
const PLAIN_NUMBER: &str = "14155550199";
const OPT_IN_REQUEST: &str = "ACME: Reply START to receive messages from ACME. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";
const OPTED_IN: &str = "ACME: You are now opted-in. For help, reply HELP. To opt out, reply STOP";

fn sent_to(c: &FakeCarrier, to: &str) -> Vec<String> {
    c.submits()
        .iter()
        .filter(
            |p| matches!(&p.body, Body::SubmitSm(s) if &s.destination_addr[..] == to.as_bytes()),
        )
        .map(text_of)
        .collect()
}

/// Lines of a store command's JSON output.
fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn an_acknowledged_stop_survives_sigkill() {
    let s = Setup::new(CONF).await;
    let og = s.start().await;
    let r = "14155559101";
    let resp = s.carrier.deliver(mo(r, CAMPAIGN_NUMBER, "STOP")).await;
    assert_eq!(resp.command_status, status::ESME_ROK, "STOP acknowledged");
    og.sigkill().await;

    let og = s.start_with_binds(2).await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);
    let (a, delivered) = p.request(submit(CAMPAIGN_NUMBER, r, "after crash")).await;
    assert_eq!(a.command_status, 0x400, "refused after restart");
    // The STOP itself still reaches the platform (stored before the ack).
    let stop = match delivered.first() {
        Some(d) => d.clone(),
        None => p.take_deliver().await,
    };
    assert_eq!(text_of(&stop), "STOP");

    let events = json_lines(&s.cli(&["events", "--recipient", r, "--format", "json"]));
    assert!(
        events
            .iter()
            .any(|e| e["new_status"] == "refused" && e["kind"] == "consent_change"),
        "{events:?}"
    );
    let logs = json_lines(&s.cli(&["logs", "--recipient", r, "--format", "json"]));
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["status"], "refused", "{logs:?}");
}

#[tokio::test]
async fn held_messages_and_the_outbox_survive_sigkill() {
    let s = Setup::new(CONF).await;
    // The carrier refuses optgate's messages for now (temporary error).
    s.carrier.throttle_next.store(1_000_000, Ordering::Relaxed);
    let og = s.start().await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);
    let r = "14155559102";
    let (a, _) = p
        .request(submit(CAMPAIGN_NUMBER, r, "held across crash"))
        .await;
    assert_eq!(a.command_status, status::ESME_ROK, "held, accepted");
    // The opt-in request was tried and throttled: it sits in the outbox.
    wait_until(|| !sent_to(&s.carrier, r).is_empty()).await;
    assert!(sent_to(&s.carrier, r).iter().all(|t| t == OPT_IN_REQUEST));
    og.sigkill().await;

    // While it is down, the store shows the held message.
    let held = json_lines(&s.cli(&["held", "--recipient", r, "--format", "json"]));
    assert_eq!(held.len(), 1, "{held:?}");

    s.carrier.throttle_next.store(0, Ordering::Relaxed);
    let tried = sent_to(&s.carrier, r).len();
    let og = s.start_with_binds(2).await;
    // The opt-in request goes out again, now accepted, and only it.
    wait_until(|| sent_to(&s.carrier, r).len() > tried).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<String> = sent_to(&s.carrier, r).split_off(tried);
    assert_eq!(after, [OPT_IN_REQUEST], "delivered once after restart");

    // START releases the held message to the carrier.
    let resp = s.carrier.deliver(mo(r, CAMPAIGN_NUMBER, "START")).await;
    assert_eq!(resp.command_status, status::ESME_ROK);
    wait_until(|| sent_to(&s.carrier, r).len() >= tried + 3).await;
    let after: Vec<String> = sent_to(&s.carrier, r).split_off(tried);
    assert_eq!(after, [OPT_IN_REQUEST, OPTED_IN, "held across crash"]);
    drop(og);
}

/// What the carrier sent, and whether optgate acknowledged it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stop,
    Mo,
    Receipt,
}

/// Key of a delivery as the platform sees it: source address and text.
fn key_of(p: &Pdu) -> String {
    match &p.body {
        Body::DeliverSm(s) => format!(
            "{}|{}",
            String::from_utf8_lossy(&s.source_addr),
            String::from_utf8_lossy(&s.short_message)
        ),
        _ => String::new(),
    }
}

/// One carrier task: sends STOPs, MOs and receipts in turn until the
/// connection goes; returns what optgate acknowledged with ESME_ROK.
async fn carrier_task(c: Arc<FakeCarrier>, t: u32, stop: Arc<AtomicBool>) -> Vec<(Kind, String)> {
    let mut acked = Vec::new();
    for i in 0u32.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let from = format!("1415666{t}{i:04}");
        let (kind, pdu) = match i % 3 {
            0 => (Kind::Stop, mo(&from, CAMPAIGN_NUMBER, "STOP")),
            1 => (
                Kind::Mo,
                mo(&from, CAMPAIGN_NUMBER, &format!("hello {t}-{i}")),
            ),
            _ => (
                Kind::Receipt,
                receipt(&format!("x{t}-{i}"), &from, CAMPAIGN_NUMBER),
            ),
        };
        let key = key_of(&pdu);
        match c.try_deliver(pdu, Duration::from_secs(5)).await {
            Some(r) if r.command_status == status::ESME_ROK => acked.push((kind, key)),
            Some(_) => {}
            None => break, // optgate is gone
        }
    }
    acked
}

/// The platform during the load: submits (a few in flight) and acknowledges
/// every delivery, until the connection closes or `stop`.
async fn platform_task(mut p: Esme, stop: Arc<AtomicBool>, seen: Arc<Mutex<Vec<String>>>) -> u64 {
    let (mut inflight, mut answered, mut n) = (0u32, 0u64, 0u32);
    while !stop.load(Ordering::Relaxed) {
        while inflight < 5 {
            n += 1;
            let mut s = submit(PLAIN_NUMBER, &format!("1415777{n:04}"), "load");
            s.sequence_number = p.next_seq();
            if futures_util::SinkExt::send(&mut p.f, &s).await.is_err() {
                return answered;
            }
            inflight += 1;
        }
        let pdu = match tokio::time::timeout(Duration::from_millis(200), p.f.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(Ok(pdu)))) => pdu,
            Ok(_) => return answered, // closed
        };
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => {
                inflight = inflight.saturating_sub(1);
                answered += 1;
            }
            cmd::DELIVER_SM => {
                seen.lock().unwrap().push(key_of(&pdu));
                let r = Pdu::response_to(&pdu, 0, Body::DeliverSmResp(Default::default()));
                if futures_util::SinkExt::send(&mut p.f, &r).await.is_err() {
                    return answered;
                }
            }
            _ => {}
        }
    }
    answered
}

#[tokio::test]
async fn sigkill_under_load_loses_nothing_acknowledged() {
    under_load(&Setup::new(CONF).await).await;
}

/// The same on the PostgreSQL backend (DESIGN.md §2 promises hold there too).
#[tokio::test]
async fn on_postgres_sigkill_under_load_loses_nothing_acknowledged() {
    let s = Setup::new(CONF)
        .await
        .on(common::postgres::Backend::Postgres);
    under_load(&s).await;
    assert!(
        !s.dir.path().join("optgate.db").exists(),
        "the daemon used PostgreSQL, not an SQLite file"
    );
}

async fn under_load(s: &Setup) {
    let og = s.start().await;
    let (p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);
    let carrier = s.carrier.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let platform = tokio::spawn(platform_task(p, stop.clone(), seen.clone()));
    let tasks: Vec<_> = (0..3)
        .map(|t| tokio::spawn(carrier_task(carrier.clone(), t, stop.clone())))
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    og.sigkill().await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(tokio::time::timeout(WAIT, t).await.unwrap().unwrap());
    }
    let submits_answered = tokio::time::timeout(WAIT, platform).await.unwrap().unwrap();

    // Restart on the same store; the platform binds again and takes
    // everything stored, until nothing more comes for 1.5 s.
    let og = s.start_with_binds(2).await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);
    while let Some(d) = p.try_recv(Duration::from_millis(1500)).await {
        if d.command_id() == cmd::DELIVER_SM {
            seen.lock().unwrap().push(key_of(&d));
            p.ack(&d).await;
        }
    }
    // Every acknowledged STOP refuses its recipient.
    let stops: Vec<&String> = acked
        .iter()
        .filter(|(k, _)| *k == Kind::Stop)
        .map(|(_, key)| key)
        .collect();
    for key in &stops {
        let from = key.split('|').next().unwrap();
        let (a, more) = p
            .request(submit(CAMPAIGN_NUMBER, from, "after crash"))
            .await;
        assert_eq!(a.command_status, 0x400, "{from} refused after restart");
        seen.lock().unwrap().extend(more.iter().map(key_of));
    }
    // Every acknowledged MO and receipt reached the platform.
    let seen = seen.lock().unwrap().clone();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for k in &seen {
        *counts.entry(k.as_str()).or_default() += 1;
    }
    let acked_keys: HashSet<&str> = acked.iter().map(|(_, k)| k.as_str()).collect();
    let lost: Vec<&&str> = acked_keys
        .iter()
        .filter(|k| !counts.contains_key(**k))
        .collect();
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let unacked_delivered = counts.keys().filter(|k| !acked_keys.contains(*k)).count();
    let count = |kind| acked.iter().filter(|(k, _)| *k == kind).count();
    eprintln!(
        "RESULT crash-under-load stops_acked={} mos_acked={} receipts_acked={} \
         delivered={} unique={} duplicates={duplicates} unacked_but_delivered={unacked_delivered} \
         lost={} submits_answered={submits_answered}",
        count(Kind::Stop),
        count(Kind::Mo),
        count(Kind::Receipt),
        seen.len(),
        counts.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    assert!(
        stops.len() >= 5,
        "the load ran (only {} STOPs)",
        stops.len()
    );
    drop(og);
}
