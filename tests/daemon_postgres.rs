//! The daemon on the PostgreSQL backend, end to end: a fake carrier, a
//! platform, a real PostgreSQL server from the test kit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::Duration;

use common::postgres::Postgres;
use common::*;
use optgate::config::StoreBackend;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Body, Pdu};

const CAMPAIGN: &str = r#"
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

const OPT_IN_REQUEST: &str = "ACME: Reply START to receive messages from ACME. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";
const OPTED_IN: &str = "ACME: You are now opted-in. For help, reply HELP. To opt out, reply STOP";
const OPTED_OUT: &str = "ACME: You are now opted-out and will receive no further messages";

fn sent_to(c: &FakeCarrier, to: &str) -> Vec<String> {
    c.submits()
        .iter()
        .filter(
            |p| matches!(&p.body, Body::SubmitSm(s) if &s.destination_addr[..] == to.as_bytes()),
        )
        .map(text_of)
        .collect()
}

async fn wait_sent(c: &FakeCarrier, to: &str, n: usize) -> Vec<String> {
    wait_until(|| sent_to(c, to).len() >= n).await;
    sent_to(c, to)
}

async fn start(carrier: &FakeCarrier, dir: &std::path::Path, url: &str) -> (Daemon, Esme) {
    let mut cfg = config(&carrier.address(), dir, CAMPAIGN);
    cfg.store.backend = StoreBackend::Postgres;
    cfg.store.url = url.to_string();
    // No SQLite file may appear: everything goes to PostgreSQL.
    cfg.store.path = dir.join("must-not-exist.db").display().to_string();
    let d = common::start_daemon(carrier, &cfg).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        0
    );
    (d, p)
}

fn submit_to(to: &str, text: &str) -> Pdu {
    submit("14155550100", to, text)
}

