//! The campaign overview on the consent page: per campaign its consent
//! counts, held messages, today's and the week's opt-outs and opt-ins, and
//! its settings as loaded, after real traffic through a running daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::Duration;

use common::*;
use optgate::pdu::command as cmd;

const EXTRA: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550200"]

[[campaigns]]
id = "alerts"
brand = "ACME <Alerts>"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"

[[campaigns]]
id = "news"
brand = "ACME News"
numbers = ["14155550200"]
consent_scope = "campaign"
"#;

/// The text of the element with `class` inside the card of `campaign`.
fn cell(page: &str, campaign: &str, class: &str) -> String {
    let card = page
        .split(r#"<div class="card""#)
        .find(|c| c.starts_with(&format!(r#" data-campaign="{campaign}""#)))
        .unwrap_or_else(|| panic!("no card for {campaign} in\n{page}"));
    let at = card.find(&format!(r#"class="{class}">"#)).unwrap() + class.len() + 9;
    card[at..card[at..].find('<').unwrap() + at].to_owned()
}

#[tokio::test]
async fn the_consent_page_opens_with_a_campaign_overview() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&carrier.address(), dir.path(), EXTRA);
    let d = start_daemon(&carrier, &cfg).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    // A first message to a new recipient: held, pending.
    let (r, _) = p
        .request(submit("14155550100", "14155551001", "hello"))
        .await;
    assert_eq!(r.command_status, 0);
    // One phone opts out, another opts in.
    for (from, text) in [("14155551002", "STOP"), ("14155551003", "START")] {
        let resp = carrier.deliver(mo(from, "14155550100", text)).await;
        assert_eq!(resp.command_status, 0);
    }

    let page = http::get(d.admin_addr(), "/").await;
    assert_eq!(page.status, 200);
    let page = page.body;
    for (class, want) in [
        ("n-active", "1"),
        ("n-pending", "1"),
        ("n-refused", "1"),
        ("n-held", "1"),
        ("n-optouts", "1 / 1"),
        ("n-optins", "1 / 1"),
    ] {
        assert_eq!(cell(&page, "alerts", class), want, "{class}");
    }
    for class in ["n-active", "n-pending", "n-refused", "n-held"] {
        assert_eq!(cell(&page, "news", class), "0", "{class}");
    }
    assert_eq!(cell(&page, "news", "n-optouts"), "0 / 0");
    // Settings as loaded, escaped.
    assert!(page.contains("ACME &lt;Alerts&gt;"), "{page}");
    assert!(page.contains("<dd>require_opt_in</dd>"), "{page}");
    assert!(page.contains("<dd>14155550100</dd>"), "{page}");
    assert!(!page.contains("<Alerts>"));
    // The chart: today's bars, no script and nothing external.
    assert!(
        page.contains(r#"<span class="key in">opt-ins 1</span>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<span class="key out">opt-outs 1</span>"#),
        "{page}"
    );
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    assert_eq!(
        svg.matches("<rect").count(),
        2 * optgate::admin::overview::CHART_DAYS
    );
    assert_eq!(svg.matches("<title>1</title>").count(), 2, "{svg}");
    assert!(!page.contains("<script") && !page.contains("src=\"http"));
    // The held message, with its age and expiry.
    let held = &page[page.find(r#"<section class="held">"#).unwrap()..];
    assert!(held.contains("(1 waiting for opt-in)"), "{held}");
    assert!(held.contains("<td>14155551001</td>"), "{held}");
    assert!(held.contains("<td>23h 59m"), "expires in a day: {held}");
    // A filtered page is the log alone.
    let filtered = http::get(d.admin_addr(), "/?status=refused").await.body;
    assert!(!filtered.contains(r#"class="overview""#), "{filtered}");
    assert!(filtered.contains("14155551002"));
    d.shutdown(Duration::from_secs(2)).await;
}
