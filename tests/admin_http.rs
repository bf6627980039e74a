//! The admin HTTP surface of a running daemon: health, readiness, errors,
//! and the bearer-token guard for write endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::time::Duration;

use axum::routing::post;
use axum::Router;
use common::{config, FakeCarrier, TWO_ACCOUNTS};
use optgate::admin::auth::require_token;
use optgate::daemon::Daemon;

async fn start(carrier: &FakeCarrier, dir: &std::path::Path) -> Daemon {
    let cfg = config(&carrier.address(), dir, TWO_ACCOUNTS);
    common::start_daemon(carrier, &cfg).await
}

#[tokio::test]
async fn healthz_answers_ok_even_without_a_carrier() {
    // Nothing listens at this carrier address: the daemon is alive, not ready.
    let gone = FakeCarrier::start().await.kill().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&gone.to_string(), dir.path(), TWO_ACCOUNTS);
    let d = Daemon::start(&cfg, None).await.expect("daemon starts");
    let r = http::get(d.admin_addr(), "/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "ok");
    let r = http::get(d.admin_addr(), "/readyz").await;
    assert_eq!(r.status, 503);
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn readyz_follows_the_carrier_bind() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let admin = d.admin_addr();

    let up = http::wait_status(admin, "/readyz", 200).await;
    assert_eq!(up.json()["ready"], true);
    assert_eq!(up.json()["carrier_binds_up"], 1);

    let addr = carrier.kill().await;
    let down = http::wait_status(admin, "/readyz", 503).await;
    assert_eq!(
        down.header("content-type"),
        Some("application/json"),
        "{down:?}"
    );
    let body = down.json();
    assert_eq!(body["error"], "not ready");
    assert_eq!(
        body["reasons"],
        serde_json::json!(["no carrier bind is up"])
    );

    let _back = FakeCarrier::start_on(&addr.to_string()).await;
    http::wait_status(admin, "/readyz", 200).await;
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn readyz_reports_a_store_that_cannot_write() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    http::wait_status(d.admin_addr(), "/readyz", 200).await;
    d.store().close().await.expect("store closes");
    let r = http::get(d.admin_addr(), "/readyz").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.json()["reasons"],
        serde_json::json!(["store is not writable"])
    );
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unknown_paths_get_a_json_404_and_metrics_is_text() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let r = http::get(d.admin_addr(), "/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), serde_json::json!({ "error": "not found" }));
    let m = http::get(d.admin_addr(), "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn admin_listener_stops_with_the_daemon() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&carrier, dir.path()).await;
    let admin = d.admin_addr();
    assert_eq!(http::get(admin, "/healthz").await.status, 200);
    d.shutdown(Duration::from_secs(2)).await;
    assert!(
        tokio::net::TcpStream::connect(admin).await.is_err(),
        "admin port still accepts after shutdown"
    );
}

/// Serves a guarded POST route with `token` on 127.0.0.1:0.
async fn guarded(token: &str) -> std::net::SocketAddr {
    let writes = Router::new().route("/api/write", post(|| async { "written" }));
    let app = Router::new()
        .route("/api/read", axum::routing::get(|| async { "read" }))
        .merge(require_token(writes, token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn bearer_guard_checks_write_routes_only() {
    let addr = guarded("s3cret").await;
    let ok = http::request(
        addr,
        "POST",
        "/api/write",
        &[("Authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "written"));

    let missing = http::request(addr, "POST", "/api/write", &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    assert!(missing.json()["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));

    let wrong = http::request(
        addr,
        "POST",
        "/api/write",
        &[("Authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        serde_json::json!({ "error": "invalid token" })
    );

    // Routes merged outside the guard need no token.
    assert_eq!(http::get(addr, "/api/read").await.status, 200);
}

#[tokio::test]
async fn empty_token_turns_writes_off() {
    let addr = guarded("").await;
    let r = http::request(addr, "POST", "/api/write", &[("Authorization", "Bearer ")]).await;
    assert_eq!(r.status, 403);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("write API is off")));
}

/// Every metric named in the source is listed (with HELP) in telemetry.
#[test]
fn every_emitted_metric_is_described() {
    let listed: Vec<&str> = optgate::telemetry::METRICS.iter().map(|m| m.name).collect();
    let mut stack = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("!(\"optgate_") {
                let rest = &text[i + 3..];
                let name = &rest[..rest.find('"').unwrap()];
                if name.contains("_test_") {
                    continue;
                }
                seen += 1;
                assert!(
                    listed.contains(&name),
                    "{name} in {path:?} is not in telemetry::METRICS"
                );
            }
        }
    }
    assert!(seen >= 10, "found only {seen} metric call sites");
}

/// The Grafana dashboard queries only metrics that exist, and shows each
/// metric DESIGN.md §6 names.
#[test]
fn dashboard_queries_known_metrics() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grafana/optgate.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let listed: Vec<&str> = optgate::telemetry::METRICS.iter().map(|m| m.name).collect();
    let mut used = std::collections::BTreeSet::new();
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("optgate_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let base = name.strip_suffix("_bucket").unwrap_or(&name).to_string();
                assert!(
                    listed.contains(&base.as_str()),
                    "dashboard queries unknown {name}"
                );
                used.insert(base);
            }
        }
    }
    for m in &listed {
        assert!(used.contains(*m), "dashboard does not show {m}");
    }
}