#[tokio::test]
async fn consent_hold_release_stop_and_restart_on_postgres() {
    let pg = Postgres::start();
    let url = pg.create_db();
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = start(&carrier, dir.path(), &url).await;
    let to = "14155559001";

    // Unknown recipient: held, the opt-in request goes out.
    let (a, _) = p.request(submit_to(to, "held one")).await;
    assert_eq!(a.command_status, 0, "held messages are accepted");
    assert_eq!(wait_sent(&carrier, to, 1).await, [OPT_IN_REQUEST]);
    let held = d
        .store()
        .transact(|env| {
            let n = optgate::store::StoreTxn::count_held(env)?;
            Ok((n, optgate::store::Durable::Now))
        })
        .await
        .unwrap();
    assert_eq!(held, 1);

    // START from the carrier: opted in, the held message released.
    let r = carrier.deliver(mo(to, "14155550100", "START")).await;
    assert_eq!(r.command_status, 0);
    let m = p.expect_deliver().await;
    assert_eq!(text_of(&m), "START");
    p.ack(&m).await;
    assert_eq!(
        wait_sent(&carrier, to, 3).await,
        [OPT_IN_REQUEST, OPTED_IN, "held one"]
    );

    // Active: straight through.
    let (a, _) = p.request(submit_to(to, "direct")).await;
    assert_eq!(a.command_status, 0);
    assert_eq!(wait_sent(&carrier, to, 4).await[3], "direct");

    // STOP from the carrier: acknowledged only once committed; the next MT
    // is refused with the opted_out code.
    let r = carrier.deliver(mo(to, "14155550100", "STOP")).await;
    assert_eq!(r.command_status, 0);
    let m = p.expect_deliver().await;
    p.ack(&m).await;
    assert_eq!(wait_sent(&carrier, to, 5).await[4], OPTED_OUT);
    let (a, _) = p.request(submit_to(to, "after stop")).await;
    assert_eq!(a.command_status, 0x400, "opted_out");
    d.shutdown(Duration::from_secs(2)).await;
    drop(p);

    // A new daemon on the same database: the STOP still holds.
    let (d, mut p) = start(&carrier, dir.path(), &url).await;
    let (a, _) = p.request(submit_to(to, "after restart")).await;
    assert_eq!(a.command_status, 0x400, "STOP survives a restart");
    // And the rows are in PostgreSQL, not in a SQLite file.
    assert!(!dir.path().join("must-not-exist.db").exists());
    let events = d
        .store()
        .transact(|env| {
            let rows = optgate::store::StoreTxn::list_events(env, None, None, 100)?;
            Ok((rows, optgate::store::Durable::Now))
        })
        .await
        .unwrap();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == "consent_change")
        .map(|e| e.event.new_status.map(|s| s.as_str()))
        .collect();
    assert_eq!(
        changes,
        [Some("pending"), Some("active"), Some("refused")],
        "{events:#?}"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

/// Runs `optgate ARGS -c FILE` off the runtime (the command waits for the
/// daemon, whose tasks run on it, to confirm over the control socket).
async fn cli(file: &std::path::Path, args: &[&str]) -> std::process::Output {
    let file = file.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary::BIN)
            .args(&args)
            .arg("-c")
            .arg(&file)
            .env_remove("OPTGATE_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn command_line_on_postgres_reads_and_writes_the_daemons_store() {
    let pg = Postgres::start();
    let url = pg.create_db();
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = start(&carrier, dir.path(), &url).await;
    let to = "14155559401";
    // Decided from the store, then from the cache.
    opt_in_and_submit(&carrier, &mut p, to).await;

    // The same [store] as the daemon (its path names the control socket).
    let file = dir.path().join("cli.toml");
    std::fs::write(
        &file,
        format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npath = \"{}\"\n\
             [upstream]\naddress = \"127.0.0.1:1\"\nsystem_id = \"o\"\npassword = \"p\"\n{CAMPAIGN}",
            dir.path().join("must-not-exist.db").display()
        ),
    )
    .unwrap();
    let out = cli(
        &file,
        &[
            "consent",
            "set",
            "--campaign",
            "optin",
            "--sender",
            "14155550100",
            "--recipient",
            to,
            "--status",
            "refused",
            "--reason",
            "cli-test",
        ],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("did not confirm"), "{err}");
    assert_eq!(
        p.request(submit_to(to, "after cli")).await.0.command_status,
        0x400,
        "the very next message sees the command line's change"
    );

    let out = cli(&file, &["logs", "--recipient", to, "--format", "json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("\"refused\"") && logs.contains("cli-test"),
        "{logs}"
    );
    let out = cli(&file, &["events", "--recipient", to, "--format", "csv"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(events.contains("cli-test"), "{events}");
    let out = cli(&file, &["held"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("must-not-exist.db").exists());
    d.shutdown(Duration::from_secs(2)).await;

    // Server gone: the command says so in one line, exit 69.
    drop(pg);
    let out = cli(&file, &["logs"]).await;
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
}

#[tokio::test]
async fn a_change_from_another_connection_empties_the_cache_at_once() {
    let pg = Postgres::start();
    let url = pg.create_db();
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = start(&carrier, dir.path(), &url).await;
    let to = "14155559501";
    opt_in_and_submit(&carrier, &mut p, to).await;
    let key = optgate::store::consent::Key {
        campaign: "optin".into(),
        sender: "14155550100".into(),
        recipient: to.into(),
    };
    let cache = d.store().consent_cache().clone();
    wait_until(|| cache.contains(&key)).await;

    // A hand edit from elsewhere (no command line, no control socket).
    let edit_url = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = ::postgres::Client::connect(&edit_url, ::postgres::NoTls).unwrap();
        let n = c
            .execute(
                "UPDATE consent SET status = 'refused', source = 'psql' WHERE recipient = $1",
                &[&to],
            )
            .unwrap();
        assert_eq!(n, 1);
    })
    .await
    .unwrap();
    // Notified at once: well before the store thread's next periodic
    // batch (~1 s) or the entry's lifetime (10 s) would drop it.
    let t0 = std::time::Instant::now();
    while cache.contains(&key) {
        assert!(
            t0.elapsed() < Duration::from_millis(300),
            "the cache still holds the old row"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        p.request(submit_to(to, "after edit"))
            .await
            .0
            .command_status,
        0x400
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn postgres_down_mid_run_gives_temporary_errors_and_recovers() {
    let pg = Postgres::start();
    let url = pg.create_db();
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (d, mut p) = start(&carrier, dir.path(), &url).await;
    let admin = d.admin_addr();
    http::wait_status(admin, "/readyz", 200).await;
    let r = "14155559301";
    let ok = carrier.deliver(mo(r, "14155550100", "hello")).await;
    assert_eq!(ok.command_status, 0);
    assert_eq!(text_of(&p.take_deliver().await), "hello");

    // The server goes away (immediate shutdown, like a crash).
    pg.stop();
    let stop = carrier.deliver(mo(r, "14155550100", "STOP")).await;
    assert_eq!(
        stop.command_status,
        status::ESME_RX_T_APPN,
        "a STOP that can not be committed is not acknowledged"
    );
    let down = http::wait_status(admin, "/readyz", 503).await;
    assert!(down.body.contains("store"), "{}", down.body);
    let (a, _) = p
        .request(submit_to("14155559302", "needs a decision"))
        .await;
    assert!(
        [
            status::ESME_RSYSERR,
            status::ESME_RMSGQFUL,
            status::ESME_RTHROTTLED
        ]
        .contains(&a.command_status),
        "temporary error while the store is down, got {:#x}",
        a.command_status
    );
    assert!(p.try_recv(Duration::from_millis(200)).await.is_none());

    // Back on the same port: the daemon reconnects by itself.
    pg.start_server();
    http::wait_status(admin, "/readyz", 200).await;
    let stop = carrier.deliver(mo(r, "14155550100", "STOP")).await;
    assert_eq!(
        stop.command_status, 0,
        "the carrier's retry is acknowledged"
    );
    assert_eq!(text_of(&p.take_deliver().await), "STOP");
    let (a, _) = p.request(submit_to(r, "after")).await;
    assert_eq!(a.command_status, 0x400, "the STOP took effect");
    d.shutdown(Duration::from_secs(2)).await;
}

#[test]
fn unreachable_postgres_at_start_exits_69_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("optgate.toml");
    let text = binary::config_text(free_port(), free_port(), "127.0.0.1:9", dir.path(), 10, "");
    std::fs::write(&file, text).unwrap();
    let closed = free_port();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(binary::BIN)
        .args(["run", "-c"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .env("OPTGATE__STORE__BACKEND", "postgres")
        .env(
            "OPTGATE__STORE__URL",
            format!("postgres://optgate:hunter2@127.0.0.1:{closed}/optgate"),
        )
        .env_remove("OPTGATE_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "stderr:\n{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("store postgres://optgate:***@127.0.0.1:")
            && lines[0].contains("cannot connect to PostgreSQL: "),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "password in the log: {err}");

    // A bad URL is caught by the config check instead: exit 64.
    let out = std::process::Command::new(binary::BIN)
        .args(["check-config", "-c"])
        .arg(&file)
        .env("OPTGATE__STORE__BACKEND", "postgres")
        .env("OPTGATE__STORE__URL", "postgres://optgate@h:notaport/x")
        .env_remove("OPTGATE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("store.url: "));
}

/// START from the carrier (its MO delivered and acknowledged), then three
/// submits to `to`, each accepted: the cache is warm for that key.
async fn opt_in_and_submit(carrier: &FakeCarrier, p: &mut Esme, to: &str) {
    let r = carrier.deliver(mo(to, "14155550100", "START")).await;
    assert_eq!(r.command_status, 0);
    let m = p.expect_deliver().await;
    p.ack(&m).await;
    for text in ["one", "two", "three"] {
        assert_eq!(p.request(submit_to(to, text)).await.0.command_status, 0);
    }
}
