//! The JSON consent API and the consent log page of a running daemon:
//! every endpoint, the token guard, bad input, stable paging, and a change
//! made through the API taking effect on the very next submit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::net::SocketAddr;
use std::time::Duration;

use common::postgres::Backend;
use common::{config, submit, wait_until, Esme, FakeCarrier};
use optgate::daemon::Daemon;
use optgate::pdu::command as cmd;
use optgate::policy::ConsentStatus;
use optgate::store::consent::Key;
use optgate::store::{Durable, StoreTxn};
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-token";

/// `alerts`: number scope, require_opt_in; `news`: campaign scope.
fn extra(token: &str) -> String {
    format!(
        r#"token = "{token}"

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101", "14155550200"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100", "+1 415 555 0101"]
outbound_unknown = "require_opt_in"

[[campaigns]]
id = "news"
brand = "ACME News"
numbers = ["14155550200"]
consent_scope = "campaign"
"#
    )
}

struct Rig {
    carrier: FakeCarrier,
    d: Daemon,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database's URL (empty on SQLite).
    url: String,
}

impl Rig {
    async fn start(token: &str) -> Rig {
        Self::start_on(token, Backend::Sqlite).await
    }

    async fn start_on(token: &str, backend: Backend) -> Rig {
        let carrier = FakeCarrier::start().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(&carrier.address(), dir.path(), &extra(token));
        backend.apply(&mut cfg);
        let d = common::start_daemon(&carrier, &cfg).await;
        Rig {
            carrier,
            d,
            _dir: dir,
            url: cfg.store.url.clone(),
        }
    }

    fn admin(&self) -> SocketAddr {
        self.d.admin_addr()
    }

    async fn put(&self, path: &str, auth: Option<&str>, body: &Value) -> http::Reply {
        put_raw(self.admin(), path, auth, &body.to_string()).await
    }

    /// Sets a key directly in the store, as the engine would.
    async fn seed(&self, campaign: &str, sender: &str, recipient: &str, s: ConsentStatus) {
        let key = Key {
            campaign: campaign.into(),
            sender: sender.into(),
            recipient: recipient.into(),
        };
        self.d
            .store()
            .transact(move |env| {
                env.set_status(&key, s, "seed", "")?;
                Ok(((), Durable::AfterCommit))
            })
            .await
            .unwrap();
    }

    async fn stop(self) {
        self.d.shutdown(Duration::from_secs(2)).await;
    }
}

async fn put_raw(addr: SocketAddr, path: &str, auth: Option<&str>, body: &str) -> http::Reply {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    http::request_body(addr, "PUT", path, &headers, body).await
}

/// Asserts a JSON error with `status` whose message contains `part`.
fn assert_error(r: &http::Reply, status: u16, part: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let msg = r.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(msg.contains(part), "{msg:?} should mention {part:?}");
}

#[tokio::test]
async fn put_needs_the_token_and_lands_in_the_log_and_events() {
    put_needs_the_token_and_lands_in_the_log_and_events_on(Backend::Sqlite).await;
}

/// The same on the PostgreSQL backend.
#[tokio::test]
async fn on_postgres_put_needs_the_token_and_lands_in_the_log_and_events() {
    put_needs_the_token_and_lands_in_the_log_and_events_on(Backend::Postgres).await;
}

