//! A reload is one change: while configs are swapped back and forth, a
//! reader never sees the accounts of one file with the routes or the
//! campaigns of the other, and each reload moves the version by one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use optgate::policy::Lookup;

const PBX: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;

/// PBX plus a second account and a campaign on its number: a reload from
/// PBX to this changes accounts, routes and campaigns.
const PBX_CRM: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[server.accounts]]
system_id = "crm"
password = "secret2"
numbers = ["14155550200"]

[[campaigns]]
id = "crm"
brand = "CRM"
numbers = ["14155550200"]
"#;

/// Odd: the last reload is to B.
const RELOADS: usize = 301;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changing_accounts_routes_and_campaigns_is_one_change() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = config(&carrier.address(), dir.path(), PBX);
    let b = config(&carrier.address(), dir.path(), PBX_CRM);
    let daemon = common::start_daemon(&carrier, &a).await;
    assert_eq!(daemon.runtime().version, 0);

    let done = AtomicBool::new(false);
    let (reads, mixed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let rt = daemon.runtime();
                let crm_number =
                    optgate::numbers::normalise("14155550200", 0, &rt.engine.country_code);
                let account = rt.accounts.contains_key("crm");
                let routed = rt.routes.dispatchers.contains_key("crm")
                    && rt.routes.numbers.contains_key(crm_number.as_str());
                let campaign =
                    matches!(rt.engine.campaigns.lookup(&crm_number), Lookup::Enforce(_));
                if account != routed || account != campaign {
                    mixed.fetch_add(1, Ordering::Relaxed);
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        });
        for i in 0..RELOADS {
            daemon.reload(if i % 2 == 0 { &b } else { &a });
            // Let the reader look at each version a few times.
            std::thread::sleep(Duration::from_micros(200));
        }
        done.store(true, Ordering::Release);
    });
    assert!(
        reads.load(Ordering::Relaxed) > RELOADS,
        "the reader kept up"
    );
    assert_eq!(
        mixed.load(Ordering::Relaxed),
        0,
        "no half-applied reload seen"
    );
    let rt = daemon.runtime();
    assert_eq!(rt.version, RELOADS as u64, "one version per reload");
    assert!(
        rt.accounts.contains_key("crm"),
        "the last reload (B) is in force"
    );

    // Sessions see it: crm binds after the final reload to B.
    let mut p = Esme::connect(daemon.smpp_addr()).await;
    let r = p
        .bind(optgate::pdu::command::BIND_TRANSCEIVER, "crm", "secret2")
        .await;
    assert_eq!(r.command_status, 0);
    daemon.shutdown(Duration::from_secs(2)).await;
}
