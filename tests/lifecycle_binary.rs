//! The real `optgate` binary: start, SIGTERM with a request in flight, SIGHUP
//! reloads (good and bad files), `check-config` on a bad file, sd_notify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::binary::{Setup, BIN};
use common::postgres::Backend;
use common::*;
use optgate::pdu::{command as cmd, status, Body, Pdu};

const GRACE: Duration = Duration::from_secs(3);

const PBX: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;

const CRM: &str = r#"
[[server.accounts]]
system_id = "crm"
password = "secret2"
numbers = ["14155550200"]
"#;

#[tokio::test]
async fn sigterm_drains_in_flight_and_exits_zero() {
    sigterm_drains_in_flight_and_exits_zero_on(Backend::Sqlite).await;
}

/// The same with the store in PostgreSQL: the shutdown closes it cleanly.
#[tokio::test]
async fn on_postgres_sigterm_drains_in_flight_and_exits_zero() {
    sigterm_drains_in_flight_and_exits_zero_on(Backend::Postgres).await;
}

async fn sigterm_drains_in_flight_and_exits_zero_on(backend: Backend) {
    let s = Setup::new(PBX).await.on(backend);
    s.carrier
        .delay_ms
        .store(400, std::sync::atomic::Ordering::Relaxed);
    let mut og = s.start().await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);

    let mut req = submit("14155550100", "14155551234", "in flight");
    req.sequence_number = 77;
    p.send(&req).await;
    s.carrier.wait_submits(1).await;
    og.signal("-TERM");

    let (mut answered, mut saw_unbind) = (None, false);
    while let Some(pdu) = p.try_recv(Duration::from_secs(5)).await {
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => answered = Some((pdu.sequence_number, pdu.command_status)),
            cmd::UNBIND => {
                saw_unbind = true;
                p.send(&Pdu::new(pdu.sequence_number, Body::UnbindResp))
                    .await;
            }
            other => panic!("unexpected {other:#x}"),
        }
    }
    assert_eq!(answered, Some((77, 0)), "the carrier's answer is relayed");
    assert!(saw_unbind, "platform sees an unbind");
    assert_eq!(og.notified().await, "STOPPING=1");
    let exit = og.exited_within(GRACE + Duration::from_secs(2)).await;
    assert!(
        exit.is_some_and(|e| e.code() == Some(0)),
        "exit {exit:?}; log:\n{}",
        og.log()
    );
    assert_eq!(s.carrier.log.lock().unwrap().unbinds, 1, "carrier unbound");
    assert!(og.log().contains("SIGTERM"));
}

#[tokio::test]
async fn sighup_reloads_good_files_and_keeps_the_old_one_on_bad() {
    let s = Setup::new(PBX).await;
    let mut og = s.start().await;
    let (mut pbx, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);
    let (_, st) = og.bind("crm", "secret2").await;
    assert_eq!(st, status::ESME_RINVSYSID, "crm unknown before the reload");

    // Add an account.
    s.write(10, &format!("{PBX}{CRM}"));
    og.signal("-HUP");
    og.wait_log("configuration reloaded", 1).await;
    let (_crm, st) = og.bind("crm", "secret2").await;
    assert_eq!(st, status::ESME_ROK, "the new account binds");
    let (r, _) = pbx
        .request(submit("14155550100", "14155551234", "still bound"))
        .await;
    assert_eq!(r.command_status, 0, "the existing bind stayed up");

    // An invalid file (window = 0, and crm removed): refused, old config kept.
    s.write(0, PBX);
    og.signal("-HUP");
    og.wait_log("reload refused", 1).await;
    let log = og.log();
    assert!(
        log.contains("server.window"),
        "the log names the key:\n{log}"
    );
    let (_, st) = og.bind("crm", "secret2").await;
    assert_eq!(st, status::ESME_ROK, "crm still there: old config kept");
    let (_, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK, "pbx still binds");
    let (r, _) = pbx
        .request(submit("14155550100", "14155551234", "after bad reload"))
        .await;
    assert_eq!(r.command_status, 0);

    // The same file fails check-config with exit code 64.
    let out = Command::new(BIN)
        .args(["check-config", "-c"])
        .arg(&s.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.window"));

    og.signal("-TERM");
    let exit = og.exited_within(GRACE + Duration::from_secs(2)).await;
    assert!(exit.is_some_and(|e| e.success()), "exit {exit:?}");
}
