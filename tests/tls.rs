//! SMPP over TLS on both sides (DESIGN.md §8), with certificates made at
//! test time: a platform over optgate's TLS listener, client certificates
//! and account pinning, a carrier that speaks only TLS, and the failures
//! (wrong CA, wrong name, expired, no client certificate, plain SMPP on the
//! TLS port, a ClientHello on the plain port, a stalled handshake), each
//! with a bounded outcome, counted by reason, other sessions unaffected.
//! Metrics are global to the process: the tests read counters as deltas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::{Duration, Instant};

use common::certs::{self, Ca};
use common::*;
use optgate::pdu::{command as cmd, status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn accounts() -> &'static str {
    r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[server.accounts]]
system_id = "secure"
password = "secret"
numbers = ["14155550300"]
require_tls = true
"#
}

/// Value of one metric line (0 when absent).
async fn metric(d: &optgate::daemon::Daemon, series: &str) -> f64 {
    let m = http::get(d.admin_addr(), "/metrics").await;
    m.body
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

fn failures(side: &str, reason: &str) -> String {
    format!(r#"optgate_tls_handshake_failures_total{{side="{side}",reason="{reason}"}} "#)
}

struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    server: certs::Files,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "optgate-test");
    let server = ca.leaf("server", "localhost", &["localhost", "127.0.0.1"]);
    Pki { dir, ca, server }
}

fn tls_section(p: &Pki, client_ca: &str) -> String {
    format!(
        r#"
[server.tls]
listen = "127.0.0.1:0"
cert = "{}"
key = "{}"
client_ca = "{client_ca}"
"#,
        p.server.cert(),
        p.server.key()
    )
}

async fn tls_esme(d: &optgate::daemon::Daemon, cfg: std::sync::Arc<rustls::ClientConfig>) -> Esme {
    let s = certs::connect(d.tls_addr().unwrap(), cfg, "localhost")
        .await
        .expect("TLS handshake");
    Esme::over(s)
}

#[tokio::test]
async fn a_platform_submits_over_tls_and_require_tls_refuses_plain_binds() {
    let p = pki();
    let carrier = FakeCarrier::start().await;
    let extra = format!("{}{}", accounts(), tls_section(&p, ""));
    let cfg = config(&carrier.address(), p.dir.path(), &extra);
    let d = start_daemon(&carrier, &cfg).await;

    let mut e = tls_esme(&d, p.ca.client_config(None)).await;
    let r = e.bind(cmd::BIND_TRANSCEIVER, "secure", "secret").await;
    assert_eq!(r.command_status, status::ESME_ROK, "TLS bind");
    let (a, _) = e
        .request(submit("14155550300", "14155551234", "over TLS"))
        .await;
    assert_eq!(a.command_status, status::ESME_ROK);
    let got = carrier.wait_submits(1).await;
    assert_eq!(text_of(&got[0]), "over TLS");

    // The same account over the plain listener: ESME_RBINDFAIL.
    let mut plain = Esme::connect(d.smpp_addr()).await;
    let r = plain.bind(cmd::BIND_TRANSCEIVER, "secure", "secret").await;
    assert_eq!(r.command_status, status::ESME_RBINDFAIL);
    // Another account still binds over plain TCP.
    let mut plain = Esme::connect(d.smpp_addr()).await;
    let r = plain.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, status::ESME_ROK);

    // An MO for the TLS account reaches it over TLS.
    carrier
        .deliver(mo("14155551234", "14155550300", "hello back"))
        .await;
    let m = e.take_deliver().await;
    assert_eq!(text_of(&m), "hello back");

    let expiry = metric(
        &d,
        r#"optgate_tls_certificate_expiry_seconds{side="platform",role="server"} "#,
    )
    .await;
    assert!(expiry > 365.0 * 86400.0, "expiry gauge {expiry}");
}

