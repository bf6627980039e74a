//! The campaign overview on the consent page: per campaign its consent
//! counts, held messages, today's and the week's opt-outs and opt-ins, and
//! its settings as loaded, after real traffic through a running daemon.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::Duration;

use common::postgres::Backend;
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
    the_consent_page_opens_with_a_campaign_overview_on(Backend::Sqlite).await;
}

/// The same with the counts read from PostgreSQL.
#[tokio::test]
async fn on_postgres_the_consent_page_opens_with_a_campaign_overview() {
    the_consent_page_opens_with_a_campaign_overview_on(Backend::Postgres).await;
}

async fn the_consent_page_opens_with_a_campaign_overview_on(backend: Backend) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), EXTRA);
    backend.apply(&mut cfg);
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
    // Texts as the recipient reads them: {brand} and {start_word} filled.
    assert!(
        page.contains(
            "<dd>ACME &lt;Alerts&gt;: Reply START to receive messages from ACME &lt;Alerts&gt;."
        ),
        "{page}"
    );
    assert!(!page.contains("{brand}"), "{page}");
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

#[tokio::test]
async fn the_log_downloads_as_csv_under_its_filter() {
    the_log_downloads_as_csv_under_its_filter_on(Backend::Sqlite).await;
}

/// The same on PostgreSQL: the pages of a filtered listing (campaign and
/// status with a cursor) as PostgreSQL builds them.
#[tokio::test]
async fn on_postgres_the_log_downloads_as_csv_under_its_filter() {
    the_log_downloads_as_csv_under_its_filter_on(Backend::Postgres).await;
}

async fn the_log_downloads_as_csv_under_its_filter_on(backend: Backend) {
    use optgate::policy::ConsentStatus;
    use optgate::store::consent::Key;
    use optgate::store::{Durable, StoreTxn};
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), EXTRA);
    backend.apply(&mut cfg);
    let d = start_daemon(&carrier, &cfg).await;
    // 2,500 refused and 10 active rows: the download spans three store reads.
    d.store()
        .transact(|env| {
            for i in 0..2_510u32 {
                let key = Key {
                    campaign: "alerts".into(),
                    sender: "14155550100".into(),
                    recipient: format!("1415666{i:04}"),
                };
                let st = if i < 2_500 {
                    ConsentStatus::Refused
                } else {
                    ConsentStatus::Active
                };
                env.set_status(&key, st, "import, \"2024\"", "")?;
            }
            Ok(((), Durable::AfterCommit))
        })
        .await
        .unwrap();

    // The page links the download with its filter.
    let page = http::get(d.admin_addr(), "/?campaign=alerts&status=refused").await;
    assert!(
        page.body.contains(
            r#"<a class="download" href="/consent.csv?campaign=alerts&amp;status=refused">"#
        ),
        "{}",
        page.body
    );
    let csv = http::get(
        d.admin_addr(),
        "/consent.csv?campaign=alerts&status=refused",
    )
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .is_some_and(|v| v.starts_with("attachment")));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "campaign,sender,recipient,status,updated_at,source"
    );
    assert_eq!(lines.len(), 1 + 2_500);
    assert!(
        lines[1].starts_with("alerts,14155550100,14156660000,refused,20"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(r#","import, ""2024""""#), "{}", lines[1]);
    assert!(lines.iter().skip(1).all(|l| l.contains(",refused,")));
    let mut sorted = lines[1..].to_vec();
    sorted.dedup();
    assert_eq!(sorted.len(), 2_500, "no row twice");
    // A bad filter is a 400 before any byte of CSV.
    let bad = http::get(d.admin_addr(), "/consent.csv?recipient=not-a-number").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    d.shutdown(Duration::from_secs(2)).await;
}
