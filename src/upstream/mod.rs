//! The carrier side: a pool of binds to the SMSC, each a task that reconnects
//! with capped exponential backoff, keeps its own window and sequence numbers,
//! and hands carrier-originated PDUs up through [`CarrierEvents`] (the
//! daemon plugs [`crate::inbound`] in): the binds are transport only and
//! import nothing above them.

pub mod bind;
pub mod connect;
mod inflight;
pub mod tps;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use connect::{BindError, BindRole, UpstreamSettings};

use crate::lifecycle::Phase;
use crate::pdu::{Pdu, Text};
use crate::route::{Carrier, UpRequest};

/// The wait for one carrier delivery's store commit; it resolves to the
/// command_status the carrier is answered with. A bind keeps these in an
/// ordered set (at most its window) and writes the answers in the order
/// the deliveries came, as each one's commit (and the ones before it) is
/// done: no task per message. Only the oldest is polled (see
/// `inflight::OwedQueue`), so a commit must make progress without being
/// polled: its work queued or spawned when it is made, any deadline in it
/// fixed then.
pub type Commit = Pin<Box<dyn Future<Output = u32> + Send>>;

/// What a carrier bind hands to the layer above it.
pub trait CarrierEvents: Send + Sync + 'static {
    /// A deliver_sm or data_sm from the carrier, in the order the bind read
    /// it, and its bytes as received (`frame`, which a delivery passed on
    /// unchanged is written as). Its store write is queued before this
    /// returns (so writes keep the carrier's order); the returned [`Commit`]
    /// waits for the rest.
    fn deliver(self: &Arc<Self>, pdu: Pdu, frame: Bytes) -> impl Future<Output = Commit> + Send;

    /// The carrier accepted a request that asked for receipts under
    /// `carrier_id`: its receipts belong to `account`, which knows the
    /// message as `optgate_id` if it was held and released; `map`: they
    /// need the id map (see [`crate::route::UpRequest::id_map`]), else
    /// they are routed by address.
    fn submitted(
        &self,
        carrier_id: Text,
        account: &Arc<str>,
        optgate_id: &Option<Arc<str>>,
        map: bool,
    ) -> impl Future<Output = ()> + Send;
}

/// One carrier bind as the pool sees it.
struct Slot {
    tx: mpsc::Sender<UpRequest>,
    accepting: Arc<AtomicBool>,
}

/// The carrier binds. Cheap to share behind an `Arc`.
pub struct Pool {
    slots: Vec<Slot>,
    up: Vec<Arc<AtomicBool>>,
    next: AtomicUsize,
}

impl Pool {
    /// Starts the binds, which hand what the carrier sends to `events`.
    /// They run until `stop` begins (shutdown phase 2).
    pub fn spawn<E: CarrierEvents>(
        settings: Arc<UpstreamSettings>,
        events: Arc<E>,
        stop: Phase,
    ) -> (Arc<Pool>, Vec<JoinHandle<()>>) {
        let mut slots = Vec::new();
        let mut up = Vec::new();
        let mut tasks = Vec::new();
        let roles: &[BindRole] = if settings.split_tx_rx {
            &[BindRole::Transmitter, BindRole::Receiver]
        } else {
            &[BindRole::Transceiver]
        };
        for index in 0..settings.binds {
            for &role in roles {
                let (tx, rx) = mpsc::channel(settings.window.max(1));
                let accepting = Arc::new(AtomicBool::new(false));
                let is_up = Arc::new(AtomicBool::new(false));
                let task = bind::BindTask {
                    index,
                    role,
                    settings: settings.clone(),
                    events: events.clone(),
                    requests: rx,
                    accepting: accepting.clone(),
                    up: is_up.clone(),
                    stop: stop.clone(),
                };
                tasks.push(tokio::spawn(task.run()));
                up.push(is_up);
                if role != BindRole::Receiver {
                    slots.push(Slot { tx, accepting });
                }
            }
        }
        let pool = Pool {
            slots,
            up,
            next: AtomicUsize::new(0),
        };
        (Arc::new(pool), tasks)
    }

