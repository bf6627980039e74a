//! Review of probable opt-outs through the real daemon: the phrase is
//! recorded, listed by `GET /api/v1/events?kind=probable_opt_out`,
//! `optgate events --kind probable_opt_out` and the console; the admin API
//! and `optgate consent review` turn one into an opt-out (source `review`),
//! and the next submit is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::process::Command;
use std::time::Duration;

use common::*;
use optgate::pdu::command as cmd;

const TOKEN: &str = "rev-token";

const EXTRA: &str = r#"token = "rev-token"

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "prevent"
opt_out_scope = "brand"

[[campaigns]]
id = "promo"
brand = "ACME"
numbers = ["14155550101"]
outbound_unknown = "prevent"
"#;

async fn start() -> (
    FakeCarrier,
    optgate::daemon::Daemon,
    Esme,
    tempfile::TempDir,
) {
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
    // The same configuration as a file, for the command line.
    let text = format!(
        "[upstream]\naddress = \"{}\"\nsystem_id = \"optgate\"\npassword = \"secret\"\n\
         [store]\npath = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n{EXTRA}",
        carrier.address(),
        dir.path().join("optgate.db").display()
    );
    std::fs::write(dir.path().join("optgate.toml"), text).unwrap();
    (carrier, d, p, dir)
}

async fn say(c: &FakeCarrier, p: &mut Esme, from: &str, to: &str, text: &str) {
    assert_eq!(c.deliver(mo(from, to, text)).await.command_status, 0);
    let m = p.expect_deliver().await;
    p.ack(&m).await;
}

async fn post(addr: std::net::SocketAddr, path: &str, auth: bool, body: &str) -> http::Reply {
    let bearer = format!("Bearer {TOKEN}");
    let mut headers = vec![("content-type", "application/json")];
    if auth {
        headers.push(("authorization", bearer.as_str()));
    }
    http::request_body(addr, "POST", path, &headers, body).await
}

fn probable_ids(v: &serde_json::Value, recipient: &str) -> Vec<i64> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["recipient"] == recipient)
        .map(|e| {
            assert_eq!(e["kind"], "probable_opt_out");
            e["id"].as_i64().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_reviewed_probable_opt_out_becomes_an_opt_out_through_the_api() {
    let (c, d, mut p, _dir) = start().await;
    let to = "14155559601";
    say(&c, &mut p, to, "14155550100", "START").await;
    say(&c, &mut p, to, "14155550101", "START").await;
    say(&c, &mut p, to, "14155550100", "please stop texting me").await;
    // Recorded, not acted on (phrase_opt_out = "flag").
    assert_eq!(
        p.request(submit("14155550100", to, "hi"))
            .await
            .0
            .command_status,
        0
    );

    let admin = d.admin_addr();
    let list = http::get(admin, "/api/v1/events?kind=probable_opt_out").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let ids = probable_ids(&list.json(), to);
    assert_eq!(ids.len(), 1);
    let id = ids[0];
    let page = http::get(admin, "/").await;
    assert!(
        page.body.contains("Probable opt-outs to review"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("<td>{id}</td>")),
        "listed on the console"
    );

    // The write is behind the token.
    let r = post(admin, &format!("/api/v1/events/{id}/review"), false, "").await;
    assert_eq!(r.status, 401);
    // Only a probable opt-out can be reviewed; an unknown id is a 404.
    let r = post(
        admin,
        &format!("/api/v1/events/{}/review", id + 10_000),
        true,
        "",
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = post(
        admin,
        &format!("/api/v1/events/{}/review", id - 1),
        true,
        "",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);

    let r = post(
        admin,
        &format!("/api/v1/events/{id}/review"),
        true,
        r#"{"reason":"ticket 42"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["old_status"], "active");
    assert_eq!(v["new_status"], "refused");
    assert_eq!(v["source"], "review: ticket 42");
    assert_eq!(v["revoked"], 1, "opt_out_scope = brand reaches promo");
    // The very next submit, on both campaigns of the brand, is refused.
    assert_eq!(
        p.request(submit("14155550100", to, "hi"))
            .await
            .0
            .command_status,
        0x400
    );
    assert_eq!(
        p.request(submit("14155550101", to, "hi"))
            .await
            .0
            .command_status,
        0x400
    );
    let page = http::get(admin, "/").await;
    assert!(
        !page.body.contains(&format!("<td>{id}</td>")),
        "reviewed: off the list"
    );
    // No confirmation text for a review: only the two opt-in responses went out.
    assert_eq!(
        c.submits().len(),
        3,
        "two opt-in responses and one forwarded MT"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn optgate_consent_review_on_the_command_line() {
    let (c, d, mut p, dir) = start().await;
    let to = "14155559602";
    say(&c, &mut p, to, "14155550100", "START").await;
    say(&c, &mut p, to, "14155550100", "Stop. Thank you").await;
    let file = dir.path().join("optgate.toml");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_optgate"))
            .args(args)
            .arg("-c")
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["events", "--kind", "probable_opt_out", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["recipient"], to);
    let id = rows[0]["id"].as_i64().unwrap().to_string();

    let (code, _, err) = run(&["consent", "review", "--event", "999999"]);
    assert_eq!(code, Some(64), "unknown event is a usage error: {err}");
    assert!(err.contains("no event 999999"), "{err}");
    let (code, out, err) = run(&["consent", "review", "--event", &id]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("active → refused (review)"), "{out}");
    // The command returns after the daemon dropped its cached row.
    assert_eq!(
        p.request(submit("14155550100", to, "hi"))
            .await
            .0
            .command_status,
        0x400
    );
    let (_, out, _) = run(&["events", "--recipient", to, "--kind", "consent_change"]);
    assert!(out.contains("review"), "{out}");
    d.shutdown(Duration::from_secs(2)).await;
}
