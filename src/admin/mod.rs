//! The admin HTTP surface on `[admin] listen` (DESIGN.md §6): `/metrics`,
//! `/healthz`, `/readyz`, the JSON consent API under `/api/v1` ([`api`])
//! and the consent log page at `/` ([`page`]). Runs on the daemon's tokio
//! runtime and stops with the daemon's shutdown signal. Write endpoints go
//! behind [`auth::require_token`].

pub mod api;
pub mod auth;
pub mod download;
pub mod error;
pub mod health;
pub mod html;
pub mod overview;
pub mod page;
pub mod query;
pub mod review;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::consent::Engine;
use crate::store::Store;
use crate::upstream::Pool;
pub use error::ApiError;

/// How often histogram samples are folded into their buckets when nobody
/// scrapes, so memory stays bounded.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What the handlers read.
#[derive(Clone)]
pub struct AdminState {
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Checked for writability by `/readyz`.
    pub store: Store,
    /// Carrier binds, counted by `/readyz`.
    pub pool: Arc<Pool>,
    /// `[admin] token`; empty: write API off.
    pub token: Arc<str>,
    /// The live campaigns (validation of API input) and the settler to
    /// wake after a consent change.
    pub engine: Arc<Engine>,
}

/// The admin routes. Unknown paths get a JSON 404.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(page::consent_log))
        .route("/consent.csv", get(download::consent_csv))
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(api::routes(&state.token))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` turns true, then lets
/// open requests finish (the caller bounds that with its grace period).
pub async fn serve(listener: TcpListener, state: AdminState, shutdown: watch::Receiver<bool>) {
    let upkeep = tokio::spawn(upkeep(state.metrics.clone(), shutdown.clone()));
    let app = router(state);
    let addr = listener.local_addr().ok();
    info!(listen = ?addr, "admin HTTP listening");
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(wait_for(shutdown))
        .await;
    if let Err(e) = result {
        warn!(error = %e, "admin HTTP server failed");
    }
    upkeep.abort();
}

async fn upkeep(handle: PrometheusHandle, shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    let stop = wait_for(shutdown);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

/// Resolves when `rx` holds true or its sender is gone.
async fn wait_for(mut rx: watch::Receiver<bool>) {
    // An error means the daemon dropped the sender: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}
