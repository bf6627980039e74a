//! Sends optgate's own messages (responses, opt-in requests, footers,
//! released holds) to the carrier, oldest first, one at a time so a
//! recipient gets them in order. A row is deleted only after the carrier
//! accepted it; while the carrier is down or pushing back, it waits and
//! tries again; after [`MAX_AGE`] it gives up and records that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::{mt::event_row, Engine};
use crate::pdu::{status, Pdu};
use crate::route::{Outgoing, ReplyTo, ToPlatform, UpRequest};
use crate::store::consent::OutboxRow;
use crate::store::{Durable, StoreError, StoreTxn};
use crate::upstream::Pool;

/// How long an undeliverable message of optgate's own is retried.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Pause after a temporary failure (carrier down, throttled).
const RETRY: Duration = Duration::from_millis(500);

/// Statuses after which a message is worth sending again.
fn is_temporary(code: u32) -> bool {
    matches!(
        code,
        status::ESME_RTHROTTLED
            | status::ESME_RMSGQFUL
            | status::ESME_RSYSERR
            | status::ESME_RX_T_APPN
    )
}

/// How one attempt ended.
enum Sent {
    Accepted,
    Temporary,
    Refused(u32),
}

impl Engine {
    /// Runs until shutdown.
    pub async fn outbox_loop(
        self: Arc<Self>,
        pool: Arc<Pool>,
        response_timeout: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (tx, mut rx) = mpsc::channel::<ToPlatform>(4);
        loop {
            let rows = match self
                .store()
                .transact(|env| Ok((env.outbox_pending(0, 50)?, Durable::Now)))
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the outbox failed");
                    Vec::new()
                }
            };
            let mut progress = false;
            for row in rows {
                if *shutdown.borrow() {
                    return;
                }
                match self
                    .send_one(&pool, &row, &tx, &mut rx, response_timeout)
                    .await
                {
                    Sent::Temporary => break, // keep the order: retry this one first
                    outcome => {
                        progress = true;
                        if let Err(e) = self.finish(row, outcome).await {
                            tracing::warn!(error = %e, "outbox bookkeeping failed");
                        }
                    }
                }
            }
            if progress {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.outbox_wake.notified() => {}
                _ = tokio::time::sleep(if pool.binds_up() == 0 { RETRY } else { Duration::from_secs(1) }) => {}
            }
        }
    }

    async fn send_one(
        &self,
        pool: &Pool,
        row: &OutboxRow,
        tx: &mpsc::Sender<ToPlatform>,
        rx: &mut mpsc::Receiver<ToPlatform>,
        timeout: Duration,
    ) -> Sent {
        let age = crate::store::consent::now_ms().saturating_sub(row.created_at);
        if age > i64::try_from(MAX_AGE.as_millis()).unwrap_or(i64::MAX) {
            return Sent::Refused(status::ESME_RSYSERR);
        }
        let Ok(pdu) = Pdu::decode(Bytes::from(row.pdu.clone())) else {
            return Sent::Refused(status::ESME_RSYSERR);
        };
        let req = UpRequest {
            request: Outgoing::Pdu(pdu),
            reply: ReplyTo::new(tx.clone(), Arc::from(row.account.as_str())),
            optgate_id: row.optgate_id.as_deref().map(Arc::from),
            unsuccess: Vec::new(),
            received: Instant::now(),
        };
        if !pool.submit(req) {
            return Sent::Temporary;
        }
        let answer = match tokio::time::timeout(timeout + Duration::from_secs(1), rx.recv()).await {
            Ok(Some(ToPlatform::Response(resp))) => Some(resp),
            // One request in flight: a batch can only hold its answer.
            Ok(Some(ToPlatform::Responses(resps))) => resps.into_iter().next(),
            _ => None,
        };
        match answer {
            Some(resp) if resp.command_status == status::ESME_ROK => Sent::Accepted,
            Some(resp) if is_temporary(resp.command_status) => Sent::Temporary,
            Some(resp) => Sent::Refused(resp.command_status),
            None => Sent::Temporary,
        }
    }

    async fn finish(&self, row: OutboxRow, outcome: Sent) -> Result<(), StoreError> {
        let kind = row.kind.clone();
        let refused = match outcome {
            Sent::Refused(code) => Some(code),
            _ => None,
        };
        self.store()
            .transact(move |env| {
                env.outbox_done(row.id)?;
                let ids = row.optgate_id.as_deref().unwrap_or("");
                match refused {
                    Some(code) => {
                        let why =
                            format!("carrier refused {kind}: {}", crate::pdu::status_name(code));
                        event_row(env, &row.key, "failed", &why, ids)?;
                    }
                    // The audit trail shows every message optgate itself sent.
                    None => event_row(env, &row.key, "sent", &kind, ids)?,
                }
                Ok(((), Durable::Now))
            })
            .await?;
        match refused {
            Some(_) => metrics::counter!("optgate_mt_total", "outcome" => "failed").increment(1),
            None if row.kind == "released" => {}
            None => {
                metrics::counter!("optgate_responses_sent_total", "kind" => kind_label(&row.kind))
                    .increment(1)
            }
        }
        Ok(())
    }
}

/// Bounded label values for the responses metric.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "opt_in_request" => "opt_in_request",
        "opt_in_response" => "opt_in_response",
        "opt_out_response" => "opt_out_response",
        "help" => "help",
        "footer" => "footer",
        _ => "other",
    }
}
