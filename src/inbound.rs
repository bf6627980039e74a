//! Carrier-originated traffic (MOs and receipts), one pipeline for all of
//! it: classify (which account; a campaign MO, a plain MO or a receipt) →
//! transact (one store write, queued in the order the bind read the PDUs,
//! so a STOP followed by a START is recorded in that order) → dispatch
//! (the committed row to the account's dispatcher) → ack (the status the
//! carrier bind answers with, in order, only after the commit; see
//! [`crate::upstream::Commit`]).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::consent::{mo, Engine};
use crate::deliver::{Direct, DispatchMsg, Dispatcher};
use crate::pdu::{status, Pdu, Text};
use crate::receipts::{self, IdCache, MapHorizon, Owner};
use crate::store::{DeliveryKind, Store, StoreError};
use crate::upstream::Commit;

pub use crate::runtime::Routes;

/// The inbound path. Shared by all carrier binds.
pub struct Inbound {
    store: Store,
    live: Arc<crate::runtime::Live>,
    ids: Mutex<IdCache>,
    /// Whether a receipt not in `ids` must be looked up in the store.
    horizon: MapHorizon,
    engine: Arc<Engine>,
}

/// What a classified carrier PDU is stored as.
enum Kind {
    /// An MO to a campaign number: the consent engine's transaction
    /// (keyword, consent change, responses, the MO's own delivery).
    Campaign(Box<mo::Work>),
    /// An MO or a receipt stored for its account as it is.
    Plain(DeliveryKind),
}

/// A store write queued in order, waiting for its commit.
enum Queued {
    Campaign(oneshot::Receiver<Result<mo::Done, StoreError>>),
    Plain(oneshot::Receiver<Result<u64, StoreError>>),
}

/// An answer known without waiting for the store.
fn now(status: u32) -> Commit {
    Box::pin(std::future::ready(status))
}

impl Inbound {
    /// A new inbound path over `store` with the routes in `live`; MOs to
    /// campaign numbers are classified by `engine`.
    pub fn new(
        store: Store,
        live: Arc<crate::runtime::Live>,
        id_cache_cap: usize,
        engine: Arc<Engine>,
    ) -> Inbound {
        Inbound {
            store,
            live,
            ids: Mutex::new(IdCache::new(id_cache_cap)),
            horizon: MapHorizon::default(),
            engine,
        }
    }

    /// Reads the newest id map row in the store (mappings kept `ttl`), so
    /// receipts stop being looked up in the store once every mapping there
    /// is also in memory (see [`MapHorizon`]). Until this runs, and when
    /// the read fails or other instances share the store, every receipt the
    /// cache does not know is looked up.
    pub async fn load_id_map_horizon(&self, ttl: std::time::Duration) {
        let shared = self.store.claims().is_some();
        match self.store.read(|t| t.newest_message_id_at()).await {
            Ok(newest) => self.horizon.start(newest, ttl, shared),
            Err(e) => warn!(error = %e, "id map not read; receipts looked up in the store"),
        }
    }

    /// The routes in force (see [`crate::runtime`]).
    pub fn routes(&self) -> Arc<Routes> {
        self.live.load().routes.clone()
    }

    /// Records who a carrier message id belongs to (`map`): in memory at
    /// once, in the store written behind. A message routed by address
    /// (`!map`) is not recorded, except in memory while the store may hold
    /// mappings memory does not ([`MapHorizon`]), so its receipt is not
    /// looked up there in vain.
    async fn remember_message(
        &self,
        carrier_id: Text,
        account: &Arc<str>,
        optgate_id: &Option<Arc<str>>,
        map: bool,
    ) {
        let now = crate::store::consent::now_ms() / 1000;
        if !map && !self.horizon.look_up(now) {
            return;
        }
        // Not a view of the read buffer (which it would keep alive for as
        // long as it is cached): a Text is inline, or its own copy.
        let entry = map.then(|| (account.clone(), optgate_id.clone()));
        let retired = self
            .ids
            .lock()
            .ok()
            .and_then(|mut ids| ids.insert(carrier_id.clone(), entry));
        if let Some(old) = retired {
            if old.mapped {
                self.horizon.lost(now);
            }
            // Freeing 100,000 ids takes milliseconds: not on this bind's task.
            tokio::task::spawn_blocking(move || drop(old));
        }
        if !map {
            return;
        }
        if let Err(e) = self
            .store
            .map_message_id(carrier_id.to_bytes(), account.clone(), optgate_id.clone())
            .await
        {
            warn!(error = %e, "id map write failed; receipts will be routed by address");
        }
    }

