//! Executing one batch's requests inside its transaction: each write in
//! its own savepoint, runs of delivery stores and deletes as one statement,
//! and the answers recorded for after the commit.

use super::{answer, Batch, Ctx, JobCall, Request};
use crate::store::backend::BatchTxn;
use crate::store::txn::StoreTxn;
use crate::store::{DeliveryKind, StoreError};

/// Executes each request inside `tx`, each write in its own savepoint so a
/// failing request leaves no partial effect. Returns the error that aborted
/// the whole transaction, if the database abandoned it.
pub(super) fn execute_all(
    tx: &mut dyn BatchTxn,
    requests: &mut Vec<Request>,
    batch: &mut Batch,
    ctx: &Ctx,
) -> Result<(), StoreError> {
    let mut pending = std::mem::take(requests).into_iter().peekable();
    while let Some(req) = pending.next() {
        // Consecutive stores or deletes of deliveries go as one statement
        // (one savepoint); a failure replays them one by one.
        let group = match req {
            Request::Enqueue { .. } => Some(true),
            Request::Ack { .. } => Some(false),
            _ => None,
        };
        let same = |next: Option<&Request>| {
            matches!(
                (group, next),
                (Some(true), Some(Request::Enqueue { .. }))
                    | (Some(false), Some(Request::Ack { .. }))
            )
        };
        if same(pending.peek()) {
            let mut run = vec![req];
            while same(pending.peek()) {
                run.extend(pending.next());
            }
            execute_run(tx, run, batch, ctx);
        } else {
            execute(tx, req, batch, ctx);
        }
        if let Some(e) = tx.aborted() {
            requests.extend(pending);
            return Err(e);
        }
    }
    Ok(())
}

/// A run of [`Request::Enqueue`] or of [`Request::Ack`] in one statement
/// ([`StoreTxn::insert_deliveries`], [`StoreTxn::delete_deliveries`]).
/// Stores beyond `max_stored_deliveries` are refused as single ones are; if
/// the statement fails, the run is executed request by request, so only
/// the failing one fails.
fn execute_run(tx: &mut dyn BatchTxn, run: Vec<Request>, batch: &mut Batch, ctx: &Ctx) {
    if matches!(run.first(), Some(Request::Ack { .. })) {
        let ids: Vec<u64> = run
            .iter()
            .filter_map(|r| match r {
                Request::Ack { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        let Ok(gone) = in_savepoint(tx, |t| t.delete_deliveries(&ids)) else {
            return run.into_iter().for_each(|r| execute(tx, r, batch, ctx));
        };
        for (req, gone) in run.into_iter().zip(gone) {
            if let Request::Ack { reply, .. } = req {
                batch.stored_delta -= i64::from(gone);
                batch.answers.push(answer(reply, Ok(gone)));
            }
        }
        return;
    }
    let now = ctx.stored.saturating_add_signed(batch.stored_delta);
    let room = usize::try_from(ctx.limit.saturating_sub(now)).unwrap_or(usize::MAX);
    let mut run = run;
    let over = run.split_off(room.min(run.len()));
    refuse_full(over, batch, ctx);
    if run.is_empty() {
        return;
    }
    let rows: Vec<(&str, DeliveryKind, &[u8])> = run
        .iter()
        .filter_map(|r| match r {
            Request::Enqueue {
                account, kind, pdu, ..
            } => Some((account.as_str(), *kind, pdu.as_slice())),
            _ => None,
        })
        .collect();
    let stored = in_savepoint(tx, |t| t.insert_deliveries(&rows));
    drop(rows);
    match stored {
        Ok(ids) => {
            for (req, id) in run.into_iter().zip(ids) {
                if let Request::Enqueue { reply, .. } = req {
                    batch.stored_delta += 1;
                    batch.answers.push(answer(reply, Ok(id)));
                }
            }
        }
        Err(_) => run.into_iter().for_each(|r| execute(tx, r, batch, ctx)),
    }
}

/// Answers stores beyond `max_stored_deliveries` with [`StoreError::Full`].
fn refuse_full(over: Vec<Request>, batch: &mut Batch, ctx: &Ctx) {
    for req in over {
        if let Request::Enqueue { reply, .. } = req {
            let full = StoreError::Full { limit: ctx.limit };
            batch.answers.push(answer(reply, Err(full)));
        }
    }
}

/// Runs `f` in a savepoint: kept in the transaction on success, rolled
/// back on error.
pub(super) fn in_savepoint<T>(
    tx: &mut dyn BatchTxn,
    f: impl FnOnce(&mut dyn StoreTxn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.savepoint()?;
    match f(tx.as_txn()) {
        Ok(value) => {
            tx.release()?;
            Ok(value)
        }
        Err(e) => {
            if let Err(u) = tx.rollback_to_savepoint() {
                tracing::error!(error = %u, "rolling back a failed store request failed");
            }
            Err(e)
        }
    }
}

fn execute(tx: &mut dyn BatchTxn, req: Request, batch: &mut Batch, ctx: &Ctx) {
    let a = match req {
        Request::Wake => return,
        Request::LookupId { carrier_id, reply } => {
            answer(reply, tx.lookup_message_id(&carrier_id, ctx.ttl))
        }
        Request::Enqueue {
            account,
            kind,
            pdu,
            reply,
        } => {
            let now = ctx.stored.saturating_add_signed(batch.stored_delta);
            let r = if now >= ctx.limit {
                Err(StoreError::Full { limit: ctx.limit })
            } else {
                in_savepoint(tx, |t| t.insert_delivery(&account, kind, &pdu))
            };
            if r.is_ok() {
                batch.stored_delta += 1;
            }
            answer(reply, r)
        }
        Request::Pending {
            account,
            from_id,
            limit: max,
            reply,
        } => answer(reply, tx.pending_deliveries(&account, from_id, max)),
        Request::Ack { id, reply } => {
            let r = in_savepoint(tx, |t| t.delete_delivery(id));
            if matches!(r, Ok(true)) {
                batch.stored_delta -= 1;
            }
            answer(reply, r)
        }
        Request::Count { reply } => answer(
            reply,
            Ok(ctx.stored.saturating_add_signed(batch.stored_delta)),
        ),
        Request::Ping { reply } => answer(reply, in_savepoint(tx, |t| t.touch())),
        Request::Flush { reply } => answer(reply, Ok(())),
        Request::Close { reply } => {
            batch.close = Some(reply);
            return;
        }
        Request::Txn(job) => {
            job(JobCall::Run(tx, batch, ctx));
            return;
        }
    };
    batch.answers.push(a);
}

/// Records a request that is not executed: its answer is `Closed`, or the
/// batch's commit failure when the batch failed.
pub(super) fn skip(req: Request, batch: &mut Batch) {
    let a = match req {
        Request::Wake => return,
        Request::Close { reply } => {
            batch.close = Some(reply);
            return;
        }
        Request::LookupId { reply, .. } => answer(reply, Err(StoreError::Closed)),
        Request::Enqueue { reply, .. } => answer(reply, Err(StoreError::Closed)),
        Request::Pending { reply, .. } => answer(reply, Err(StoreError::Closed)),
        Request::Ack { reply, .. } => answer(reply, Err(StoreError::Closed)),
        Request::Count { reply } => answer(reply, Err(StoreError::Closed)),
        Request::Ping { reply } | Request::Flush { reply } => {
            answer(reply, Err(StoreError::Closed))
        }
        Request::Txn(job) => {
            job(JobCall::Skip(batch));
            return;
        }
    };
    batch.answers.push(a);
}
