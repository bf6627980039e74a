//! Delivery of MOs and receipts to platform binds, one dispatcher task per
//! account. Everything it delivers is already committed to the store; a row is
//! deleted only after the platform answered its deliver_sm with ESME_ROK, so a
//! crash can repeat a delivery (at least once) but never lose one.
//!
//! The dispatcher keeps a bounded in-memory queue ordered by store id. When the
//! queue overflows, or at start-up, it is in *backlog* mode and pages rows in
//! from the store once a session can take them.
//!
//! The direct path ([`Dispatcher::try_direct`]): a carrier receipt or plain
//! MO is offered to the dispatcher before anything is stored. When this
//! instance delivers the account, nothing is waiting ahead of it (no row in
//! memory, in the store or on its way there) and a session has window room,
//! it goes to that session at once and the carrier is answered only after
//! the platform's `deliver_sm_resp` ([`Direct`]); otherwise, or when the
//! platform answers with a temporary error, ends its session or is slower
//! than `[server] direct_delivery_wait`, the inbound path stores it as
//! before. A direct delivery goes to the session as the bytes the carrier
//! sent (its own sequence number set as it is written), not as a copy of
//! the decoded PDU, which the inbound path keeps for that fallback.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::pdu::{status, Pdu};
use crate::route::ToPlatform;
use crate::store::Store;

mod direct;
mod rows;
pub use direct::{Direct, Storing};

/// Rows kept in memory per account before falling back to paging.
const MEMORY_CAP: usize = 10_000;
/// Rows read from the store per page.
const PAGE: usize = 500;
/// How long a delivery the platform deferred waits before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Delivered ids remembered so a page read racing their delete does not
/// deliver them again.
const RECENT_CAP: usize = 8_192;
/// How often an instance with a platform bind but without the account's
/// delivery claim tries to take it (how soon it takes over from an instance
/// that died: its claim ends with its database session).
const CLAIM_CHECK: Duration = Duration::from_secs(1);
/// How often the claim holder reads the store again although no
/// notification came (the bound on a lost one).
const OWNER_REREAD: Duration = Duration::from_secs(5);
/// Deliveries outstanding per platform session. With 64, four sessions could
/// not keep up with 8,000 MOs/s plus ~30,000 receipts/s (the round trip
/// through a busy platform session bounds each window); 256 could.
pub const SESSION_WINDOW: usize = 256;

/// What sessions and the inbound path tell a dispatcher.
#[derive(Debug)]
pub enum DispatchMsg {
    /// A row just committed to the store.
    Stored { id: u64, pdu: Pdu },
    /// A receiver/transceiver session bound; `window` counts what it has
    /// outstanding.
    Register {
        session: u64,
        tx: mpsc::Sender<ToPlatform>,
        window: Window,
    },
    /// The session ended; deliveries it had not seen answered come back.
    Unregister {
        session: u64,
        returned: Vec<(u64, Pdu)>,
    },
    /// The platform answered stored delivery `id`; on any status but OK
    /// the PDU comes back so it can be retried. (A direct delivery's answer
    /// goes from the session straight to its waiter.)
    Answered {
        session: u64,
        id: u64,
        status: u32,
        pdu: Option<Pdu>,
    },
    /// Another instance stored a row for this account, or gave up
    /// delivering it (PostgreSQL's notification, see `store::postgres::listen`).
    Elsewhere,
    /// A message offered for the direct path, as its bytes; `done` says
    /// how it ended.
    Direct {
        frame: bytes::Bytes,
        done: oneshot::Sender<Direct>,
    },
    /// The inbound path stopped waiting for a direct delivery and stored
    /// the message as row `id`: the platform's answer, when it comes (or
    /// came: `done`), settles the row instead, so a platform that was only
    /// slow does not get the message twice.
    Adopt {
        id: u64,
        pdu: Pdu,
        done: oneshot::Receiver<Direct>,
    },
    /// The platform's answer to an adopted row's direct delivery.
    Settle { id: u64, pdu: Pdu, how: Direct },
    /// A session whose window was full has room again.
    Room,
}

/// The deliveries a session has outstanding, at most [`SESSION_WINDOW`]:
/// raised by the dispatcher as it hands one over, lowered as the platform
/// answers (by the dispatcher for a stored row; by the session itself for a
/// direct delivery, whose answer does not pass the dispatcher).
#[derive(Debug, Clone, Default)]
pub struct Window(Arc<AtomicUsize>);

