//! `/metrics` after a scripted consent flow (hold, START and release, HELP,
//! STOP), with exact values. Metrics are global to the process, so this
//! binary holds exactly one test and one daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::Duration;

use common::*;
use optgate::pdu::command as cmd;

const CAMPAIGN: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101"]

[[campaigns]]
id = "m"
brand = "Metco"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"
attachment = "none"
opt_out_scope = "brand"

# The same brand: the STOP to "m" refuses the recipient here too.
[[campaigns]]
id = "m2"
brand = "Metco"
numbers = ["14155550101"]
"#;

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn consent_flow_shows_exact_counters() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = common::start_daemon(&carrier, &config(&carrier.address(), dir.path(), CAMPAIGN)).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    let to = "14155559501";
    // Held (opt-in request sent), then START releases it.
    assert_eq!(
        p.request(submit("14155550100", to, "held one"))
            .await
            .0
            .command_status,
        0
    );
    assert_eq!(
        carrier
            .deliver(mo(to, "14155550100", "START"))
            .await
            .command_status,
        0
    );
    p.take_deliver().await;
    wait_until(|| carrier.submits().iter().any(|s| text_of(s) == "held one")).await;
    // Active now: forwarded.
    assert_eq!(
        p.request(submit("14155550100", to, "direct"))
            .await
            .0
            .command_status,
        0
    );
    // HELP, then STOP, then a blocked submit.
    assert_eq!(
        carrier
            .deliver(mo(to, "14155550100", "HELP"))
            .await
            .command_status,
        0
    );
    p.take_deliver().await;
    assert_eq!(
        carrier
            .deliver(mo(to, "14155550100", "STOP"))
            .await
            .command_status,
        0
    );
    p.take_deliver().await;
    assert_eq!(
        p.request(submit("14155550100", to, "blocked"))
            .await
            .0
            .command_status,
        0x400
    );
    // Opt-in request, opt-in response, help, opt-out response: 4 of optgate's own.
    wait_until(|| carrier.submits().len() >= 6).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let text = http::get(d.admin_addr(), "/metrics").await.body;
    let expect = [
        (r#"optgate_mt_total{outcome="held"}"#, 1.0),
        (r#"optgate_mt_total{outcome="released"}"#, 1.0),
        (r#"optgate_mt_total{outcome="forwarded"}"#, 1.0),
        (r#"optgate_mt_total{outcome="blocked"}"#, 1.0),
        (r#"optgate_keywords_total{class="opt_in"}"#, 1.0),
        (r#"optgate_keywords_total{class="help"}"#, 1.0),
        (r#"optgate_keywords_total{class="opt_out"}"#, 1.0),
        // Pending: the held MT sent the opt-in request; active: START;
        // refused: STOP, for "m" and (opt_out_scope = "brand") for "m2".
        (r#"optgate_consent_changes_total{to="pending"}"#, 1.0),
        (r#"optgate_consent_changes_total{to="active"}"#, 1.0),
        (r#"optgate_consent_changes_total{to="refused"}"#, 2.0),
        (
            r#"optgate_responses_sent_total{kind="opt_in_request"}"#,
            1.0,
        ),
        (
            r#"optgate_responses_sent_total{kind="opt_in_response"}"#,
            1.0,
        ),
        (r#"optgate_responses_sent_total{kind="help"}"#, 1.0),
        (
            r#"optgate_responses_sent_total{kind="opt_out_response"}"#,
            1.0,
        ),
        ("optgate_held_messages", 0.0),
    ];
    for (series, want) in expect {
        assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
    }
    assert!(!text.contains(to), "no phone number in metrics");
    d.shutdown(Duration::from_secs(2)).await;
}
