//! Carrier-originated traffic (MOs and receipts): find the account it belongs
//! to, commit it to the store, answer the carrier, hand it to the account's
//! dispatcher. The carrier's deliver_sm_resp is sent only after the commit.
//!
//! PDUs are taken in the order the carrier bind read them, and their store
//! writes are queued in that order too (only the wait for the commit runs in a
//! separate task), so a STOP followed by a START is recorded in that order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::consent::Engine;
use crate::deliver::{DispatchMsg, Dispatcher};
use crate::pdu::{status, Body, Pdu};
use crate::receipts::{self, IdCache, Owner};
use crate::route::AckTo;
use crate::store::{DeliveryKind, Store};

/// Where carrier traffic goes: sender number → account, account → dispatcher.
#[derive(Debug, Default)]
pub struct Routes {
    /// Normalised sender number → account system_id.
    pub numbers: HashMap<String, Arc<str>>,
    /// Account system_id → its dispatcher.
    pub dispatchers: HashMap<Arc<str>, Dispatcher>,
    /// `[numbers] default_country_code`, for normalising addresses.
    pub country_code: String,
}

impl Routes {
    /// The account that owns the (raw) business number `addr` with `ton`.
    pub fn account_for_number(&self, addr: &[u8], ton: u8) -> Option<Arc<str>> {
        let raw = std::str::from_utf8(addr).ok()?;
        let n = crate::numbers::normalise(raw, ton, &self.country_code);
        self.numbers.get(n.as_str()).cloned()
    }
}

/// The inbound path. Shared by all carrier binds.
pub struct Inbound {
    store: Store,
    live: Arc<crate::runtime::Live>,
    ids: Mutex<IdCache>,
    engine: Arc<Engine>,
    /// The tasks this path spawns per message, so shutdown can wait for them.
    tasks: TaskTracker,
}

impl Inbound {
    /// A new inbound path over `store` with the routes in `live`; MOs to
    /// campaign numbers go through `engine`; what it spawns is tracked by
    /// `tasks`.
    pub fn new(
        store: Store,
        live: Arc<crate::runtime::Live>,
        id_cache_cap: usize,
        engine: Arc<Engine>,
        tasks: TaskTracker,
    ) -> Inbound {
        Inbound {
            store,
            live,
            ids: Mutex::new(IdCache::new(id_cache_cap)),
            engine,
            tasks,
        }
    }

    /// The routes in force (see [`crate::runtime`]).
    pub fn routes(&self) -> Arc<Routes> {
        self.live.load().routes.clone()
    }

    /// Records who a carrier message id belongs to: in memory at once, in
    /// the store written behind.
    async fn remember_message(
        &self,
        carrier_id: Bytes,
        account: Arc<str>,
        optgate_id: Option<Arc<str>>,
    ) {
        // A copy: the id is a slice of the read buffer, which it would keep
        // alive for as long as it is cached.
        let carrier_id = Bytes::copy_from_slice(&carrier_id);
        let retired = self.ids.lock().ok().and_then(|mut ids| {
            ids.insert(carrier_id.clone(), (account.clone(), optgate_id.clone()))
        });
        if let Some(old) = retired {
            // Freeing 100,000 ids takes milliseconds: not on this bind's task.
            tokio::task::spawn_blocking(move || drop(old));
        }
        if let Err(e) = self
            .store
            .map_message_id(carrier_id, account, optgate_id)
            .await
        {
            warn!(error = %e, "id map write failed; receipts will be routed by address");
        }
    }

    /// Takes one deliver_sm / data_sm from the carrier.
    pub async fn accept(self: &Arc<Self>, pdu: Pdu, ack: AckTo) {
        let routes = self.routes();
        if !receipts::is_receipt(&pdu) {
            let account = dest_account(&routes, &pdu);
            let dispatcher = account
                .as_ref()
                .and_then(|a| routes.dispatchers.get(a).cloned());
            let (pdu, ack) = match (account.clone(), dispatcher) {
                (Some(a), Some(d)) => match self.engine.on_mo(a, d, pdu, ack).await {
                    Some(back) => back,
                    None => return,
                },
                _ => (pdu, ack),
            };
            return self
                .commit_and_ack(&routes, account, pdu, ack, DeliveryKind::Mo)
                .await;
        }
        let Some(id) = receipts::receipt_id(&pdu) else {
            let account = dest_account(&routes, &pdu);
            return self
                .commit_and_ack(&routes, account, pdu, ack, DeliveryKind::Dlr)
                .await;
        };
        let cached = self.ids.lock().ok().and_then(|ids| ids.get(&id).cloned());
        if let Some(owner) = cached {
            return self.receipt_for(&routes, Some(owner), id, pdu, ack).await;
        }
        // Not in memory: ask the store, off this bind's read loop.
        let this = self.clone();
        self.tasks.spawn(async move {
            let key = String::from_utf8_lossy(&id).into_owned();
            let found = match this.store.lookup_message_id(key).await {
                Ok(Some(o)) => Some((
                    Arc::<str>::from(o.account),
                    o.optgate_id.map(Arc::<str>::from),
                )),
                _ => None,
            };
            let routes = this.routes();
            this.receipt_for(&routes, found, id, pdu, ack).await;
        });
    }

