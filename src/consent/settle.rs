//! Held messages meet their fate: released when the scope key becomes
//! active, dropped when it becomes refused, expired after `hold_ttl`. One
//! task does all three, whoever changed the consent (an MO, the command
//! line, the API), woken at once by the engine and otherwise every second.
//! A release waits for the recipient's quiet hours to end (see
//! [`super::quiet`]), as do the quiet holds themselves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use super::{msgs, mt::event_row, quiet, Engine, EngineConfig};
use crate::deliver::{DispatchMsg, Dispatcher};
use crate::pdu::Pdu;
use crate::policy::ConsentStatus;
use crate::store::consent::{now_ms, HeldRow, Key};
use crate::store::{DeliveryKind, Durable, StoreError, StoreTxn, TxnEnv};

/// Synthetic receipts stored for platforms, to hand to their dispatchers.
type Stored = Vec<(String, u64, Pdu)>;

/// What one settling pass did.
#[derive(Debug, Default)]
pub(super) struct Pass {
    released: u64,
    purged: u64,
    expired: u64,
    stored: Stored,
}

impl Engine {
    /// Runs until shutdown. `dispatchers` finds an account's dispatcher.
    pub async fn settle_loop(
        self: Arc<Self>,
        dispatchers: impl Fn(&str) -> Option<Dispatcher> + Send + 'static,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            match self.settle_once().await {
                Ok(pass) => {
                    let more = pass.released + pass.purged + pass.expired > 0;
                    self.report(pass, &dispatchers);
                    if more {
                        continue; // there may be more than one page
                    }
                }
                Err(e) => tracing::warn!(error = %e, "settling held messages failed; will retry"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = self.settle_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn report(&self, pass: Pass, dispatchers: &impl Fn(&str) -> Option<Dispatcher>) {
        let total = pass.released + pass.purged + pass.expired;
        metrics::counter!("optgate_mt_total", "outcome" => "released").increment(pass.released);
        metrics::counter!("optgate_mt_total", "outcome" => "purged").increment(pass.purged);
        metrics::counter!("optgate_mt_total", "outcome" => "expired").increment(pass.expired);
        metrics::gauge!("optgate_held_messages").decrement(total as f64);
        if pass.released > 0 {
            self.outbox_wake.notify_one();
        }
        for (account, id, pdu) in pass.stored {
            metrics::gauge!("optgate_stored_deliveries").increment(1.0);
            if let Some(d) = dispatchers(&account) {
                d.try_send(DispatchMsg::Stored { id, pdu });
            }
        }
    }

    async fn settle_once(&self) -> Result<Pass, StoreError> {
        let cfg = self.config();
        let now = self.clock().now_ms();
        self.store()
            .transact(move |env| Ok((settle(env, &cfg, now)?, Durable::AfterCommit)))
            .await
    }
}

/// One page of work, inside one transaction. `now` is the quiet-hours
/// clock's time.
fn settle(env: &mut TxnEnv<'_>, cfg: &EngineConfig, now: i64) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    for (key, status) in env.settled_held_keys(100)? {
        if status == ConsentStatus::Active && !quiet::release_now(env, cfg, &key, now)? {
            continue; // opted in, but in quiet hours: held until they end
        }
        let rows = env.take_held(&key)?;
        match status {
            ConsentStatus::Active => release(env, &key, rows, "opted in", &mut pass)?,
            _ => drop_all(
                env,
                &key,
                rows,
                "purged",
                "opted out",
                ("REJECTD", 8),
                &mut pass,
            )?,
        }
    }
    let expired = env.take_expired(now_ms(), 200)?;
    let mut by_key: BTreeMap<(String, String, String), Vec<HeldRow>> = BTreeMap::new();
    for r in expired {
        by_key
            .entry((
                r.key.campaign.clone(),
                r.key.sender.clone(),
                r.key.recipient.clone(),
            ))
            .or_default()
            .push(r);
    }
    for ((campaign, sender, recipient), rows) in by_key {
        let key = Key {
            campaign,
            sender,
            recipient,
        };
        drop_all(
            env,
            &key,
            rows,
            "expired",
            "hold_ttl",
            ("EXPIRED", 3),
            &mut pass,
        )?;
    }
    quiet::settle_quiet(env, cfg, now, &mut pass)?;
    Ok(pass)
}

/// Queues every held PDU of `key` for the carrier, in the order held,
/// remembering the optgate id each was given.
pub(super) fn release(
    t: &mut dyn StoreTxn,
    key: &Key,
    rows: Vec<HeldRow>,
    reason: &str,
    pass: &mut Pass,
) -> Result<(), StoreError> {
    let mut groups: Vec<i64> = Vec::new();
    for r in rows {
        let oid = msgs::optgate_id(r.group_id);
        t.outbox_push("released", key, &r.account, Some(&oid), &r.pdu)?;
        if !groups.contains(&r.group_id) {
            groups.push(r.group_id);
        }
    }
    for g in &groups {
        event_row(t, key, "released", reason, &msgs::optgate_id(*g))?;
    }
    pass.released += groups.len() as u64;
    Ok(())
}

/// Drops held messages, with a synthetic receipt per message whose
/// platform asked for one.
fn drop_all(
    env: &mut TxnEnv<'_>,
    key: &Key,
    rows: Vec<HeldRow>,
    kind: &str,
    reason: &str,
    stat: (&str, u8),
    pass: &mut Pass,
) -> Result<(), StoreError> {
    let now = msgs::receipt_time(now_ms());
    let mut seen: Vec<i64> = Vec::new();
    for r in rows {
        if seen.contains(&r.group_id) {
            continue; // one receipt per message, not per part
        }
        seen.push(r.group_id);
        let oid = msgs::optgate_id(r.group_id);
        event_row(env, key, kind, reason, &oid)?;
        if r.registered_delivery & 0x03 == 0 {
            continue;
        }
        let Ok(held) = Pdu::decode(Bytes::from(r.pdu)) else {
            continue;
        };
        if let Some(dlr) = msgs::synthetic_receipt(&held, &oid, stat.0, stat.1, &now) {
            let id = env.enqueue_delivery(&r.account, DeliveryKind::Dlr, &dlr.to_bytes())?;
            pass.stored.push((r.account.clone(), id, dlr));
        }
    }
    let n = seen.len() as u64;
    if kind == "expired" {
        pass.expired += n;
    } else {
        pass.purged += n;
    }
    Ok(())
}
