//! The carrier vanishes mid-load and comes back; a platform disconnects with
//! requests in flight. Every platform request is answered (temporary errors
//! while the carrier is gone), nothing is left behind in the windows
//! (`optgate_inflight_requests` back to 0), receipts wait for the next bind.
//! Metrics are global to the process: the tests here run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Body, Pdu};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `optgate_inflight_requests{side=...}` from `/metrics` (it must be
/// there: the tests read it after traffic).
async fn inflight(admin: SocketAddr, side: &str) -> f64 {
    let text = http::get(admin, "/metrics").await.body;
    let prefix = format!("optgate_inflight_requests{{side=\"{side}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
}

/// Waits (bounded) until both sides' in-flight gauges read 0.
async fn wait_inflight_zero(admin: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (p, c) = (
            inflight(admin, "platform").await,
            inflight(admin, "carrier").await,
        );
        if p == 0.0 && c == 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "in flight left behind: platform {p}, carrier {c}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A platform that keeps `window` submits in flight and records every answer.
struct Load {
    p: Esme,
    inflight: HashMap<u32, Instant>,
    by_status: BTreeMap<u32, u64>,
    sent: u64,
    max_wait: Duration,
}

impl Load {
    fn new(p: Esme) -> Load {
        Load {
            p,
            inflight: HashMap::new(),
            by_status: BTreeMap::new(),
            sent: 0,
            max_wait: Duration::ZERO,
        }
    }

    async fn run_for(&mut self, d: Duration, window: usize) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.fill(window).await;
            self.receive(Duration::from_millis(50)).await;
        }
    }

    /// Sends submits until `window` are in flight.
    async fn fill(&mut self, window: usize) {
        while self.inflight.len() < window {
            let mut s = submit("14155550100", "14155551234", "load");
            s.sequence_number = self.p.next_seq();
            self.inflight.insert(s.sequence_number, Instant::now());
            self.sent += 1;
            self.p.send(&s).await;
        }
    }

    /// Waits for every request in flight to be answered.
    async fn drain(&mut self) {
        let deadline = Instant::now() + WAIT;
        while !self.inflight.is_empty() {
            assert!(Instant::now() < deadline, "requests never answered");
            self.receive(Duration::from_millis(100)).await;
        }
    }

    async fn receive(&mut self, d: Duration) {
        let Some(pdu) = self.p.try_recv(d).await else {
            return;
        };
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => {
                let sent = self.inflight.remove(&pdu.sequence_number).unwrap();
                self.max_wait = self.max_wait.max(sent.elapsed());
                *self.by_status.entry(pdu.command_status).or_default() += 1;
            }
            cmd::DELIVER_SM => self.p.ack(&pdu).await,
            cmd::ENQUIRE_LINK => {
                self.p
                    .send(&Pdu::new(pdu.sequence_number, Body::EnquireLinkResp))
                    .await
            }
            other => panic!("unexpected {other:#x}"),
        }
    }
}

async fn daemon(carrier: &FakeCarrier, dir: &std::path::Path) -> Daemon {
    let cfg = config(&carrier.address(), dir, TWO_ACCOUNTS);
    let d = Daemon::start(&cfg, None).await.expect("daemon starts");
    carrier.wait_binds(1).await;
    d
}

async fn bound(d: &Daemon) -> Esme {
    let mut p = Esme::connect(d.smpp_addr()).await;
    let r = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, 0);
    p
}

#[tokio::test]
async fn carrier_vanishes_mid_load_and_comes_back() {
    let _serial = SERIAL.lock().await;
    let carrier = FakeCarrier::start().await;
    carrier.delay_ms.store(20, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(&carrier, dir.path()).await;
    let mut load = Load::new(bound(&d).await);

    load.run_for(Duration::from_millis(600), 10).await;
    let addr = carrier.kill().await;
    load.run_for(Duration::from_millis(800), 10).await;
    let carrier = FakeCarrier::start_on(&addr.to_string()).await;
    carrier.wait_binds(1).await;
    load.run_for(Duration::from_millis(600), 10).await;
    load.drain().await;

    let answered: u64 = load.by_status.values().sum();
    eprintln!(
        "RESULT carrier-vanishes sent={} answered={answered} by_status={:?} max_wait_ms={}",
        load.sent,
        load.by_status,
        load.max_wait.as_millis()
    );
    assert_eq!(answered, load.sent, "every request answered");
    let allowed = [
        status::ESME_ROK,
        status::ESME_RTHROTTLED,
        status::ESME_RSYSERR,
    ];
    assert!(
        load.by_status.keys().all(|s| allowed.contains(s)),
        "only OK or temporary errors: {:?}",
        load.by_status
    );
    assert!(load.by_status.get(&status::ESME_RTHROTTLED).copied() > Some(0));
    // Generous: response_timeout (2 s) plus scheduling; a hang would be WAIT.
    assert!(
        load.max_wait < Duration::from_secs(5),
        "{:?}",
        load.max_wait
    );

    wait_inflight_zero(d.admin_addr()).await;
    // A whole window of submits goes through again.
    carrier.delay_ms.store(0, Ordering::Relaxed);
    let before = load.by_status.get(&0).copied().unwrap_or(0);
    load.fill(10).await;
    load.drain().await;
    assert_eq!(load.by_status.get(&0).copied().unwrap_or(0), before + 10);
    wait_inflight_zero(d.admin_addr()).await;
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn platform_gone_with_requests_in_flight_gets_its_receipts_on_rebind() {
    let _serial = SERIAL.lock().await;
    let carrier = FakeCarrier::start().await;
    // The fake carrier answers one submit at a time, each after 100 ms.
    carrier.delay_ms.store(100, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(&carrier, dir.path()).await;
    let mut p = bound(&d).await;
    for i in 0..10 {
        let mut s = submit("14155550100", &format!("1415555{i:04}"), "bye");
        if let Body::SubmitSm(sm) = &mut s.body {
            sm.registered_delivery = 1;
        }
        s.sequence_number = p.next_seq();
        p.send(&s).await;
    }
    carrier.wait_submits(1).await;
    drop(p); // gone before any answer
             // Its ten requests are still at the carrier; their answers come later.
    assert!(inflight(d.admin_addr(), "carrier").await > 0.0);
    // The carrier's late answers are dropped; nothing stays in flight.
    wait_inflight_zero(d.admin_addr()).await;

    // Receipts for those messages (ids c1..c10) are kept for the account.
    for i in 0..10 {
        let r = receipt(
            &format!("c{}", i + 1),
            &format!("1415555{i:04}"),
            "14155550100",
        );
        assert_eq!(carrier.deliver(r).await.command_status, 0);
    }
    let mut p = bound(&d).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let dlr = p.take_deliver().await;
        let text = text_of(&dlr);
        ids.push(text.split(' ').next().unwrap().to_string());
    }
    ids.sort();
    let mut want: Vec<String> = (1..=10).map(|i| format!("id:c{i}")).collect();
    want.sort();
    assert_eq!(ids, want);
    assert!(p.try_recv(Duration::from_millis(200)).await.is_none());
    d.shutdown(Duration::from_secs(2)).await;
}
