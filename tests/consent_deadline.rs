//! The opt-out confirmation deadline through the real daemon: a
//! confirmation the carrier could not take within `[policy]
//! opt_out_confirmation_deadline` is not sent late, the event log says it
//! was missed, a metric counts it; a confirmation sent in time records the
//! times of receipt, block and confirmation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use optgate::pdu::{command as cmd, Body};
use optgate::present::parse_time;
use optgate::store::consent::EventRow;
use optgate::store::{Durable, StoreTxn};

const CONF: &str = r#"
[policy]
opt_out_confirmation_deadline = "1s"

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[campaigns]]
id = "optin"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"
"#;

const NUMBER: &str = "14155550100";

fn sent_to(c: &FakeCarrier, to: &str) -> usize {
    c.submits()
        .iter()
        .filter(
            |p| matches!(&p.body, Body::SubmitSm(s) if &s.destination_addr[..] == to.as_bytes()),
        )
        .count()
}

async fn events(d: &optgate::daemon::Daemon, to: &str) -> Vec<EventRow> {
    let to = to.to_owned();
    d.store()
        .transact(move |env| Ok((env.list_events(Some(&to), None, 100)?, Durable::Now)))
        .await
        .unwrap()
}

async fn wait_event(d: &optgate::daemon::Daemon, to: &str, kind: &str) -> EventRow {
    for _ in 0..200 {
        if let Some(e) = events(d, to)
            .await
            .into_iter()
            .find(|e| e.event.kind == kind)
        {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} event for {to}: {:?}", events(d, to).await);
}

/// `label time` out of an event source `a; label time; ...`.
fn time_of(source: &str, label: &str) -> i64 {
    let part = source
        .split("; ")
        .find_map(|p| p.strip_prefix(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no {label} in {source}"));
    parse_time(part).unwrap_or_else(|| panic!("bad time {part}"))
}

/// Metrics are global to the process: the two cases run one after the
/// other in one test (the metric is 0 after the first, 1 after the second).
#[tokio::test]
async fn confirmation_deadline() {
    a_confirmation_in_time_records_receipt_block_and_confirmation().await;
    a_confirmation_past_the_deadline_is_not_sent_late().await;
}

async fn a_confirmation_past_the_deadline_is_not_sent_late() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&carrier.address(), dir.path(), CONF);
    let daemon = start_daemon(&carrier, &cfg).await;
    let to = "14155559401";
    // The carrier pushes back on every submit: the confirmation waits.
    carrier.throttle_next.store(1_000_000, Ordering::Relaxed);
    let resp = carrier.deliver(mo(to, NUMBER, "STOP")).await;
    assert_eq!(resp.command_status, 0);
    let missed = wait_event(&daemon, to, "missed").await;
    assert!(
        missed
            .event
            .source
            .contains("opt_out_confirmation_deadline 1s"),
        "{missed:?}"
    );
    let line = wait_event(&daemon, to, "opt_out_confirmation").await;
    let src = &line.event.source;
    assert!(src.starts_with("missed; "), "{src}");
    let received = time_of(src, "received");
    assert!(time_of(src, "blocked") >= received, "{src}");
    assert!(line.at - received > 1000, "recorded after the deadline");

    // The carrier recovers: nothing goes out to the recipient any more.
    let tried = sent_to(&carrier, to);
    carrier.throttle_next.store(0, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sent_to(&carrier, to), tried, "not sent late");
    let kinds: Vec<_> = events(&daemon, to)
        .await
        .into_iter()
        .map(|e| e.event.kind)
        .collect();
    assert!(!kinds.contains(&"sent".to_owned()), "{kinds:?}");

    let m = http::get(daemon.admin_addr(), "/metrics").await;
    assert!(
        m.body
            .lines()
            .any(|l| l == "optgate_responses_missed_total{kind=\"opt_out_response\"} 1"),
        "{}",
        m.body
    );
    // Still refused, of course.
    let mut p = Esme::connect(daemon.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let (a, _) = p.request(submit(NUMBER, to, "hi")).await;
    assert_eq!(a.command_status, 0x400);
    daemon.shutdown(Duration::from_secs(2)).await;
}

async fn a_confirmation_in_time_records_receipt_block_and_confirmation() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Room for one retry (the outbox waits a second after a refusal).
    let conf = CONF.replace("\"1s\"", "\"20s\"");
    let cfg = config(&carrier.address(), dir.path(), &conf);
    let daemon = start_daemon(&carrier, &cfg).await;
    let to = "14155559402";
    // One temporary refusal: retried within the deadline.
    carrier.throttle_next.store(1, Ordering::Relaxed);
    let resp = carrier.deliver(mo(to, NUMBER, "stop")).await;
    assert_eq!(resp.command_status, 0);
    let line = wait_event(&daemon, to, "opt_out_confirmation").await;
    let src = &line.event.source;
    assert!(src.starts_with("sent; "), "{src}");
    let (r, b, c) = (
        time_of(src, "received"),
        time_of(src, "blocked"),
        time_of(src, "confirmed"),
    );
    assert!(r <= b && b <= c, "{src}");
    assert_eq!(
        sent_to(&carrier, to),
        2,
        "one refused attempt, one accepted"
    );
    let m = http::get(daemon.admin_addr(), "/metrics").await;
    assert!(
        m.body
            .lines()
            .any(|l| l == "optgate_responses_missed_total{kind=\"opt_out_response\"} 0"),
        "exported at 0"
    );
    daemon.shutdown(Duration::from_secs(2)).await;
}