    /// Hands a request to the next bind that is up and has room. `false`:
    /// every bind is down, backing off or full, and the platform should be
    /// told ESME_RTHROTTLED now rather than wait.
    pub fn submit(&self, req: UpRequest) -> bool {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        self.submit_from(start, req)
    }

    /// As [`Pool::submit`], trying the binds from number `first` (modulo
    /// their count) on. A platform session passes the same `first` for
    /// every request (see `Session::on_request`): its requests then wake one
    /// bind task instead of each bind in turn, and that bind's answers go
    /// back to it in one batch per turn instead of one per bind. A full,
    /// paused or down bind passes its requests on to the next one.
    pub fn submit_from(&self, first: usize, req: UpRequest) -> bool {
        let n = self.slots.len();
        let start = first;
        let mut req = req;
        for i in 0..n {
            let slot = &self.slots[start.wrapping_add(i) % n];
            if !slot.accepting.load(Ordering::Acquire) {
                continue;
            }
            match slot.tx.try_send(req) {
                Ok(()) => return true,
                Err(e) => req = e.into_inner(),
            }
        }
        false
    }

    /// How many binds (of any role) are bound right now.
    pub fn binds_up(&self) -> usize {
        self.up.iter().filter(|u| u.load(Ordering::Acquire)).count()
    }
}

impl Carrier for Pool {
    fn submit(&self, req: UpRequest) -> bool {
        Pool::submit(self, req)
    }

    fn binds_up(&self) -> usize {
        Pool::binds_up(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Outgoing, ReplyTo};

    fn pool(binds: usize, room: usize) -> (Pool, Vec<mpsc::Receiver<UpRequest>>) {
        let mut slots = Vec::new();
        let mut rxs = Vec::new();
        for _ in 0..binds {
            let (tx, rx) = mpsc::channel(room);
            slots.push(Slot {
                tx,
                accepting: Arc::new(AtomicBool::new(true)),
            });
            rxs.push(rx);
        }
        let pool = Pool {
            slots,
            up: Vec::new(),
            next: AtomicUsize::new(0),
        };
        (pool, rxs)
    }

    fn req() -> UpRequest {
        let (tx, _rx) = mpsc::channel(1);
        UpRequest {
            request: Outgoing::Pdu(Box::new(Pdu::new(1, crate::pdu::Body::EnquireLink))),
            reply: ReplyTo::new(tx, Arc::from("a")),
            extra: None,
            id_map: false,
            received: std::time::Instant::now(),
        }
    }

    fn queued(rxs: &mut [mpsc::Receiver<UpRequest>]) -> Vec<usize> {
        rxs.iter_mut()
            .map(|rx| std::iter::from_fn(|| rx.try_recv().ok()).count())
            .collect()
    }

    #[test]
    fn a_session_keeps_to_its_bind_and_spills_over_when_it_is_full() {
        let (pool, mut rxs) = pool(3, 4);
        for _ in 0..3 {
            assert!(pool.submit_from(4, req()));
        }
        assert_eq!(queued(&mut rxs), vec![0, 3, 0], "one bind for session 4");
        for _ in 0..6 {
            assert!(pool.submit_from(1, req()));
        }
        assert_eq!(queued(&mut rxs), vec![0, 4, 2], "full: on to the next");
        pool.slots[1].accepting.store(false, Ordering::Release);
        assert!(pool.submit_from(1, req()));
        assert_eq!(queued(&mut rxs), vec![0, 0, 1], "paused: on to the next");
        for _ in 0..8 {
            assert!(pool.submit_from(2, req()));
        }
        assert!(!pool.submit_from(2, req()), "every accepting bind full");
        // The outbox's requests still go round the binds.
        let (pool, mut rxs) = pool_round_robin();
        assert_eq!(queued(&mut rxs), vec![1, 1, 1]);
        drop(pool);
    }

    fn pool_round_robin() -> (Pool, Vec<mpsc::Receiver<UpRequest>>) {
        let (pool, rxs) = pool(3, 4);
        for _ in 0..3 {
            assert!(pool.submit(req()));
        }
        (pool, rxs)
    }
}