    /// Takes one deliver_sm / data_sm from the carrier, in the order the
    /// bind read it. Step 1, classify: an MO (to a campaign number or not)
    /// or a receipt (whose owner the id cache knows, the store knows, or
    /// its address tells). Step 2, transact: its store write is queued now,
    /// so writes keep the carrier's order. The returned wait does the rest:
    /// the commit, the dispatch, and the status the carrier is answered with.
    /// `frame`: the PDU's bytes as received.
    pub async fn accept(self: &Arc<Self>, pdu: Pdu, frame: Bytes) -> Commit {
        let routes = self.routes();
        if !receipts::is_receipt(&pdu) {
            let account = dest_account(&routes, &pdu);
            let work = account
                .as_ref()
                .filter(|a| routes.dispatchers.contains_key(*a))
                .and_then(|a| self.engine.mo_work(a, &pdu));
            let kind = work.map_or(Kind::Plain(DeliveryKind::Mo), Kind::Campaign);
            return self.transact(&routes, account, pdu, frame, kind).await;
        }
        let Some(id) = receipts::receipt_id(&pdu) else {
            let account = dest_account(&routes, &pdu);
            return self
                .transact(&routes, account, pdu, frame, Kind::Plain(DeliveryKind::Dlr))
                .await;
        };
        let cached = self.ids.lock().ok().and_then(|ids| ids.get(&id).cloned());
        if let Some(owner) = cached {
            // A mapped message, or one known to go by address.
            return self.receipt(&routes, owner, id, pdu, frame).await;
        }
        if !self.horizon.look_up(crate::store::consent::now_ms() / 1000) {
            // Every mapping is in memory: an MT that was never mapped, whose
            // receipt goes by its address (see receipts::routed_by_address).
            return self.receipt(&routes, None, id, pdu, frame).await;
        }
        // Not in memory: the store is asked on a task of its own, so the
        // bind reads on meanwhile (its answer still goes out in order) and
        // the lookup does not wait for the commits owed before it.
        let this = self.clone();
        let looked_up = tokio::spawn(async move {
            let key = String::from_utf8_lossy(&id).into_owned();
            let found = match this.store.lookup_message_id(key).await {
                Ok(Some(o)) => Some((
                    Arc::<str>::from(o.account),
                    o.optgate_id.map(Arc::<str>::from),
                )),
                _ => None,
            };
            let routes = this.routes();
            this.receipt(&routes, found, id, pdu, frame).await.await
        });
        Box::pin(async move { looked_up.await.unwrap_or(status::ESME_RX_T_APPN) })
    }

    /// Classifies a receipt by its owner: optgate's own messages' receipts
    /// are absorbed; released held messages' receipts carry the optgate id.
    async fn receipt(
        self: &Arc<Self>,
        routes: &Arc<Routes>,
        owner: Option<Owner>,
        carrier_id: Text,
        pdu: Pdu,
        frame: Bytes,
    ) -> Commit {
        let (account, pdu, frame) = match owner {
            Some((account, _)) if &*account == crate::consent::INTERNAL_ACCOUNT => {
                debug!("receipt for one of optgate's own messages absorbed");
                return now(status::ESME_ROK);
            }
            Some((account, Some(oid))) => {
                // Rewritten: it goes out as encoded now, not as received.
                let pdu = receipts::rewrite(&pdu, &carrier_id, &oid);
                let frame = pdu.to_bytes();
                (Some(account), pdu, frame)
            }
            Some((account, None)) => (Some(account), pdu, frame),
            None => (dest_account(routes, &pdu), pdu, frame),
        };
        self.transact(routes, account, pdu, frame, Kind::Plain(DeliveryKind::Dlr))
            .await
    }

