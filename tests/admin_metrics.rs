//! `/metrics` after real traffic, with exact values. Metrics are global to
//! the process, so this binary holds exactly one test and one daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::Duration;

use common::{config, submit, Esme, FakeCarrier, TWO_ACCOUNTS};
use optgate::pdu::command as cmd;

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[tokio::test]
async fn metrics_count_binds_and_pdus_exactly() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&carrier.address(), dir.path(), TWO_ACCOUNTS);
    let d = common::start_daemon(&carrier, &cfg).await;

    let mut p = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let (r, _) = p
        .request(submit("14155550100", "14155551234", "hello"))
        .await;
    assert_eq!(r.command_status, 0);

    let m = http::get(d.admin_addr(), "/metrics").await;
    assert_eq!(m.status, 200);
    let text = m.body;
    for line in [
        r#"optgate_binds{side="platform",account="pbx"} 1"#,
        r#"optgate_pdus_total{side="platform",direction="in",command="bind_transceiver"} 1"#,
        r#"optgate_pdus_total{side="platform",direction="in",command="submit_sm"} 1"#,
        r#"optgate_pdus_total{side="platform",direction="out",command="submit_sm_resp"} 1"#,
        r#"optgate_pdus_total{side="carrier",direction="out",command="submit_sm"} 1"#,
        r#"optgate_pdus_total{side="carrier",direction="in",command="submit_sm_resp"} 1"#,
        r#"optgate_upstream_up{bind="0"} 1"#,
        "optgate_upstream_response_seconds_count 1",
        "optgate_added_latency_seconds_count 1",
        "# HELP optgate_pdus_total SMPP PDUs by side (platform, carrier), direction (in, out) and command.",
        "# TYPE optgate_added_latency_seconds histogram",
    ] {
        assert!(has_line(&text, line), "missing {line:?} in\n{text}");
    }
    // A latency histogram has the configured buckets, up to 10 s.
    assert!(
        has_line(&text, r#"optgate_added_latency_seconds_bucket{le="10"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("14155551234"),
        "a phone number leaked into a label"
    );

    // After the platform leaves, its bind gauge goes back to 0.
    drop(p);
    let deadline = tokio::time::Instant::now() + http::WAIT;
    loop {
        let t = http::get(d.admin_addr(), "/metrics").await.body;
        if has_line(&t, r#"optgate_binds{side="platform",account="pbx"} 0"#) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "gauge stuck:\n{t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.shutdown(Duration::from_secs(2)).await;
}
