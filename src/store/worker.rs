//! The store thread: owns the [`Backend`] and runs group commits. Written
//! once for every backend: batching, write-behind id rows, savepoints per
//! request, answers after the commit, the delivery count and the counters.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::backend::{Backend, BatchTxn};

mod execute;
use super::cache::ConsentCache;
use super::consent::Key;
use super::{
    Counters, DeliveryKind, Durable, MessageOwner, Reply, StoreError, StoreOptions, StoredDelivery,
    TxnEnv,
};
use execute::{execute_all, in_savepoint, skip};

/// How long the store thread lets id map rows gather before it commits a
/// batch that holds nothing else (the most a crash can lose of them, plus
/// one commit).
const WRITE_BEHIND_GATHER: Duration = Duration::from_millis(2);
/// ... unless this many are waiting.
const WRITE_BEHIND_ROWS: usize = 5_000;
/// How often the gathering looks for other requests.
const GATHER_POLL: Duration = Duration::from_micros(100);
/// How often expired id map rows are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// Id map rows deleted per purge step; steps interleave with batches so a
/// large backlog never stalls requests for long.
const PURGE_CHUNK: u32 = 5_000;

/// One buffered id map row (see `Store::map_message_id`).
#[derive(Debug)]
pub(super) struct IdRow {
    pub(super) carrier_id: bytes::Bytes,
    pub(super) account: Arc<str>,
    pub(super) optgate_id: Option<Arc<str>>,
}

/// Id map rows waiting for the next batch.
pub(super) type IdBuffer = Arc<std::sync::Mutex<Vec<IdRow>>>;

/// What the async side shares with the store thread.
pub(super) struct Shared {
    pub(super) counters: Arc<Counters>,
    pub(super) cache: Arc<ConsentCache>,
    pub(super) ids: IdBuffer,
}

/// One request to the store thread.
pub(super) enum Request {
    /// Id map rows are buffered: run a batch to write them.
    Wake,
    LookupId {
        carrier_id: String,
        reply: Reply<Option<MessageOwner>>,
    },
    Enqueue {
        account: String,
        kind: DeliveryKind,
        pdu: Vec<u8>,
        reply: Reply<u64>,
    },
    Pending {
        account: String,
        from_id: u64,
        limit: u32,
        reply: Reply<Vec<StoredDelivery>>,
    },
    Ack {
        id: u64,
        reply: Reply<bool>,
    },
    Count {
        reply: Reply<u64>,
    },
    Ping {
        reply: Reply<()>,
    },
    Flush {
        reply: Reply<()>,
    },
    Close {
        reply: Reply<()>,
    },
    /// A closure run inside the batch transaction (see `Store::transact`).
    Txn(Job),
}

/// The body of a [`Request::Txn`].
pub(super) type Job = Box<dyn for<'a> FnOnce(JobCall<'a>) + Send>;

