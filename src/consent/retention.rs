//! Retention (`[store.retention]`): stored MOs and receipts (their PDUs
//! carry message text) are deleted after `message_bodies` (default 30
//! days), audit events after `events` (default 4 years, the TCPA
//! limitation period). Consent rows are never purged. Held messages,
//! optgate's own outbox and the webhook queue are bounded by their own
//! limits (`hold_ttl`, 24 h), all shorter than `message_bodies`.
//!
//! The purge deletes in small batches, each its own store transaction, so
//! the message path's transactions interleave with it in the store
//! thread's queue instead of waiting behind one long delete.

use std::time::Duration;

use tokio::sync::watch;

use crate::config::RetentionConfig;
use crate::store::{Durable, Store, StoreError, StoreTxn, TxnEnv};

/// Pause between two batches: room for the message path.
const BREATHER: Duration = Duration::from_millis(2);

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub events: u64,
    pub deliveries: u64,
    /// Store transactions it took.
    pub batches: u64,
}

/// Runs [`purge`] every `interval` until shutdown.
pub async fn run(store: Store, cfg: RetentionConfig, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now = crate::store::consent::now_ms();
        match purge(&store, &cfg, now).await {
            Ok(p) => {
                if p.events > 0 {
                    tracing::info!(events = p.events, batches = p.batches, "retention purge");
                }
                // A stored delivery still there was never taken by the
                // platform: acknowledged to the carrier and now given up.
                if p.deliveries > 0 {
                    tracing::warn!(
                        deliveries = p.deliveries,
                        older_than = %humantime::format_duration(cfg.message_bodies),
                        "retention purge deleted stored MOs/receipts the platform never took"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention purge failed; tried again later"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(cfg.interval) => {}
        }
    }
}

/// Deletes what `cfg` no longer keeps at `now_ms`, batch by batch.
pub async fn purge(
    store: &Store,
    cfg: &RetentionConfig,
    now_ms: i64,
) -> Result<Purged, StoreError> {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let events_before = now_ms.saturating_sub(ms(cfg.events));
    let bodies_before = now_ms.saturating_sub(ms(cfg.message_bodies)) / 1000;
    let batch = cfg.batch;
    let (events, b1) = drain(store, batch, "events", move |env| {
        env.purge_events(events_before, batch)
    })
    .await?;
    let (deliveries, b2) = drain(store, batch, "deliveries", move |env| {
        env.purge_deliveries(bodies_before, batch)
    })
    .await?;
    metrics::gauge!("optgate_stored_deliveries").decrement(deliveries as f64);
    let p = Purged {
        events,
        deliveries,
        batches: b1 + b2,
    };
    Ok(p)
}

/// Runs `one` (a batch of at most `batch` deletions) until a batch comes
/// back short; returns the rows deleted and the batches it took.
async fn drain<F>(
    store: &Store,
    batch: u32,
    what: &'static str,
    one: F,
) -> Result<(u64, u64), StoreError>
where
    F: Fn(&mut TxnEnv<'_>) -> Result<usize, StoreError> + Clone + Send + 'static,
{
    let (mut rows, mut batches) = (0u64, 0u64);
    loop {
        let f = one.clone();
        let n = store
            .transact(move |env| Ok((f(env)?, Durable::AfterCommit)))
            .await?;
        batches += 1;
        rows += n as u64;
        metrics::counter!("optgate_retention_purged_total", "what" => what).increment(n as u64);
        if n < batch as usize {
            return Ok((rows, batches));
        }
        tokio::time::sleep(BREATHER).await;
    }
}
