//! The first scrape of a fresh daemon already has every series whose label
//! values are known in advance, at 0, so dashboards and `increase()` alerts
//! see the first event. Metrics are global to the process, so this binary
//! holds exactly one test and one daemon, which nothing talks to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use common::{config, TWO_ACCOUNTS};

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[tokio::test]
async fn a_fresh_daemon_exports_known_series_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    // No carrier listens there: nothing moves, the carrier bind stays down.
    let nowhere = format!("127.0.0.1:{}", common::free_port());
    let cfg = config(&nowhere, dir.path(), TWO_ACCOUNTS);
    let d = optgate::daemon::Daemon::start(&cfg, None).await.unwrap();

    let text = http::get(d.admin_addr(), "/metrics").await.body;
    let mut want: Vec<String> = Vec::new();
    for o in [
        "forwarded",
        "blocked",
        "held",
        "released",
        "expired",
        "purged",
        "failed",
    ] {
        want.push(format!(r#"optgate_mt_total{{outcome="{o}"}} 0"#));
    }
    for c in ["opt_out", "opt_in", "help", "probable_opt_out"] {
        want.push(format!(r#"optgate_keywords_total{{class="{c}"}} 0"#));
    }
    for t in ["active", "pending", "refused", "none"] {
        want.push(format!(r#"optgate_consent_changes_total{{to="{t}"}} 0"#));
    }
    for k in [
        "opt_in_request",
        "opt_in_response",
        "opt_out_response",
        "help",
        "footer",
    ] {
        want.push(format!(r#"optgate_responses_sent_total{{kind="{k}"}} 0"#));
    }
    for a in ["pbx", "crm"] {
        want.push(format!(
            r#"optgate_binds{{side="platform",account="{a}"}} 0"#
        ));
    }
    for s in ["platform", "carrier"] {
        want.push(format!(r#"optgate_inflight_requests{{side="{s}"}} 0"#));
        for dir in ["in", "out"] {
            for c in ["submit_sm", "deliver_sm_resp", "bind_transceiver", "unbind"] {
                want.push(format!(
                    r#"optgate_pdus_total{{side="{s}",direction="{dir}",command="{c}"}} 0"#
                ));
            }
        }
    }
    want.extend(
        [
            r#"optgate_connections_refused_total{reason="max_connections"} 0"#,
            r#"optgate_upstream_up{bind="0"} 0"#,
            "optgate_failed_binds_total 0",
            "optgate_unroutable_total 0",
            "optgate_held_messages 0",
            "optgate_stored_deliveries 0",
        ]
        .map(String::from),
    );
    for line in &want {
        assert!(has_line(&text, line), "missing {line:?} in\n{text}");
    }

    // An account added by a reload is there at once too.
    let extra = format!(
        "{TWO_ACCOUNTS}\n[[server.accounts]]\nsystem_id = \"late\"\npassword = \"x\"\nnumbers = [\"14155550300\"]\n"
    );
    d.reload(&config(&nowhere, dir.path(), &extra));
    let text = http::get(d.admin_addr(), "/metrics").await.body;
    let line = r#"optgate_binds{side="platform",account="late"} 0"#;
    assert!(has_line(&text, line), "missing {line:?} in\n{text}");
    d.shutdown(std::time::Duration::from_secs(2)).await;
}