/// How a [`Job`] is called: run inside the batch, or not run at all (the
/// batch could not begin, or the store closed), when its waiter still gets
/// the batch's failure (or `Closed`) instead of a dropped reply.
pub(super) enum JobCall<'a> {
    Run(&'a mut dyn BatchTxn, &'a mut Batch, &'a Ctx),
    Skip(&'a mut Batch),
}

/// Builds the job of `Store::transact`: runs `f` in a savepoint, then
/// answers at once or after the commit, as `f` asks.
pub(super) fn txn_job<T, F>(f: F, reply: Reply<T>) -> Job
where
    T: Send + 'static,
    F: FnOnce(&mut TxnEnv<'_>) -> Result<(T, Durable), StoreError> + Send + 'static,
{
    Box::new(move |call| {
        let (tx, batch, ctx) = match call {
            JobCall::Run(tx, batch, ctx) => (tx, batch, ctx),
            JobCall::Skip(batch) => {
                batch.answers.push(answer(reply, Err(StoreError::Closed)));
                return;
            }
        };
        let mut added = 0i64;
        // The batch's scratch list (its memory reused by every job).
        let mut written = std::mem::take(&mut batch.written);
        let stored = ctx.stored.saturating_add_signed(batch.stored_delta);
        let r = in_savepoint(tx, |t| {
            let mut env = TxnEnv {
                epoch: ctx.cache.epoch(),
                txn: t,
                cache: &ctx.cache,
                written: &mut written,
                stored,
                limit: ctx.limit,
                added: &mut added,
            };
            f(&mut env)
        });
        // Before its answer goes out (and before anything else runs), drop
        // the cached rows this work wrote, even if it was rolled back.
        for k in written.drain(..) {
            ctx.cache.invalidate(&k);
        }
        batch.written = written;
        match r {
            Ok((v, Durable::Now)) => {
                batch.stored_delta += added;
                let _ = reply.send(Ok(v));
            }
            Ok((v, Durable::AfterCommit)) => {
                batch.stored_delta += added;
                batch.answers.push(answer(reply, Ok(v)));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    })
}

/// Sends a request's result once the batch's fate is known: a commit
/// failure replaces every result, so nothing uncommitted is acknowledged.
type Answer = Box<dyn FnOnce(Option<&StoreError>)>;

fn answer<T: 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Answer {
    Box::new(move |failed| {
        let out = match failed {
            Some(e) => Err(e.clone()),
            None => result,
        };
        // The waiter may have gone away (cancelled); nothing to do then.
        let _ = reply.send(out);
    })
}

struct Worker<B> {
    backend: B,
    cache: Arc<ConsentCache>,
    ids: IdBuffer,
    /// The buffer taken by the running batch (kept to reuse its memory).
    taken: Vec<IdRow>,
    opts: StoreOptions,
    counters: Arc<Counters>,
    /// Committed number of stored deliveries (kept here: COUNT(*) per
    /// enqueue would scan the table).
    stored: u64,
    purge_due: bool,
    last_purge: Instant,
}

/// What a batch needs to know about the committed state.
pub(super) struct Ctx {
    cache: Arc<ConsentCache>,
    stored: u64,
    limit: u64,
    ttl: Duration,
}

/// Per-batch state that only becomes real if the batch commits.
#[derive(Default)]
pub(super) struct Batch {
    answers: Vec<Answer>,
    stored_delta: i64,
    write_behind: u64,
    close: Option<Reply<()>>,
    /// Consent keys the running job wrote (see `TxnEnv`); empty between jobs.
    written: Vec<Key>,
}

/// The store thread's body: open, then serve batches until closed or every
/// [`super::Store`] handle is dropped.
pub(super) fn run<B: Backend>(
    opts: StoreOptions,
    open: impl FnOnce(&StoreOptions) -> Result<B, StoreError>,
    mut rx: mpsc::Receiver<Request>,
    shared: Shared,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let mut worker = match open(&opts).and_then(|b| Worker::new(b, opts, shared)) {
        Ok(w) => w,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut requests = Vec::with_capacity(worker.opts.batch_max);
    while let Some(first) = rx.blocking_recv() {
        let write_behind_only = matches!(first, Request::Wake);
        requests.push(first);
        if write_behind_only {
            worker.gather(&mut rx, &mut requests);
        }
        // Stop draining at a Close: what was queued after it is refused.
        while requests.len() < worker.opts.batch_max
            && !matches!(requests.last(), Some(Request::Close { .. }))
        {
            match rx.try_recv() {
                Ok(r) => requests.push(r),
                Err(_) => break,
            }
        }
        if let Some((close, result)) = worker.run_batch(&mut requests) {
            rx.close();
            while let Ok(late) = rx.try_recv() {
                refuse(late);
            }
            drop(worker);
            let _ = close.send(result);
            return;
        }
        worker.purge_step();
    }
}

/// Answers a request that arrived after Close with `StoreError::Closed`.
fn refuse(req: Request) {
    let mut batch = Batch::default();
    skip(req, &mut batch);
    for a in batch.answers {
        a(None);
    }
    if let Some(reply) = batch.close {
        let _ = reply.send(Err(StoreError::Closed));
    }
}

impl<B: Backend> Worker<B> {
    fn new(mut backend: B, opts: StoreOptions, shared: Shared) -> Result<Self, StoreError> {
        let Shared {
            counters,
            cache,
            ids,
        } = shared;
        let stored = backend.count_deliveries()?;
        tracing::info!(store = %backend.describe(), stored, "store opened");
        Ok(Worker {
            backend,
            cache,
            ids,
            taken: Vec::new(),
            opts,
            counters,
            stored,
            purge_due: true,
            last_purge: Instant::now(),
        })
    }

    /// Only id map rows are waiting and nobody waits for them: lets more
    /// gather (up to [`WRITE_BEHIND_GATHER`] or [`WRITE_BEHIND_ROWS`]) so one
    /// commit — a WAL append and an fsync — carries them. Any other request
    /// ends the wait at once (within [`GATHER_POLL`]) and joins the batch.
    fn gather(&self, rx: &mut mpsc::Receiver<Request>, requests: &mut Vec<Request>) {
        let until = Instant::now() + WRITE_BEHIND_GATHER;
        loop {
            match rx.try_recv() {
                Ok(Request::Wake) => {}
                Ok(other) => {
                    requests.push(other);
                    return;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) => {
                    let rows = self.ids.lock().map_or(0, |v| v.len());
                    if rows >= WRITE_BEHIND_ROWS || Instant::now() >= until {
                        return;
                    }
                    std::thread::sleep(GATHER_POLL);
                }
            }
        }
    }

    /// Runs `requests` in one transaction, commits once, then answers them.
    /// Returns the Close reply (and the batch result) when a Close was seen.
    fn run_batch(
        &mut self,
        requests: &mut Vec<Request>,
    ) -> Option<(Reply<()>, Result<(), StoreError>)> {
        let count = requests.len() as u64;
        self.counters.requests.fetch_add(count, Ordering::Relaxed);
        let mut batch = Batch::default();
        let started = Instant::now();
        let ctx = Ctx {
            cache: Arc::clone(&self.cache),
            stored: self.stored,
            limit: self.opts.max_stored_deliveries,
            ttl: self.opts.id_map_ttl,
        };
        let (cache, ids, taken) = (&self.cache, &self.ids, &mut self.taken);
        let ttl = self.opts.id_map_ttl;
        let result = self.backend.run_batch(&mut |tx| {
            if tx.changed_elsewhere() {
                cache.clear();
            }
            // Buffered id map rows first: everything queued after them
            // (a look-up, a flush) sees them.
            if let Ok(mut buf) = ids.lock() {
                std::mem::swap(&mut *buf, taken);
            }
            batch.write_behind += taken.len() as u64;
            let ids: Vec<std::borrow::Cow<'_, str>> = taken
                .iter()
                .map(|row| String::from_utf8_lossy(&row.carrier_id))
                .collect();
            let rows: Vec<(&str, &str, Option<&str>)> = taken
                .iter()
                .zip(&ids)
                .map(|(row, id)| (&**id, &*row.account, row.optgate_id.as_deref()))
                .collect();
            if let Err(e) = tx.map_message_ids(&rows, ttl) {
                tracing::warn!(error = %e, rows = rows.len(), "message id mappings not stored");
            }
            drop(rows);
            drop(ids);
            taken.clear();
            execute_all(tx, requests, &mut batch, &ctx)
        });
        // Whatever failed, nothing of the batch is durable: every waiter
        // gets the failure as a commit error.
        let failure = result.err().map(|e| match e {
            StoreError::Database(e) => StoreError::Commit(e),
            other => other,
        });
        // Requests not reached by execute_all (aborted batch) are failed too.
        for req in requests.drain(..) {
            skip(req, &mut batch);
        }
        self.finish(batch, failure, started)
    }

    fn finish(
        &mut self,
        batch: Batch,
        failure: Option<StoreError>,
        started: Instant,
    ) -> Option<(Reply<()>, Result<(), StoreError>)> {
        let elapsed = started.elapsed();
        match &failure {
            None => {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
                self.counters
                    .last_commit_nanos
                    .store(nanos, Ordering::Relaxed);
                metrics::histogram!("optgate_store_commit_seconds").record(elapsed.as_secs_f64());
                self.stored = self.stored.saturating_add_signed(batch.stored_delta);
            }
            Some(e) => {
                // Rows put during the batch may show state that is now gone.
                self.cache.clear();
                self.counters.failed_commits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .lost_writes
                    .fetch_add(batch.write_behind, Ordering::Relaxed);
                tracing::error!(error = %e, "store commit failed; the batch was answered with errors");
            }
        }
        for a in batch.answers {
            a(failure.as_ref());
        }
        let result = match failure {
            Some(e) => Err(e),
            None => Ok(()),
        };
        batch.close.map(|reply| (reply, result))
    }

    /// Deletes one chunk of expired id map rows when a purge is due.
    fn purge_step(&mut self) {
        if !self.purge_due && self.last_purge.elapsed() < PURGE_EVERY {
            return;
        }
        self.purge_due = true;
        self.last_purge = Instant::now();
        match self
            .backend
            .purge_message_ids(self.opts.id_map_ttl, PURGE_CHUNK)
        {
            Ok(n) => {
                self.purge_due = n as u64 >= u64::from(PURGE_CHUNK);
                if n > 0 {
                    tracing::debug!(rows = n, "purged expired message ids");
                }
            }
            Err(e) => {
                self.purge_due = false;
                tracing::warn!(error = %e, "id map purge failed");
            }
        }
    }
}
