//! Sends optgate's own messages (responses, opt-in requests, footers,
//! released holds) to the carrier, oldest first, one at a time so a
//! recipient gets them in order. A row is deleted only after the carrier
//! accepted it; while the carrier is down or pushing back, it waits and
//! tries again; after [`MAX_AGE`] it gives up and records that.
//!
//! The opt-out confirmation is the exception: it is sent **at most once**
//! (47 CFR 64.1200(a)(12) allows one confirmation after an opt-out; a second
//! text to someone who just said STOP is what the rule forbids). Before it is
//! handed to a carrier bind, the row is marked `handed_at` and that mark is
//! committed; a marked row is never handed again. It is cleared only when
//! the attempt certainly did not leave (no bind took it, or the carrier
//! answered with a temporary refusal). A marked row found after a restart,
//! or an attempt that got no answer (response timeout, connection lost,
//! `ESME_RSYSERR`, which a bind also uses for those), is recorded as an
//! `uncertain` event and counted in `optgate_responses_uncertain_total`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::{mt::event_row, timeline, Engine};
use crate::pdu::{status, Pdu};
use crate::route::{Carrier, Outgoing, ReplyTo, ToPlatform, UpExtra, UpRequest};
use crate::store::consent::OutboxRow;
use crate::store::{Durable, StoreError, StoreTxn};

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

/// Kinds sent at most once: the opt-out confirmation. Every other message
/// of optgate's own is sent at least once.
fn at_most_once(kind: &str) -> bool {
    kind == "opt_out_response"
}

/// How one attempt ended.
enum Sent {
    Accepted,
    /// Certainly not accepted (no bind took it, or the carrier answered
    /// with a temporary refusal): worth sending again.
    Temporary,
    /// Handed to a bind but no answer came, or the answer was
    /// `ESME_RSYSERR` (which a bind also gives for a request lost with its
    /// connection): it may have reached the carrier.
    Unanswered,
    Refused(u32),
    /// An at-most-once message that may have left before (see module doc).
    MayHaveLeft,
    /// An opt-out confirmation past `opt_out_confirmation_deadline`: not
    /// sent late.
    Missed,
}

/// How soon the outbox looks again when it may not send (no carrier bind
/// yet, e.g. just after a restart, or another instance sends).
const CLAIM_RETRY: Duration = Duration::from_millis(250);