    /// Routes a receipt: optgate's own messages' receipts are absorbed;
    /// released held messages' receipts carry the optgate id.
    async fn receipt_for(
        &self,
        routes: &Routes,
        owner: Option<Owner>,
        carrier_id: Bytes,
        pdu: Pdu,
        ack: AckTo,
    ) {
        match owner {
            Some((account, _)) if &*account == crate::consent::INTERNAL_ACCOUNT => {
                debug!("receipt for one of optgate's own messages absorbed");
                ack.send(status::ESME_ROK).await;
            }
            Some((account, Some(oid))) => {
                let pdu = receipts::rewrite(&pdu, &carrier_id, &oid);
                self.commit_and_ack(routes, Some(account), pdu, ack, DeliveryKind::Dlr)
                    .await;
            }
            Some((account, None)) => {
                self.commit_and_ack(routes, Some(account), pdu, ack, DeliveryKind::Dlr)
                    .await
            }
            None => {
                let account = dest_account(routes, &pdu);
                self.commit_and_ack(routes, account, pdu, ack, DeliveryKind::Dlr)
                    .await;
            }
        }
    }

    /// Queues the store write now (keeping order), answers the carrier once it
    /// is committed, then hands the row to the account's dispatcher.
    async fn commit_and_ack(
        &self,
        routes: &Routes,
        account: Option<Arc<str>>,
        pdu: Pdu,
        ack: AckTo,
        kind: DeliveryKind,
    ) {
        let Some(account) = account else {
            warn!(kind = ?kind, "carrier message for a number no account owns; refused");
            metrics::counter!("optgate_unroutable_total").increment(1);
            ack.send(status::ESME_RINVDSTADR).await;
            return;
        };
        let Some(dispatcher) = routes.dispatchers.get(&account).cloned() else {
            ack.send(status::ESME_RX_T_APPN).await;
            return;
        };
        let bytes = pdu.to_bytes().to_vec();
        let pending = match self
            .store
            .enqueue_delivery_queued(account.to_string(), bytes, kind)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "store refused a delivery");
                ack.send(status::ESME_RX_T_APPN).await;
                return;
            }
        };
        self.tasks.spawn(async move {
            match pending.await {
                Ok(Ok(id)) => {
                    metrics::gauge!("optgate_stored_deliveries").increment(1.0);
                    // If the dispatcher is busy the row waits in the store.
                    dispatcher.try_send(DispatchMsg::Stored { id, pdu });
                    ack.send(status::ESME_ROK).await;
                }
                Ok(Err(crate::store::StoreError::Full { .. })) => {
                    ack.send(status::ESME_RMSGQFUL).await
                }
                Ok(Err(e)) => {
                    warn!(error = %e, "delivery not stored; carrier told to retry");
                    ack.send(status::ESME_RX_T_APPN).await;
                }
                Err(_) => ack.send(status::ESME_RX_T_APPN).await,
            }
        });
        debug!(account = %account, "carrier message queued for delivery");
    }
}

/// The account owning the business number a carrier message is addressed to.
fn dest_account(routes: &Routes, pdu: &Pdu) -> Option<Arc<str>> {
    match &pdu.body {
        Body::DeliverSm(sm) => routes.account_for_number(&sm.destination_addr, sm.dest_addr_ton),
        Body::DataSm(sm) => routes.account_for_number(&sm.destination_addr, sm.dest_addr_ton),
        _ => None,
    }
}

impl crate::upstream::CarrierEvents for Inbound {
    async fn deliver(self: &Arc<Self>, pdu: Pdu, ack: AckTo) {
        self.accept(pdu, ack).await
    }

    async fn submitted(&self, carrier_id: Bytes, account: Arc<str>, optgate_id: Option<Arc<str>>) {
        self.remember_message(carrier_id, account, optgate_id).await
    }
}