async fn put_needs_the_token_and_lands_in_the_log_and_events_on(backend: Backend) {
    let r = Rig::start_on(TOKEN, backend).await;
    let path = "/api/v1/consent/alerts/(415)%20555-0199";
    let body =
        json!({"status": "refused", "sender": "+1 415 555 0101", "reason": "asked by phone"});
    assert_error(&r.put(path, None, &body).await, 401, "missing");
    let wrong = r.put(path, Some("guess"), &body).await;
    assert_error(&wrong, 401, "invalid token");
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));

    let ok = r.put(path, Some(TOKEN), &body).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let v = ok.json();
    assert_eq!(
        v["recipient"], "14155550199",
        "numbers normalised like the CLI"
    );
    assert_eq!(v["sender"], "14155550101");
    assert_eq!(
        (v["old_status"].as_str(), v["new_status"].as_str()),
        (Some("none"), Some("refused"))
    );
    assert_eq!(v["source"], "api: asked by phone");
    let again = r.put(path, Some(TOKEN), &body).await.json();
    assert_eq!(again["changed"], false);

    let log = http::get(r.admin(), "/api/v1/consent?recipient=14155550199").await;
    assert_eq!(log.status, 200);
    let rows = log.json()["rows"].clone();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["status"], "refused");
    assert_eq!(rows[0]["source"], "api: asked by phone");
    assert!(rows[0]["updated_at"].as_str().unwrap().ends_with('Z'));

    let ev = http::get(
        r.admin(),
        "/api/v1/events?recipient=%2B14155550199&since=2020-01-01",
    )
    .await;
    assert_eq!(ev.status, 200, "{ev:?}");
    let events = ev.json()["events"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    assert_eq!(events[0]["kind"], "consent_change");
    assert_eq!(events[0]["old_status"], "none");
    assert_eq!(events[0]["new_status"], "refused");
    assert_eq!(events[0]["source"], "api: asked by phone");
    let later = http::get(r.admin(), "/api/v1/events?since=2999-01-01T00:00:00Z").await;
    assert_eq!(later.json()["events"], json!([]));

    // Campaign scope: no sender needed, none stored; no reason: source "api".
    let news = r
        .put(
            "/api/v1/consent/news/14155550199",
            Some(TOKEN),
            &json!({"status": "active"}),
        )
        .await;
    assert_eq!(news.status, 200, "{news:?}");
    assert_eq!(
        (
            news.json()["sender"].as_str(),
            news.json()["source"].as_str()
        ),
        (Some(""), Some("api"))
    );
    r.stop().await;
}

#[tokio::test]
async fn an_empty_token_turns_writes_off_but_not_reads() {
    let r = Rig::start("").await;
    let body = json!({"status": "refused", "sender": "14155550100"});
    let off = r
        .put(
            "/api/v1/consent/alerts/14155550199",
            Some("anything"),
            &body,
        )
        .await;
    assert_error(&off, 403, "[admin] token");
    assert_error(
        &r.put("/api/v1/consent/alerts/14155550199", None, &body)
            .await,
        403,
        "off",
    );
    let log = http::get(r.admin(), "/api/v1/consent").await;
    assert_eq!(log.status, 200);
    assert_eq!(log.json(), json!({"rows": [], "next_cursor": null}));
    r.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_json_400_and_the_store_stays_intact() {
    let r = Rig::start(TOKEN).await;
    r.seed(
        "alerts",
        "14155550100",
        "14155550111",
        ConsentStatus::Refused,
    )
    .await;
    let a = r.admin();
    let sender = json!({"status": "refused", "sender": "14155550100"});
    let puts: &[(&str, Value, &str)] = &[
        (
            "/api/v1/consent/nope/14155550111",
            sender.clone(),
            "unknown campaign \"nope\"",
        ),
        (
            "/api/v1/consent/alerts/1%27%3B%20DROP%20TABLE%20consent%3B--",
            sender.clone(),
            "is not a phone number",
        ),
        (
            "/api/v1/consent/alerts/14155550111",
            json!({"status": "refused"}),
            "give a sender",
        ),
        (
            "/api/v1/consent/alerts/14155550111",
            json!({"status": "refused", "sender": "14155550200"}),
            "is not a number of campaign",
        ),
        (
            "/api/v1/consent/alerts/14155550111",
            json!({"status": "pending", "sender": "14155550100"}),
            "expected active, refused or none",
        ),
        (
            "/api/v1/consent/alerts/14155550111",
            json!({"sender": "14155550100"}),
            "status",
        ),
        (
            "/api/v1/consent/alerts/14155550111",
            json!({"status": "active", "sender": "14155550100", "who": 1}),
            "who",
        ),
        (
            "/api/v1/consent/alerts/14155550111",
            json!({"status": "active", "sender": "14155550100", "reason": "x".repeat(501)}),
            "reason",
        ),
    ];
    for (path, body, part) in puts {
        assert_error(&r.put(path, Some(TOKEN), body).await, 400, part);
    }
    assert_error(
        &put_raw(
            a,
            "/api/v1/consent/alerts/14155550111",
            Some(TOKEN),
            "{not json",
        )
        .await,
        400,
        "body",
    );

    let gets: &[(&str, &str)] = &[
        (
            "/api/v1/consent?recipient=1%27%3B%20DROP%20TABLE%20consent%3B--",
            "is not a phone number",
        ),
        (
            "/api/v1/consent?sender=%3Cscript%3E",
            "is not a sender number",
        ),
        ("/api/v1/consent?campaign=nope", "unknown campaign"),
        (
            "/api/v1/consent?status=maybe",
            "expected active, pending or refused",
        ),
        ("/api/v1/consent?limit=0", "limit"),
        ("/api/v1/consent?limit=ten", "limit"),
        ("/api/v1/consent?limit=100000", "limit"),
        ("/api/v1/consent?cursor=zz", "cursor"),
        ("/api/v1/consent?cursor=%27%3B--", "cursor"),
        ("/api/v1/consent?colour=red", "colour"),
        ("/api/v1/events?since=yesterday", "since"),
        ("/api/v1/events?recipient=abc", "is not a phone number"),
        ("/api/v1/held?recipient=1;DROP", "is not a phone number"),
    ];
    for (path, part) in gets {
        assert_error(&http::get(a, path).await, 400, part);
    }
    assert_error(&http::get(a, "/api/v1/nothing").await, 404, "not found");

    // Nothing of the above changed the store: the seeded row is all there is.
    let rows = http::get(a, "/api/v1/consent").await.json()["rows"].clone();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["recipient"], "14155550111");
    assert_eq!(rows[0]["status"], "refused");
    r.stop().await;
}

