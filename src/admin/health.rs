//! `/healthz`, `/readyz` and `/metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AdminState;

/// How long `/readyz` waits for the store to prove it is writable.
pub const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Alive: answers while the process runs and the runtime serves requests.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the store commits a write within [`STORE_CHECK_TIMEOUT`] and at
/// least one carrier bind is up. 200 `{"ready":true,...}`, else 503
/// `{"error":"not ready","reasons":[...]}`.
pub async fn readyz(State(state): State<AdminState>) -> Response {
    let store_ok = tokio::time::timeout(STORE_CHECK_TIMEOUT, state.store.is_writable())
        .await
        .unwrap_or(false);
    let binds_up = state.pool.binds_up();
    let mut reasons = Vec::new();
    if !store_ok {
        reasons.push("store is not writable".to_string());
    }
    if binds_up == 0 {
        reasons.push("no carrier bind is up".to_string());
    }
    if reasons.is_empty() {
        let body = serde_json::json!({
            "ready": true,
            "carrier_binds_up": binds_up,
            "instance": state.store.instance(),
        });
        (StatusCode::OK, Json(body)).into_response()
    } else {
        let body = serde_json::json!({
            "error": "not ready",
            "reasons": reasons,
            "instance": state.store.instance(),
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// The Prometheus text exposition of every metric.
pub async fn metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = state.metrics.render();
            crate::telemetry::render_own(&mut text);
            text
        },
    )
        .into_response()
}
