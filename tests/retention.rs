//! Retention through the real daemon (stored MOs and old events purged,
//! consent rows kept), and the purge measured on 1,000,000 events
//! (`cargo test --test retention -- --ignored --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use optgate::config::RetentionConfig;
use optgate::store::consent::{now_ms, ConsentFilter};
use optgate::store::{Durable, Store, StoreOptions, StoreTxn};

const CONF: &str = r#"
[store.retention]
message_bodies = "2s"
events = "3s"
interval = "300ms"
batch = 2

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100"]
hold_ttl = "1s"
"#;

async fn counts(d: &optgate::daemon::Daemon) -> (usize, u64, usize) {
    d.store()
        .transact(|env| {
            let events = env.events_after(0, 1000)?.len();
            let stored = env.count_deliveries()?;
            let rows = env
                .list_consent(&ConsentFilter::default(), None, 100)?
                .len();
            Ok(((events, stored, rows), Durable::Now))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn old_bodies_and_events_are_purged_consent_rows_kept() {
    let c = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start_daemon(&c, &config(&c.address(), dir.path(), CONF)).await;
    // No platform is bound: the MOs are stored for it.
    for i in 0..5 {
        let to = format!("1415555980{i}");
        assert_eq!(
            c.deliver(mo(&to, "14155550100", "hello"))
                .await
                .command_status,
            0
        );
    }
    let (events, stored, rows) = counts(&d).await;
    assert_eq!((stored, rows), (5, 5));
    assert!(events >= 5, "{events}");
    let start = Instant::now();
    loop {
        let (events, stored, rows) = counts(&d).await;
        if events == 0 && stored == 0 {
            assert_eq!(rows, 5, "consent rows are kept");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not purged: {events} {stored}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.shutdown(Duration::from_secs(2)).await;
}

/// Fills an SQLite store with `n` events, `old` of them five years old.
fn fill(path: &std::path::Path, n: u64, old: u64) {
    let mut c = rusqlite::Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO events (at, campaign, sender, recipient, kind, old_status, new_status, source, message_ids)
                 VALUES (?1, 'alerts', '14155550100', ?2, 'consent_change', 'active', 'refused', 'stop', '')",
            )
            .unwrap();
        let now = now_ms();
        let five_years = 5 * 365 * 24 * 3600 * 1000_i64;
        for i in 0..n {
            let at = if i < old {
                now - five_years + i as i64
            } else {
                now
            };
            st.execute(rusqlite::params![at, format!("1415{:07}", i % 10_000_000)])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: 1,000,000 events; run with --ignored --nocapture"]
async fn purge_of_a_million_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optgate.db");
    drop(Store::open(StoreOptions::new(path.clone())).await.unwrap());
    let t = Instant::now();
    fill(&path, 1_000_000, 500_000);
    eprintln!(
        "filled 1,000,000 events (500,000 older than 4 years) in {:?}",
        t.elapsed()
    );
    let store = Store::open(StoreOptions::new(path.clone())).await.unwrap();

    // The message path meanwhile: one small read-write unit of work at a
    // time, as an MT decision is, its latency recorded.
    let probe = store.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let prober = tokio::spawn(async move {
        let mut lat = Vec::new();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let t = Instant::now();
            probe
                .transact(|env| Ok((env.touch()?, Durable::AfterCommit)))
                .await
                .unwrap();
            lat.push((t, t.elapsed()));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        lat
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut cfg = RetentionConfig::default();
    if let Some(b) = std::env::var("OPTGATE_PURGE_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
    {
        cfg.batch = b;
    }
    let t = Instant::now();
    let p = optgate::consent::retention::purge(&store, &cfg, now_ms())
        .await
        .unwrap();
    let took = t.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let all = prober.await.unwrap();
    let end = t + took;
    let (mut during, mut idle): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(at, _)| *at >= t && *at <= end);
    eprintln!(
        "purged {} events in {} batches of {} in {:?} ({:.0} events/s)",
        p.events,
        p.batches,
        cfg.batch,
        took,
        p.events as f64 / took.as_secs_f64()
    );
    for (name, lat) in [("idle", &mut idle), ("during the purge", &mut during)] {
        lat.sort_by_key(|(_, d)| *d);
        let q = |f: f64| lat[((lat.len() as f64 - 1.0) * f) as usize].1;
        eprintln!(
            "store unit of work {name} ({} samples): p50 {:?}, p99 {:?}, max {:?}",
            lat.len(),
            q(0.5),
            q(0.99),
            lat[lat.len() - 1].1
        );
    }
    assert_eq!(p.events, 500_000);
    assert!(p.batches >= 500_000 / u64::from(cfg.batch));
    let left = store
        .transact(|env| Ok((env.last_event_id()?, Durable::Now)))
        .await
        .unwrap();
    assert_eq!(left, 1_000_000, "the recent half is kept");
}
