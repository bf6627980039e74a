//! Quiet hours through the real daemon, with the engine's clock set by the
//! test (`Daemon::clock`): an MT in quiet hours is held and released in
//! order when the clock passes the window's end, or rejected with the
//! campaign's status; the Florida override; an area code with several
//! zones uses the strictest; keyword responses go out at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::postgres::Backend;
use common::*;
use optgate::pdu::command as cmd;
use optgate::store::{Durable, StoreTxn};

const CAMPAIGNS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "allow"
attachment = "none"
quiet_hours = { start = "21:00", end = "08:00" }

[[campaigns]]
id = "promo"
brand = "ACME"
numbers = ["14155550101"]
outbound_unknown = "allow"
attachment = "none"
quiet_hours = { start = "21:00", end = "08:00", action = "reject", status = 0x460 }

[quiet_hours.states]
FL = { start = "20:00", end = "08:00" }
"#;

const HOLD: &str = "14155550100";
const REJECT: &str = "14155550101";

struct Rig {
    carrier: FakeCarrier,
    daemon: optgate::daemon::Daemon,
    p: Esme,
    _dir: tempfile::TempDir,
}

async fn rig(backend: Backend) -> Rig {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), CAMPAIGNS);
    backend.apply(&mut cfg);
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

/// Milliseconds of an RFC 3339 time.
fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

async fn submit_status(r: &mut Rig, from: &str, to: &str, text: &str) -> u32 {
    r.p.request(submit(from, to, text)).await.0.command_status
}

async fn held(r: &Rig) -> usize {
    r.daemon
        .store()
        .transact(|env| Ok((env.list_held(None, 100)?, Durable::Now)))
        .await
        .unwrap()
        .len()
}

async fn held_then_released(backend: Backend) {
    let mut r = rig(backend).await;
    // 03:00 in New York (EST).
    r.daemon.clock().set(at("2026-01-15T08:00:00Z"));
    let to = "12125550123";
    assert_eq!(submit_status(&mut r, HOLD, to, "one").await, 0);
    assert_eq!(submit_status(&mut r, HOLD, to, "two").await, 0);
    assert_eq!(held(&r).await, 2);
    assert!(r.carrier.submits().is_empty());
    // Still quiet at 07:59 local: a settling pass leaves them.
    r.daemon.clock().set(at("2026-01-15T12:59:00Z"));
    r.daemon.wake_settler();
    assert_eq!(held(&r).await, 2);
    // 08:00:30 local: released in the order held.
    r.daemon.clock().set(at("2026-01-15T13:00:30Z"));
    r.daemon.wake_settler();
    let subs = r.carrier.wait_submits(2).await;
    let texts: Vec<String> = subs.iter().map(text_of).collect();
    assert_eq!(texts, ["one", "two"]);
    wait_until_held(&r, 0).await;
    // In daytime an MT goes straight through.
    assert_eq!(submit_status(&mut r, HOLD, to, "three").await, 0);
    let subs = r.carrier.wait_submits(3).await;
    assert_eq!(text_of(&subs[2]), "three");
}