#[tokio::test]
async fn paging_returns_every_row_once_in_order() {
    paging_returns_every_row_once_in_order_on(Backend::Sqlite).await;
}

/// The same on the PostgreSQL backend.
#[tokio::test]
async fn on_postgres_paging_returns_every_row_once_in_order() {
    paging_returns_every_row_once_in_order_on(Backend::Postgres).await;
}

async fn paging_returns_every_row_once_in_order_on(backend: Backend) {
    let r = Rig::start_on(TOKEN, backend).await;
    let mut want = Vec::new();
    for i in 0..25u32 {
        let recipient = format!("1415555{:04}", 3000 + i * 7 % 25);
        r.seed("alerts", "14155550100", &recipient, ConsentStatus::Active)
            .await;
        want.push(recipient);
    }
    want.sort();
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/api/v1/consent?limit=10&campaign=alerts".to_owned(),
            Some(c) => format!("/api/v1/consent?limit=10&campaign=alerts&cursor={c}"),
        };
        let v = http::get(r.admin(), &path).await.json();
        pages += 1;
        for row in v["rows"].as_array().unwrap() {
            got.push(row["recipient"].as_str().unwrap().to_owned());
        }
        if pages == 1 {
            // A row sorting before the cursor, added mid-paging, is not
            // served again on later pages and does not shift them.
            r.seed(
                "alerts",
                "14155550100",
                "14155550001",
                ConsentStatus::Refused,
            )
            .await;
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(got, want, "every row exactly once, in key order");
    r.stop().await;
}

#[tokio::test]
async fn a_put_takes_effect_for_the_very_next_submit() {
    a_put_takes_effect_for_the_very_next_submit_on(Backend::Sqlite).await;
}

/// The same on the PostgreSQL backend.
#[tokio::test]
async fn on_postgres_a_put_takes_effect_for_the_very_next_submit() {
    a_put_takes_effect_for_the_very_next_submit_on(Backend::Postgres).await;
}