#[tokio::test]
async fn client_certificates_are_required_and_pinned() {
    let p = pki();
    let clients = Ca::new(p.dir.path(), "platforms");
    let good = clients.leaf("pbx-client", "pbx.example.com", &["pbx.example.com"]);
    let other = clients.leaf("other-client", "other.example.com", &[]);
    let stranger_ca = Ca::new(p.dir.path(), "stranger");
    let stranger = stranger_ca.leaf("stranger-client", "pbx.example.com", &[]);
    let carrier = FakeCarrier::start().await;
    let extra = format!(
        r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
tls_client_name = "pbx.example.com"
{}"#,
        tls_section(&p, &clients.path())
    );
    let cfg = config(&carrier.address(), p.dir.path(), &extra);
    let d = start_daemon(&carrier, &cfg).await;

    // The right certificate binds.
    let mut ok = tls_esme(&d, p.ca.client_config(Some(&good))).await;
    let r = ok.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, status::ESME_ROK);

    // A certificate of the right CA naming someone else: handshake, then
    // the bind is refused.
    let mut wrong = tls_esme(&d, p.ca.client_config(Some(&other))).await;
    let r = wrong.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, status::ESME_RBINDFAIL);

    // No client certificate, and one from another CA: the handshake fails
    // (with TLS 1.3 the client learns it at its first read).
    for (client, reason) in [
        (None, "no_client_certificate"),
        (Some(&stranger), "unknown_ca"),
    ] {
        let before = metric(&d, &failures("platform", reason)).await;
        let refused = match certs::connect(
            d.tls_addr().unwrap(),
            p.ca.client_config(client),
            "localhost",
        )
        .await
        {
            Err(_) => true,
            Ok(s) => {
                let mut e = Esme::over(s);
                e.send(&common::bind_pdu("pbx", "secret")).await;
                e.try_recv(WAIT).await.is_none()
            }
        };
        assert!(refused, "{reason}: session went on");
        wait_metric_above(&d, &failures("platform", reason), before).await;
    }

    // The good session was not disturbed.
    let (a, _) = ok
        .request(submit("14155550100", "14155551234", "still here"))
        .await;
    assert_eq!(a.command_status, status::ESME_ROK);
}