impl Window {
    fn used(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn take(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// One delivery answered. True when the window was full: the
    /// dispatcher may have rows waiting for this room (send it
    /// [`DispatchMsg::Room`]).
    pub fn answered(&self) -> bool {
        let before = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        matches!(before, Ok(n) if n >= SESSION_WINDOW)
    }
}

/// Handle to an account's dispatcher.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    tx: mpsc::Sender<DispatchMsg>,
    /// The smallest id of a stored row whose `Stored` message did not fit in
    /// the channel (`u64::MAX`: none); the task pages it in from the store.
    missed: Arc<AtomicU64>,
    /// Store writes of this account's deliveries queued and not yet handed
    /// to the task: while there are any, nothing takes the direct path
    /// (it would overtake them).
    storing: Arc<AtomicUsize>,
}

impl Dispatcher {
    /// Starts the dispatcher of `account` on `tasks`; it runs until `stop`
    /// is cancelled (the end of shutdown: what it has not delivered stays in
    /// the store).
    pub fn spawn(
        account: Arc<str>,
        store: Store,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> Dispatcher {
        let (tx, rx) = mpsc::channel(4096);
        let account_name = account.clone();
        let owner = store.claims().is_none();
        let missed = Arc::new(AtomicU64::new(u64::MAX));
        let task = Task {
            me: tx.downgrade(),
            missed: missed.clone(),
            inflight: HashSet::new(),
            account,
            store,
            rx,
            queue: BTreeMap::new(),
            cursor: 0,
            backlog: true,
            sessions: Vec::new(),
            rr: 0,
            deferred: Vec::new(),
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
            tasks: tasks.clone(),
            acks: Vec::new(),
            owner,
            claim: format!("deliver:{account_name}"),
            elsewhere: false,
            next_check: tokio::time::Instant::now(),
        };
        tasks.spawn(task.run(stop));
        Dispatcher {
            tx,
            missed,
            storing: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Sends a message to the dispatcher. The channel is bounded; waiting here
    /// is back-pressure on whoever feeds it.
    pub async fn send(&self, msg: DispatchMsg) {
        let _ = self.tx.send(msg).await;
    }

    /// Like `send` but never waits: a `Stored` row that does not fit is still
    /// in the store and will be paged in later.
    pub fn try_send(&self, msg: DispatchMsg) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(e) => {
                if let DispatchMsg::Stored { id, .. } = e.into_inner() {
                    self.missed.fetch_min(id, Ordering::AcqRel);
                }
                false
            }
        }
    }
}

struct SessionSlot {
    id: u64,
    tx: mpsc::Sender<ToPlatform>,
    window: Window,
}

struct Task {
    /// This task's own channel, for the answers of adopted rows (weak: the
    /// task still ends when every [`Dispatcher`] is gone).
    me: mpsc::WeakSender<DispatchMsg>,
    missed: Arc<AtomicU64>,
    /// Ids handed to a session and not answered yet: never paged in again.
    inflight: HashSet<u64>,
    account: Arc<str>,
    store: Store,
    rx: mpsc::Receiver<DispatchMsg>,
    /// Rows waiting to be handed to a session, by store id (= arrival order).
    queue: BTreeMap<u64, Pdu>,
    /// Every row with a smaller id was loaded into `queue` (or delivered).
    cursor: u64,
    /// Rows may be in the store that are not in `queue`.
    backlog: bool,
    sessions: Vec<SessionSlot>,
    rr: usize,
    /// Deliveries the platform answered with a temporary error, and when to retry.
    deferred: Vec<(tokio::time::Instant, u64, Pdu)>,
    /// Ids delivered lately (their delete may not have committed yet).
    recent: HashSet<u64>,
    recent_order: VecDeque<u64>,
    /// Where the row deletes are spawned, so shutdown waits for them.
    tasks: TaskTracker,
    /// Rows delivered this turn, deleted together at its end.
    acks: Vec<u64>,
    /// This instance delivers the account's rows (always, but with several
    /// instances on PostgreSQL: while it holds the claim `deliver:ACCOUNT`,
    /// taken when a platform binds here and no other instance delivers).
    owner: bool,
    claim: String,
    /// Another instance stored or released something since the last turn.
    elsewhere: bool,
    /// When to try the claim again (not the owner) or re-read the store
    /// (the owner: the bound on a lost notification).
    next_check: tokio::time::Instant,
}

impl Task {
    async fn run(mut self, stop: CancellationToken) {
        loop {
            let mut next_retry = self.deferred.iter().map(|d| d.0).min();
            if self.store.claims().is_some() && !self.sessions.is_empty() {
                next_retry = Some(next_retry.map_or(self.next_check, |t| t.min(self.next_check)));
            }
            let msg = tokio::select! {
                _ = stop.cancelled() => return self.delete_delivered(),
                m = self.rx.recv() => match m { Some(m) => Some(m), None => return self.delete_delivered() },
                _ = async { match next_retry { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => None,
            };
            if let Some(msg) = msg {
                self.handle(msg);
            }
            let now = tokio::time::Instant::now();
            for (_, id, pdu) in extract_due(&mut self.deferred, now) {
                self.queue.insert(id, pdu);
            }
            // Take whatever else is queued before doing the slower work.
            while let Ok(msg) = self.rx.try_recv() {
                self.handle(msg);
            }
            self.claim_step().await;
            let missed = self.missed.swap(u64::MAX, Ordering::AcqRel);
            if missed != u64::MAX {
                self.page_from(missed);
            }
            if self.backlog && !self.sessions.is_empty() && self.queue.len() < MEMORY_CAP {
                self.load_page().await;
            }
            self.pump();
            self.delete_delivered();
        }
    }

    fn handle(&mut self, msg: DispatchMsg) {
        match msg {
            DispatchMsg::Stored { id, pdu } => self.enqueue(id, pdu),
            DispatchMsg::Register {
                session,
                tx,
                window,
            } => {
                if !self.owner {
                    // With several instances: try for the claim this turn,
                    // not a CLAIM_CHECK later (meanwhile everything for
                    // the account would be stored rather than delivered).
                    self.next_check = tokio::time::Instant::now();
                }
                self.sessions.push(SessionSlot {
                    id: session,
                    tx,
                    window,
                });
            }
            DispatchMsg::Unregister { session, returned } => {
                self.sessions.retain(|s| s.id != session);
                for (id, pdu) in returned {
                    // Back at the head of the queue, in their old order.
                    self.inflight.remove(&id);
                    self.queue.insert(id, pdu);
                }
            }
            DispatchMsg::Answered {
                session,
                id,
                status,
                pdu,
            } => self.answered(session, id, status, pdu),
            DispatchMsg::Elsewhere => self.elsewhere = true,
            DispatchMsg::Direct { frame, done } => self.direct(frame, done),
            DispatchMsg::Adopt { id, pdu, done } => self.adopt(id, pdu, done),
            DispatchMsg::Settle { id, pdu, how } => self.settle_adopted(id, pdu, how),
            DispatchMsg::Room => {}
        }
    }

    fn answered(&mut self, session: u64, id: u64, code: u32, pdu: Option<Pdu>) {
        if let Some(s) = self.sessions.iter().find(|s| s.id == session) {
            s.window.answered();
        }
        self.inflight.remove(&id);
        match (code, pdu) {
            (status::ESME_ROK, _) => {
                metrics::counter!("optgate_deliveries_total", "path" => "stored").increment(1);
                self.delivered(id);
            }
            (status::ESME_RX_R_APPN, _) => {
                // The platform refuses it for good: do not loop on it.
                warn!(account = %self.account, id, "platform rejected a delivery permanently; dropped");
                self.delivered(id);
            }
            (other, Some(pdu)) => {
                // Temporary trouble: retry in a few seconds rather than spin.
                debug!(account = %self.account, id, status = other, "platform deferred a delivery");
                let at = tokio::time::Instant::now() + RETRY_AFTER;
                self.deferred.push((at, id, pdu));
            }
            (_, None) => {
                // No copy came back: it stays in the store and goes out after
                // the next restart.
                warn!(account = %self.account, id, "deferred delivery kept in the store only");
            }
        }
    }

    /// Hands queued rows to sessions with room, round-robin.
    fn pump(&mut self) {
        if !self.owner {
            return;
        }
        // In backlog mode only rows below the cursor are known to have no
        // older row still waiting in the store.
        while self
            .queue
            .first_key_value()
            .is_some_and(|(id, _)| !self.backlog || *id < self.cursor)
            && !self.sessions.is_empty()
        {
            let n = self.sessions.len();
            let mut sent = false;
            for i in 0..n {
                let idx = (self.rr + i) % n;
                let slot = &self.sessions[idx];
                if slot.window.used() >= SESSION_WINDOW {
                    continue;
                }
                let Some((id, pdu)) = self.queue.pop_first() else {
                    return;
                };
                match slot.tx.try_send(ToPlatform::Deliver { id, pdu }) {
                    Ok(()) => {
                        slot.window.take();
                        self.inflight.insert(id);
                        self.rr = idx + 1;
                        sent = true;
                        break;
                    }
                    Err(e) => {
                        if let ToPlatform::Deliver { id, pdu, .. } = e.into_inner() {
                            self.queue.insert(id, pdu);
                        }
                    }
                }
            }
            if !sent {
                return;
            }
        }
    }
}

/// Removes and returns the deferred deliveries that are due.
fn extract_due(
    deferred: &mut Vec<(tokio::time::Instant, u64, Pdu)>,
    now: tokio::time::Instant,
) -> Vec<(tokio::time::Instant, u64, Pdu)> {
    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(deferred)
        .into_iter()
        .partition(|d| d.0 <= now);
    *deferred = later;
    due
}