    /// Routes a carrier message to its account. A receipt or plain MO is
    /// first offered for the direct path (see [`crate::deliver`]): handed to
    /// a platform session at once, the carrier answered after the
    /// platform's `deliver_sm_resp`. Anything else, or what the direct path
    /// does not take, is stored ([`Self::store`]). `frame` is `pdu`'s
    /// bytes: what a direct delivery writes (under the session's sequence
    /// number), so `pdu` itself stays here for the fallback, uncopied.
    async fn transact(
        self: &Arc<Self>,
        routes: &Arc<Routes>,
        account: Option<Arc<str>>,
        pdu: Pdu,
        frame: Bytes,
        kind: Kind,
    ) -> Commit {
        let Some(account) = account else {
            warn!("carrier message for a number no account owns; refused");
            metrics::counter!("optgate_unroutable_total").increment(1);
            return now(status::ESME_RINVDSTADR);
        };
        let Some(dispatcher) = routes.dispatchers.get(&account) else {
            return now(status::ESME_RX_T_APPN);
        };
        let wait = routes.direct_wait;
        if let (Kind::Plain(plain), false) = (&kind, wait.is_zero()) {
            if let Some(mut rx) = dispatcher.try_direct(frame) {
                let plain = *plain;
                let this = self.clone();
                // The routes, not a clone of the dispatcher handle: most
                // direct deliveries never need it again.
                let routes = routes.clone();
                // From now, not from the commit's first poll (see Commit).
                let deadline = tokio::time::Instant::now() + wait;
                return Box::pin(async move {
                    // Most platforms have answered by the time the bind
                    // looks: no timer is made for those.
                    let answered = match (&mut rx).now_or_never() {
                        Some(r) => Ok(r),
                        None => tokio::time::timeout_at(deadline, &mut rx).await,
                    };
                    let adopt = match answered {
                        Ok(Ok(Direct::Delivered)) => return status::ESME_ROK,
                        Ok(Ok(Direct::Refused(code))) => return code,
                        Ok(Ok(Direct::Fallback) | Err(_)) => None,
                        // Slow: stored now, and the platform's answer, when
                        // it comes, settles the stored row.
                        Err(_) => Some(rx),
                    };
                    debug!(account = %account, "direct delivery not taken; storing");
                    let Some(dispatcher) = routes.dispatchers.get(&account).cloned() else {
                        return status::ESME_RX_T_APPN;
                    };
                    this.store(account, dispatcher, pdu, Kind::Plain(plain), adopt)
                        .await
                        .await
                });
            }
        }
        let dispatcher = dispatcher.clone();
        self.store(account, dispatcher, pdu, kind, None).await
    }

    /// Queues the store write now (keeping order) and returns the wait for
    /// its commit, after which the row goes to the account's dispatcher
    /// (if it is busy, the row waits in the store) and the carrier is
    /// answered: `ESME_ROK` only once committed. `adopt`: the direct
    /// delivery still open for this message, which settles the row.
    async fn store(
        &self,
        account: Arc<str>,
        dispatcher: Dispatcher,
        pdu: Pdu,
        kind: Kind,
        adopt: Option<oneshot::Receiver<Direct>>,
    ) -> Commit {
        let storing = dispatcher.storing();
        let queued = match kind {
            Kind::Campaign(work) => self
                .store
                .transact_queued(move |env| work.run(env))
                .await
                .map(Queued::Campaign),
            Kind::Plain(kind) => self
                .store
                .enqueue_delivery_queued(account.to_string(), pdu.to_bytes().to_vec(), kind)
                .await
                .map(Queued::Plain),
        };
        let queued = match queued {
            Ok(q) => q,
            Err(e) => {
                warn!(error = %e, "carrier message not recorded; carrier told to retry");
                return now(status::ESME_RX_T_APPN);
            }
        };
        debug!(account = %account, "carrier message queued for delivery");
        let engine = self.engine.clone();
        Box::pin(async move {
            let delivery = match queued {
                Queued::Plain(rx) => committed(rx.await).map(Some),
                Queued::Campaign(rx) => committed(rx.await).map(|done| {
                    engine.after_mo(&done);
                    done.delivery
                }),
            };
            match delivery {
                Ok(delivery) => {
                    if let Some(id) = delivery {
                        metrics::gauge!("optgate_stored_deliveries").increment(1.0);
                        match adopt {
                            Some(rx) => dispatcher.adopt(id, pdu, rx).await,
                            None => {
                                dispatcher.try_send(DispatchMsg::Stored { id, pdu });
                            }
                        }
                    }
                    drop(storing);
                    status::ESME_ROK
                }
                Err(code) => code,
            }
        })
    }
}

/// A commit's outcome, or the status that tells the carrier to retry.
fn committed<T>(r: Result<Result<T, StoreError>, oneshot::error::RecvError>) -> Result<T, u32> {
    match r {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(StoreError::Full { .. })) => Err(status::ESME_RMSGQFUL),
        Ok(Err(e)) => {
            warn!(error = %e, "carrier message not stored; carrier told to retry");
            Err(status::ESME_RX_T_APPN)
        }
        Err(_) => Err(status::ESME_RX_T_APPN),
    }
}

/// The account owning the business number a carrier message is addressed to.
fn dest_account(routes: &Routes, pdu: &Pdu) -> Option<Arc<str>> {
    routes.account_for(&pdu.body.destination()?)
}

impl crate::upstream::CarrierEvents for Inbound {
    async fn deliver(self: &Arc<Self>, pdu: Pdu, frame: Bytes) -> Commit {
        self.accept(pdu, frame).await
    }

    async fn submitted(
        &self,
        carrier_id: Text,
        account: &Arc<str>,
        optgate_id: &Option<Arc<str>>,
        map: bool,
    ) {
        self.remember_message(carrier_id, account, optgate_id, map)
            .await
    }
}