async fn wait_metric_above(d: &optgate::daemon::Daemon, series: &str, before: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = metric(d, series).await;
        if now > before {
            return;
        }
        assert!(Instant::now() < deadline, "{series} stayed at {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn wrong_protocols_and_stalled_handshakes_get_bounded_outcomes() {
    let p = pki();
    let carrier = FakeCarrier::start().await;
    let extra = format!("{}{}", accounts(), tls_section(&p, ""));
    let cfg = config(&carrier.address(), p.dir.path(), &extra);
    let d = start_daemon(&carrier, &cfg).await;
    let mut good = tls_esme(&d, p.ca.client_config(None)).await;
    assert_eq!(
        good.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        status::ESME_ROK
    );

    // Plain SMPP sent to the TLS port: closed, counted as not_tls.
    let before = metric(&d, &failures("platform", "not_tls")).await;
    let mut plain = Esme::over(
        tokio::net::TcpStream::connect(d.tls_addr().unwrap())
            .await
            .unwrap(),
    );
    plain.send(&common::bind_pdu("pbx", "secret")).await;
    assert!(plain.closed().await, "plain SMPP on the TLS port is closed");
    wait_metric_above(&d, &failures("platform", "not_tls"), before).await;

    // A TLS ClientHello sent to the plain port: not SMPP, the connection
    // is answered with an error or closed; the daemon carries on.
    let hello = certs::connect(d.smpp_addr(), p.ca.client_config(None), "localhost");
    let r = tokio::time::timeout(WAIT, hello).await;
    assert!(matches!(r, Ok(Err(_))), "TLS to the plain port must fail");

    // A handshake that stalls (TCP open, nothing sent) is closed at
    // bind_timeout (2 s in the test config) and counted as a timeout.
    let before = metric(&d, &failures("platform", "timeout")).await;
    let started = Instant::now();
    let mut stalled = tokio::net::TcpStream::connect(d.tls_addr().unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, stalled.read(&mut buf)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "closed: {n:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "closed after {took:?}"
    );
    wait_metric_above(&d, &failures("platform", "timeout"), before).await;

    // A client that does not trust optgate's certificate refuses it.
    let stranger = Ca::new(p.dir.path(), "stranger");
    let r = certs::connect(
        d.tls_addr().unwrap(),
        stranger.client_config(None),
        "localhost",
    )
    .await;
    assert!(
        r.is_err(),
        "a client with another CA must refuse the server"
    );
    // And one that expects another name.
    let r = certs::connect(
        d.tls_addr().unwrap(),
        p.ca.client_config(None),
        "smsc.example.net",
    )
    .await;
    assert!(r.is_err(), "the wrong name must be refused");

    // Through all of it, the bound session kept working.
    let (a, _) = good
        .request(submit("14155550100", "14155551234", "unaffected"))
        .await;
    assert_eq!(a.command_status, status::ESME_ROK);
    let _ = stalled.write_all(b"x").await;
}

const PBX: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;

fn carrier_tls(ca: &str, name: &str) -> String {
    format!(
        r#"
[upstream.tls]
enabled = true
ca = "{ca}"
server_name = "{name}"
"#
    )
}

#[tokio::test]
async fn optgate_binds_to_a_tls_carrier_and_refuses_one_it_cannot_verify() {
    let p = pki();
    let tls = optgate::tls::server_config(&p.server.cert(), &p.server.key(), "").unwrap();
    let carrier = FakeCarrier::start_tls(tls.config.clone()).await;
    let extra = format!("{PBX}{}", carrier_tls(&p.ca.path(), "localhost"));
    let cfg = config(&carrier.address(), p.dir.path(), &extra);
    let d = start_daemon(&carrier, &cfg).await;
    let mut e = Esme::connect(d.smpp_addr()).await;
    assert_eq!(
        e.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        status::ESME_ROK
    );
    let (a, _) = e
        .request(submit("14155550100", "14155551234", "to a TLS carrier"))
        .await;
    assert_eq!(a.command_status, status::ESME_ROK);
    assert_eq!(
        text_of(&carrier.wait_submits(1).await[0]),
        "to a TLS carrier"
    );
    carrier
        .deliver(mo("14155551234", "14155550100", "MO over TLS"))
        .await;
    assert_eq!(text_of(&e.take_deliver().await), "MO over TLS");
    let expiry = metric(
        &d,
        r#"optgate_tls_certificate_expiry_seconds{side="carrier",role="server"} "#,
    )
    .await;
    assert!(expiry > 365.0 * 86400.0, "carrier expiry gauge {expiry}");

    // A carrier whose certificate is expired, or for another name, or from
    // a CA optgate does not trust: no bind, counted by reason, retried.
    let expired =
        p.ca.issue("expired", "localhost", &["localhost"], (2015, 2020));
    let stranger = Ca::new(p.dir.path(), "stranger");
    let cases = [
        (
            optgate::tls::server_config(&expired.cert(), &expired.key(), "").unwrap(),
            p.ca.path(),
            "expired",
        ),
        (tls.clone(), p.ca.path(), "wrong_name"),
        (tls.clone(), stranger.path(), "unknown_ca"),
    ];
    for (server, ca, reason) in cases {
        let bad = FakeCarrier::start_tls(server.config.clone()).await;
        let name = if reason == "wrong_name" {
            "smsc.example.net"
        } else {
            "localhost"
        };
        let dir = tempfile::tempdir().unwrap();
        let extra = format!("{PBX}{}", carrier_tls(&ca, name));
        let cfg = config(&bad.address(), dir.path(), &extra);
        let before = metric(&d, &failures("carrier", reason)).await;
        let d2 = optgate::daemon::Daemon::start(&cfg, None)
            .await
            .expect("starts");
        // Two attempts counted: the bind is retried with the usual backoff.
        wait_metric_above(&d2, &failures("carrier", reason), before + 1.0).await;
        assert_eq!(d2.upstream_binds_up(), 0, "{reason}: no bind");
        assert_eq!(
            bad.log.lock().unwrap().binds,
            0,
            "{reason}: carrier saw no bind"
        );
        d2.shutdown(Duration::from_secs(1)).await;
    }
}

/// The names on the certificate a TLS client was shown.
fn served_names(s: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<String> {
    let der = s.get_ref().1.peer_certificates().unwrap()[0].clone();
    optgate::tls::facts(&der).unwrap().names
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_sessions() {
    let p = pki();
    let port = free_port();
    let extra = format!(
        r#"{PBX}
[server.tls]
listen = "127.0.0.1:{port}"
cert = "{}"
key = "{}"
"#,
        p.server.cert(),
        p.server.key()
    );
    let s = common::binary::Setup::new(&extra).await;
    let og = s.start().await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let old = certs::connect(addr, p.ca.client_config(None), "localhost")
        .await
        .unwrap();
    assert!(served_names(&old).contains(&"localhost".to_string()));
    let mut session = Esme::over(old);
    assert_eq!(
        session
            .bind(cmd::BIND_TRANSCEIVER, "pbx", "secret")
            .await
            .command_status,
        status::ESME_ROK
    );

    // New files in place, then SIGHUP: new handshakes see the new certificate.
    let renewed =
        p.ca.leaf("renewed", "renewed.localhost", &["localhost", "127.0.0.1"]);
    std::fs::copy(&renewed.cert, &p.server.cert).unwrap();
    std::fs::copy(&renewed.key, &p.server.key).unwrap();
    og.signal("-HUP");
    og.wait_log("configuration reloaded", 1).await;
    let new = certs::connect(addr, p.ca.client_config(None), "localhost")
        .await
        .unwrap();
    assert!(
        served_names(&new).contains(&"renewed.localhost".to_string()),
        "{:?}",
        served_names(&new)
    );
    // The session from before the reload keeps working.
    let (a, _) = session
        .request(submit("14155550100", "14155551234", "across the reload"))
        .await;
    assert_eq!(a.command_status, status::ESME_ROK);

    // A broken certificate file is refused like any invalid reload; the
    // certificate in force stays.
    std::fs::write(&p.server.cert, "not a certificate").unwrap();
    og.signal("-HUP");
    og.wait_log("reload refused", 1).await;
    assert!(og.log().contains("server.tls.cert"), "{}", og.log());
    let still = certs::connect(addr, p.ca.client_config(None), "localhost")
        .await
        .unwrap();
    assert!(served_names(&still).contains(&"renewed.localhost".to_string()));
    drop(og);
}

/// Days since 1970-01-01 → (year, month, day), as rcgen takes them.
fn civil(days: i64) -> (i32, u8, u8) {
    let (y, m, d) = optgate::pdu::receipt::civil_from_days(days);
    (y as i32, m as u8, d as u8)
}

#[test]
fn check_config_warns_of_a_certificate_expiring_within_14_days() {
    let p = pki();
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    let (y, m, d) = civil(today + 6);
    let (y0, m0, d0) = civil(today - 30);
    let soon =
        p.ca.issue_dates("soon", "localhost", (y0, m0, d0), (y, m, d));
    let file = p.dir.path().join("optgate.toml");
    let text = common::binary::config_text(
        free_port(),
        free_port(),
        "127.0.0.1:2775",
        p.dir.path(),
        10,
        &format!(
            "{PBX}\n[server.tls]\nlisten = \"127.0.0.1:{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            free_port(),
            soon.cert(),
            soon.key()
        ),
    );
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(common::binary::BIN)
        .args(["check-config", "-c"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: server.tls.cert") && stderr.contains("expires in 5 days"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("tls listen:"));
}
