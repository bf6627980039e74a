//! The store can not write while the daemon runs (`chattr +i` on the
//! database and its WAL, which stops writes through already-open file
//! descriptors too, also for root): MOs are answered ESME_RX_T_APPN so the
//! carrier retries, never acknowledged; `/readyz` says 503; both recover
//! when the disk does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status};

const CONF: &str = r#"
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

fn store_files(dir: &Path) -> Vec<PathBuf> {
    ["optgate.db", "optgate.db-wal"]
        .iter()
        .map(|f| dir.join(f))
        .collect()
}

#[tokio::test]
async fn an_unwritable_store_refuses_mos_temporarily_and_recovers() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&carrier.address(), dir.path(), CONF);
    let d = Daemon::start(&cfg, None).await.expect("daemon starts");
    carrier.wait_binds(1).await;
    let admin = d.admin_addr();
    http::wait_status(admin, "/readyz", 200).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let r = "14155559201";
    let ok = carrier.deliver(mo(r, "14155550100", "hello")).await;
    assert_eq!(ok.command_status, 0);
    assert_eq!(text_of(&p.take_deliver().await), "hello");

    let Some(guard) = Immutable::apply(&store_files(dir.path())) else {
        eprintln!(
            "SKIPPED: chattr +i is not possible here (needs root and ext2/3/4, xfs or btrfs)"
        );
        d.shutdown(Duration::from_secs(2)).await;
        return;
    };
    // A STOP needs a consent change; an ordinary MO needs its stored copy.
    let stop = carrier.deliver(mo(r, "14155550100", "STOP")).await;
    assert_eq!(
        stop.command_status,
        status::ESME_RX_T_APPN,
        "STOP not acknowledged"
    );
    let other = carrier.deliver(mo(r, "14155550100", "are you there")).await;
    assert_eq!(
        other.command_status,
        status::ESME_RX_T_APPN,
        "MO not acknowledged"
    );
    let down = http::wait_status(admin, "/readyz", 503).await;
    assert!(down.body.contains("store is not writable"), "{}", down.body);
    // Nothing reached the platform.
    assert!(p.try_recv(Duration::from_millis(300)).await.is_none());

    drop(guard);
    http::wait_status(admin, "/readyz", 200).await;
    // The carrier retries: now acknowledged, recorded and delivered once.
    let stop = carrier.deliver(mo(r, "14155550100", "STOP")).await;
    assert_eq!(stop.command_status, 0);
    assert_eq!(text_of(&p.take_deliver().await), "STOP");
    let (a, _) = p.request(submit("14155550100", r, "after")).await;
    assert_eq!(a.command_status, 0x400, "the STOP took effect");
    assert!(p.try_recv(Duration::from_millis(300)).await.is_none());
    d.shutdown(Duration::from_secs(2)).await;
}