impl Engine {
    /// Runs until shutdown, sending through `pool` (the carrier binds).
    pub async fn outbox_loop(
        self: Arc<Self>,
        pool: Arc<dyn Carrier>,
        response_timeout: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (tx, mut rx) = mpsc::channel::<ToPlatform>(4);
        loop {
            if !self.outbox_claimed(&*pool).await {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(CLAIM_RETRY) => {}
                }
                continue;
            }
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
                let once = at_most_once(&row.kind);
                let outcome = if once && row.handed_at.is_some() {
                    Sent::MayHaveLeft
                } else if once && self.too_late(&row).await {
                    Sent::Missed
                } else if once
                    && !self
                        .mark_handed(row.id, Some(crate::store::consent::now_ms()))
                        .await
                {
                    break; // the mark did not commit: retry later, in order
                } else {
                    match self
                        .send_one(&*pool, &row, &tx, &mut rx, response_timeout)
                        .await
                    {
                        Sent::Unanswered if once => Sent::MayHaveLeft,
                        Sent::Unanswered => Sent::Temporary,
                        outcome => outcome,
                    }
                };
                match outcome {
                    Sent::Temporary => {
                        // It did not leave: an at-most-once row may go again.
                        // (A crash before this clear commits loses it: at
                        // most once, never twice.)
                        if once {
                            self.mark_handed(row.id, None).await;
                        }
                        break; // keep the order: retry this one first
                    }
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

    /// With several instances on one database, one sends the outbox: the
    /// holder of the claim `outbox` (ended by its death, so another takes
    /// over within [`CLAIM_RETRY`]), given up while it has no carrier bind so an
    /// instance that has one sends. Alone: always.
    async fn outbox_claimed(&self, pool: &dyn Carrier) -> bool {
        let Some(claims) = self.store().claims() else {
            return true;
        };
        if pool.binds_up() == 0 {
            claims.release("outbox");
            return false;
        }
        claims.claim("outbox").await
    }

    async fn send_one(
        &self,
        pool: &dyn Carrier,
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
            request: Outgoing::Pdu(Box::new(pdu)),
            reply: ReplyTo::new(tx.clone(), Arc::from(row.account.as_str())),
            extra: UpExtra::boxed(row.optgate_id.as_deref().map(Arc::from), Vec::new()),
            // Optgate's own (receipts absorbed) or released held messages
            // (receipts rewritten): always mapped.
            id_map: true,
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
            Some(resp) => match resp.command_status() {
                status::ESME_ROK => Sent::Accepted,
                status::ESME_RSYSERR => Sent::Unanswered,
                code if is_temporary(code) => Sent::Temporary,
                code => Sent::Refused(code),
            },
            None => Sent::Unanswered,
        }
    }

    /// Sets or clears an outbox row's `handed_at`; `true` once committed.
    async fn mark_handed(&self, id: i64, at: Option<i64>) -> bool {
        let r = self
            .store()
            .transact(move |env| {
                env.outbox_handed(id, at)?;
                Ok(((), Durable::AfterCommit))
            })
            .await;
        if let Err(e) = &r {
            tracing::warn!(error = %e, "outbox bookkeeping failed");
        }
        r.is_ok()
    }

    /// Whether an opt-out confirmation is past its deadline (counted from
    /// the STOP's receipt). A failed read is not late: the row is read
    /// again on the next attempt.
    async fn too_late(&self, row: &OutboxRow) -> bool {
        let deadline = self.config().confirm_deadline;
        let r = row.clone();
        let received = self
            .store()
            .transact(move |env| Ok((timeline::received(env, &r)?, Durable::Now)))
            .await
            .unwrap_or(row.created_at);
        timeline::past_deadline(received, crate::store::consent::now_ms(), deadline)
    }

    async fn finish(&self, row: OutboxRow, outcome: Sent) -> Result<(), StoreError> {
        let kind = row.kind.clone();
        let label = kind_label(&row.kind);
        let released = row.kind == "released";
        let refused = match outcome {
            Sent::Refused(code) => Some(code),
            _ => None,
        };
        let uncertain = matches!(outcome, Sent::MayHaveLeft);
        let missed = matches!(outcome, Sent::Missed);
        let deadline = self.config().confirm_deadline;
        let line = match outcome {
            Sent::MayHaveLeft => timeline::Outcome::Uncertain,
            Sent::Missed => timeline::Outcome::Missed,
            Sent::Refused(_) => timeline::Outcome::Failed,
            _ => timeline::Outcome::Sent(crate::store::consent::now_ms()),
        };
        self.store()
            .transact(move |env| {
                if at_most_once(&row.kind) {
                    timeline::record(env, &row, line, deadline)?;
                }
                env.outbox_done(row.id)?;
                let ids = row.optgate_id.as_deref().unwrap_or("");
                match refused {
                    None if missed => {
                        let why = format!(
                            "{kind} not sent: opt_out_confirmation_deadline {} passed",
                            humantime::format_duration(deadline)
                        );
                        event_row(env, &row.key, "missed", &why, ids)?;
                    }
                    None if uncertain => {
                        let why = format!("{kind} may have reached the carrier; not sent again");
                        event_row(env, &row.key, "uncertain", &why, ids)?;
                    }
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
            None if missed => {
                tracing::warn!("an opt-out confirmation missed its deadline and is not sent");
                metrics::counter!("optgate_responses_missed_total", "kind" => label).increment(1)
            }
            None if uncertain => metrics::counter!(
                "optgate_responses_uncertain_total", "kind" => label
            )
            .increment(1),
            Some(_) => metrics::counter!("optgate_mt_total", "outcome" => "failed").increment(1),
            None if released => {}
            None => metrics::counter!("optgate_responses_sent_total", "kind" => label).increment(1),
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