async fn a_put_takes_effect_for_the_very_next_submit_on(backend: Backend) {
    let r = Rig::start_on(TOKEN, backend).await;
    let mut p = Esme::connect(r.d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    let to = "14155559001";

    // Unknown recipient under require_opt_in: held, opt-in request sent.
    let (held, _) = p.request(submit("14155550100", to, "held one")).await;
    assert_eq!(held.command_status, 0);
    r.carrier.wait_submits(1).await;
    let h = http::get(r.admin(), &format!("/api/v1/held?recipient={to}")).await;
    assert_eq!(h.status, 200);
    let list = h.json()["held"].clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        (list[0]["campaign"].as_str(), list[0]["parts"].as_i64()),
        (Some("alerts"), Some(1))
    );

    // Opt-in through the API releases the held message to the carrier.
    let body = json!({"status": "active", "sender": "14155550100"});
    let on = r
        .put(&format!("/api/v1/consent/alerts/{to}"), Some(TOKEN), &body)
        .await;
    assert_eq!(on.json()["old_status"], "pending", "{on:?}");
    let texts = |c: &FakeCarrier| c.submits().iter().map(common::text_of).collect::<Vec<_>>();
    wait_until(|| texts(&r.carrier).contains(&"held one".to_owned())).await;
    let mut tries = 0;
    while http::get(r.admin(), &format!("/api/v1/held?recipient={to}"))
        .await
        .json()["held"]
        != json!([])
    {
        tries += 1;
        assert!(tries < 500, "held message still listed after release");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Refused through the API: the very next submit is rejected.
    let body = json!({"status": "refused", "sender": "14155550100"});
    let off = r
        .put(&format!("/api/v1/consent/alerts/{to}"), Some(TOKEN), &body)
        .await;
    assert_eq!(off.status, 200);
    let before = r.carrier.submits().len();
    let (blocked, _) = p.request(submit("14155550100", to, "after refusal")).await;
    assert_eq!(blocked.command_status, 0x400, "opted_out");
    assert_eq!(
        r.carrier.submits().len(),
        before,
        "nothing went to the carrier"
    );

    // And back to active: the next one is forwarded.
    let body = json!({"status": "active", "sender": "14155550100"});
    r.put(&format!("/api/v1/consent/alerts/{to}"), Some(TOKEN), &body)
        .await;
    let (fwd, _) = p.request(submit("14155550100", to, "after opt-in")).await;
    assert_eq!(fwd.command_status, 0);
    assert!(texts(&r.carrier).contains(&"after opt-in".to_owned()));
    r.stop().await;
}

#[tokio::test]
async fn store_failures_are_503() {
    let r = Rig::start(TOKEN).await;
    r.d.store().close().await.unwrap();
    assert_error(&http::get(r.admin(), "/api/v1/consent").await, 503, "store");
    assert_error(&http::get(r.admin(), "/api/v1/events").await, 503, "store");
    let body = json!({"status": "refused", "sender": "14155550100"});
    assert_error(
        &r.put("/api/v1/consent/alerts/14155550199", Some(TOKEN), &body)
            .await,
        503,
        "store",
    );
    let page = http::get(r.admin(), "/").await;
    assert_eq!(page.status, 503);
    r.stop().await;
}

#[tokio::test]
async fn the_log_page_escapes_and_filters() {
    let r = Rig::start(TOKEN).await;
    r.seed(
        "alerts",
        "14155550100",
        "14155550111",
        ConsentStatus::Refused,
    )
    .await;
    r.seed(
        "alerts",
        "14155550100",
        "14155550122",
        ConsentStatus::Active,
    )
    .await;
    let key = Key {
        campaign: "alerts".into(),
        sender: "14155550100".into(),
        recipient: "14155550133".into(),
    };
    r.d.store()
        .transact(move |env| {
            let evil = "<script>alert('x')</script> & \"q\"";
            env.set_status(&key, ConsentStatus::Pending, evil, "")?;
            Ok(((), Durable::AfterCommit))
        })
        .await
        .unwrap();
    let page = http::get(r.admin(), "/").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(page
        .body
        .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
    for n in ["14155550111", "14155550122", "14155550133"] {
        assert!(page.body.contains(n));
    }
    let one = http::get(r.admin(), "/?recipient=%2B1+415+555+0111&status=&campaign=").await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(one.body.contains("14155550111") && one.body.contains(">Refused<"));
    assert!(!one.body.contains("14155550122"));
    let hist = http::get(r.admin(), "/?recipient=14155550111&history=1").await;
    assert!(hist.body.contains("History of 14155550111") && hist.body.contains("consent change"));
    let bad = http::get(r.admin(), "/?recipient=%3Cb%3E").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("&quot;&lt;b&gt;&quot; is not a phone number"),
        "{}",
        bad.body
    );
    r.stop().await;
}

/// On PostgreSQL the admin reads run on connections of their own (`[store]
/// pool_size`): a read stuck behind another session's lock leaves the store
/// thread committing, and the read completes once the lock goes.
#[tokio::test]
async fn on_postgres_a_stuck_admin_read_does_not_hold_up_the_store() {
    let r = Rig::start_on(TOKEN, Backend::Postgres).await;
    let ok = http::get(r.admin(), "/api/v1/events").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(r.d.store().idle_readers(), 1, "the read used the pool");

    // Another session holds the events table (reads wait too).
    let url = r.url.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        c.batch_execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv();
        c.batch_execute("ROLLBACK").unwrap();
    });
    locked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let addr = r.admin();
    let stuck = tokio::spawn(async move { http::get(addr, "/api/v1/events").await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The store thread commits meanwhile (a write to another table).
    tokio::time::timeout(Duration::from_secs(10), r.d.store().ping())
        .await
        .expect("the store thread is not held up by the read")
        .unwrap();
    assert!(!stuck.is_finished(), "the read waits for the lock");

    release_tx.send(()).unwrap();
    locker.join().unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), stuck)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, 200, "{got:?}");
    r.stop().await;
}