async fn wait_until_held(r: &Rig, n: usize) {
    for _ in 0..500 {
        if held(r).await == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("held messages never reached {n}");
}

#[tokio::test]
async fn an_mt_in_quiet_hours_is_held_and_released_when_the_window_opens() {
    held_then_released(Backend::Sqlite).await;
}

#[tokio::test]
async fn on_postgres_an_mt_in_quiet_hours_is_held_and_released() {
    held_then_released(Backend::Postgres).await;
}

async fn rejected(backend: Backend) {
    let mut r = rig(backend).await;
    r.daemon.clock().set(at("2026-01-15T08:00:00Z"));
    assert_eq!(
        submit_status(&mut r, REJECT, "12125550124", "night").await,
        0x460
    );
    assert_eq!(held(&r).await, 0);
    r.daemon.clock().set(at("2026-01-15T15:00:00Z"));
    assert_eq!(submit_status(&mut r, REJECT, "12125550124", "day").await, 0);
    let subs = r.carrier.wait_submits(1).await;
    assert_eq!(text_of(&subs[0]), "day");
}

#[tokio::test]
async fn reject_action_answers_with_the_configured_status() {
    rejected(Backend::Sqlite).await;
}

#[tokio::test]
async fn on_postgres_reject_action_answers_with_the_configured_status() {
    rejected(Backend::Postgres).await;
}

#[tokio::test]
async fn florida_override_and_multi_zone_area_codes() {
    let mut r = rig(Backend::Sqlite).await;
    // 20:30 EST: Florida (305) is quiet by the override, New York is not.
    r.daemon.clock().set(at("2026-01-16T01:30:00Z"));
    assert_eq!(
        submit_status(&mut r, REJECT, "13055550100", "fl").await,
        0x460
    );
    assert_eq!(submit_status(&mut r, REJECT, "12125550100", "ny").await, 0);
    // 07:30 in Denver is 06:30 in Los Angeles: area code 208 (Idaho, both
    // zones) is quiet; 303 (Denver only) is not.
    r.daemon.clock().set(at("2026-01-15T14:30:00Z"));
    assert_eq!(
        submit_status(&mut r, REJECT, "12085550100", "id").await,
        0x460
    );
    assert_eq!(
        submit_status(&mut r, REJECT, "13035550100", "co").await,
        0x460
    );
    // 08:30 in Denver, 07:30 in Los Angeles: 303 open, 208 still quiet.
    r.daemon.clock().set(at("2026-01-15T15:30:00Z"));
    assert_eq!(submit_status(&mut r, REJECT, "13035550100", "co").await, 0);
    assert_eq!(
        submit_status(&mut r, REJECT, "12085550100", "id").await,
        0x460
    );
    // 08:00 in Los Angeles: 208 open.
    r.daemon.clock().set(at("2026-01-15T16:00:00Z"));
    assert_eq!(submit_status(&mut r, REJECT, "12085550100", "id").await, 0);
}

#[tokio::test]
async fn keyword_responses_go_out_at_once_in_quiet_hours() {
    let mut r = rig(Backend::Sqlite).await;
    r.daemon.clock().set(at("2026-01-15T08:00:00Z"));
    let from = "12125550199";
    for (word, n) in [("HELP", 1), ("STOP", 2)] {
        let resp = r.carrier.deliver(mo(from, HOLD, word)).await;
        assert_eq!(resp.command_status, 0);
        let m = r.p.expect_deliver().await;
        r.p.ack(&m).await;
        let subs = r.carrier.wait_submits(n).await;
        let last = subs.last().unwrap();
        assert_eq!(last.command_id(), cmd::SUBMIT_SM);
        assert!(text_of(last).contains("ACME"), "{}", text_of(last));
    }
    assert!(text_of(&r.carrier.submits()[1]).contains("opted-out"));
    assert_eq!(held(&r).await, 0);
}

/// A recipient who opts in during quiet hours: the answer to START goes
/// out at once, the messages held for the opt-in wait for the window.
#[tokio::test]
async fn an_opt_in_in_quiet_hours_releases_its_holds_when_the_window_opens() {
    let mut r = rig(Backend::Sqlite).await;
    let from = "12125550188";
    // Daytime: the platform sends the opt-in request itself (the key
    // becomes pending), then a message held for the answer.
    r.daemon.clock().set(at("2026-01-15T15:00:00Z"));
    let request = "ACME: Reply START to receive messages from ACME. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";
    assert_eq!(submit_status(&mut r, HOLD, from, request).await, 0);
    r.carrier.wait_submits(1).await;
    assert_eq!(
        submit_status(&mut r, HOLD, from, "held for consent").await,
        0
    );
    assert_eq!(held(&r).await, 1);
    // Night: START arrives; its response goes out at once, the hold stays.
    r.daemon.clock().set(at("2026-01-16T08:00:00Z"));
    let resp = r.carrier.deliver(mo(from, HOLD, "START")).await;
    assert_eq!(resp.command_status, 0);
    let m = r.p.expect_deliver().await;
    r.p.ack(&m).await;
    let subs = r.carrier.wait_submits(2).await;
    assert!(text_of(&subs[1]).contains("ACME"), "{}", text_of(&subs[1]));
    wait_until_quiet_deferred(&r).await;
    assert_eq!(held(&r).await, 1);
    // Morning: released.
    r.daemon.clock().set(at("2026-01-16T13:00:30Z"));
    r.daemon.wake_settler();
    let subs = r.carrier.wait_submits(3).await;
    assert_eq!(text_of(&subs[2]), "held for consent");
    wait_until_held(&r, 0).await;
}

/// Waits until the settler turned the opted-in key's consent hold into a
/// quiet hold (still held, now waiting for the window).
async fn wait_until_quiet_deferred(r: &Rig) {
    for _ in 0..500 {
        let rows = r
            .daemon
            .store()
            .transact(|env| Ok((env.list_held(None, 10)?, Durable::Now)))
            .await
            .unwrap();
        let due = r
            .daemon
            .store()
            .transact(|env| Ok((env.due_quiet_keys(i64::MAX, 10)?, Durable::Now)))
            .await
            .unwrap();
        if rows.len() == 1 && due.len() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the opted-in hold was never deferred to quiet hours");
}

/// An opted-in recipient whose consent the cache already holds (the MT
/// path that skips the store) is held in quiet hours all the same.
#[tokio::test]
async fn a_cached_opted_in_recipient_is_held_in_quiet_hours_too() {
    let mut r = rig(Backend::Sqlite).await;
    let from = "12125550177";
    r.daemon.clock().set(at("2026-01-15T15:00:00Z"));
    let resp = r.carrier.deliver(mo(from, HOLD, "START")).await;
    assert_eq!(resp.command_status, 0);
    let m = r.p.expect_deliver().await;
    r.p.ack(&m).await;
    let n = r.carrier.wait_submits(1).await.len();
    // Two daytime messages: the first marks the key, the second caches it.
    for (i, text) in ["a", "b"].into_iter().enumerate() {
        assert_eq!(submit_status(&mut r, HOLD, from, text).await, 0);
        r.carrier.wait_submits(n + i + 1).await;
    }
    r.daemon.clock().set(at("2026-01-16T08:00:00Z"));
    assert_eq!(submit_status(&mut r, HOLD, from, "c").await, 0);
    assert_eq!(held(&r).await, 1);
    r.daemon.clock().set(at("2026-01-16T13:00:30Z"));
    r.daemon.wake_settler();
    let subs = r.carrier.wait_submits(n + 3).await;
    assert_eq!(text_of(subs.last().unwrap()), "c");
}
