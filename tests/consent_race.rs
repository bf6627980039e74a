//! A STOP racing a burst of submits to the same recipient: nothing the
//! platform submits after the STOP was acknowledged reaches the carrier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::postgres::Backend;
use common::*;
use optgate::pdu::command as cmd;

const CAMPAIGN: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[campaigns]]
id = "race"
brand = "Race"
numbers = ["14155550100"]
outbound_unknown = "allow"
attachment = "none"
"#;

#[tokio::test]
async fn no_submit_after_the_stop_commit_is_forwarded() {
    race(Backend::Sqlite).await;
}

/// The same on the PostgreSQL backend.
#[tokio::test]
async fn on_postgres_no_submit_after_the_stop_commit_is_forwarded() {
    race(Backend::Postgres).await;
}

async fn race(backend: Backend) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), CAMPAIGN);
    backend.apply(&mut cfg);
    let d = common::start_daemon(&carrier, &cfg).await;
    let to = "14155557777";
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;

    let last_sent = Arc::new(AtomicI64::new(-1));
    let stopped = Arc::new(AtomicBool::new(false));
    let boundary = Arc::new(AtomicI64::new(i64::MAX));
    let (ls, st, bd) = (last_sent.clone(), stopped.clone(), boundary.clone());
    let burst = tokio::spawn(async move {
        let mut results = Vec::new();
        for i in 0..2_000i64 {
            ls.store(i, Ordering::SeqCst);
            let (r, delivered) = p.request(submit("14155550100", to, &i.to_string())).await;
            assert!(delivered.iter().all(|m| text_of(m) == "STOP"));
            results.push((i, r.command_status));
            if st.load(Ordering::SeqCst) && i > bd.load(Ordering::SeqCst) + 30 {
                break;
            }
        }
        results
    });
    // Let the burst get going, then the STOP arrives.
    wait_until(|| carrier.submits().len() >= 20).await;
    let resp = carrier.deliver(mo(to, "14155550100", "STOP")).await;
    assert_eq!(resp.command_status, 0);
    // Everything the platform sends from now on was sent after the commit.
    boundary.store(last_sent.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    stopped.store(true, Ordering::SeqCst);
    let results = tokio::time::timeout(Duration::from_secs(60), burst)
        .await
        .unwrap()
        .unwrap();
    let b = boundary.load(Ordering::SeqCst);
    let after: Vec<_> = results.iter().filter(|(i, _)| *i >= b).collect();
    assert!(after.len() >= 30, "the burst went on after the STOP");
    for (i, code) in &after {
        assert_eq!(
            *code, 0x400,
            "submit {i} sent after the STOP was acknowledged"
        );
    }
    let forwarded: Vec<i64> = carrier
        .submits()
        .iter()
        .filter_map(|s| text_of(s).parse().ok())
        .collect();
    assert!(
        forwarded.iter().all(|i| *i < b),
        "the carrier got a submit sent after the STOP: boundary {b}"
    );
    assert!(forwarded.len() >= 20);
    d.shutdown(Duration::from_secs(2)).await;
}
