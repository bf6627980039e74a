//! A platform MT through the consent engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{msgs, store_key, Engine, EngineConfig};
use crate::pdu::{status, Address, Body, MessageIdResp, Pdu};
use crate::policy::{self, ConsentStatus, Decision, Lookup, MtFacts, ResponseKind};
use crate::store::consent::{now_ms, Event, Flag, Key, NewHeld};
use crate::store::{Durable, StoreError, StoreTxn, TxnEnv};

/// What the session does with an MT.
#[derive(Debug)]
pub enum MtAction {
    /// Send this PDU to the carrier (the original, or with a footer).
    Forward(Pdu),
    /// Answer the platform with this PDU; nothing goes upstream.
    Reply(Pdu),
}

/// How a multipart message's first part was decided, for its other parts.
#[derive(Debug, Clone, Copy)]
pub(super) enum GroupDecision {
    Forward,
    Reject(u32),
    Hold(i64),
    /// Held for quiet hours until the time given (ms).
    Quiet(i64, i64),
}

pub(super) type GroupKey = (Arc<str>, Key, u16, u8);

/// Decisions about multipart messages, so every part shares the first's.
#[derive(Debug, Default)]
pub struct Groups {
    map: HashMap<GroupKey, (GroupDecision, Instant)>,
}

/// How long a multipart decision is remembered for the other parts.
const GROUP_TTL: Duration = Duration::from_secs(600);
const GROUP_CAP: usize = 50_000;

impl Groups {
    fn get(&mut self, k: &GroupKey) -> Option<GroupDecision> {
        self.map
            .get(k)
            .filter(|(_, t)| t.elapsed() < GROUP_TTL)
            .map(|(d, _)| *d)
    }

    pub(super) fn put(&mut self, k: GroupKey, d: GroupDecision) {
        if self.map.len() >= GROUP_CAP {
            self.map.retain(|_, (_, t)| t.elapsed() < GROUP_TTL);
        }
        self.map.insert(k, (d, Instant::now()));
    }
}

/// What the store work decided.
pub(super) enum Outcome {
    Forward(Option<Box<Pdu>>),
    Held(i64),
    Reject(u32),
}

/// What [`Engine::mt_quick`] could decide without the store.
#[derive(Debug)]
pub enum MtQuick {
    /// Forward the PDU unchanged.
    Forward,
    /// Answer the platform with this PDU.
    Reply(Pdu),
    /// The store must decide: pass this to [`Engine::mt_stored`].
    Store(Prepared),
}

/// An MT's normalised numbers and campaign, for the store half.
#[derive(Debug)]
pub struct Prepared {
    campaign_id: String,
    sender: String,
    recipient: String,
    group: Option<(u16, u8)>,
}

impl EngineConfig {
    /// True when no campaign applies to an MT from `source`, so it passes
    /// as it is: the first step of [`Engine::mt_quick`], for a caller that
    /// has read only the sender (see [`crate::pdu::SubmitHead`]).
    pub fn passes(&self, source: &Address) -> bool {
        self.campaigns.passes_all()
            || matches!(
                self.campaigns
                    .lookup(&crate::numbers::of(source, &self.country_code)),
                Lookup::PassThrough
            )
    }
}

impl Engine {
    /// Decides a submit_sm / data_sm from `account`. Messages from senders
    /// outside approved campaigns pass untouched (or are rejected under
    /// `unassigned_senders = "reject"`).
    pub async fn on_mt(&self, account: &Arc<str>, pdu: Pdu) -> MtAction {
        let cfg = self.config();
        match self.mt_quick(&cfg, account, &pdu) {
            MtQuick::Forward => MtAction::Forward(pdu),
            MtQuick::Reply(r) => MtAction::Reply(r),
            MtQuick::Store(prep) => self.mt_stored(account, prep, pdu).await,
        }
    }

    /// The part of the MT decision that needs no store: senders outside
    /// campaigns, `unassigned_senders = "reject"`, and scope keys the
    /// consent cache shows active (see `cached_forward`). Synchronous, so
    /// the common case costs no future and no copy of the PDU.
    /// `cfg` is [`Engine::config`] (or a session's cached copy of it).
    pub fn mt_quick(&self, cfg: &EngineConfig, account: &Arc<str>, pdu: &Pdu) -> MtQuick {
        if cfg.campaigns.passes_all() {
            return MtQuick::Forward;
        }
        let Some(f) = msgs::facts(pdu) else {
            return MtQuick::Forward;
        };
        let sender = crate::numbers::of(&f.source, &cfg.country_code);
        let campaign = match cfg.campaigns.lookup(&sender) {
            Lookup::PassThrough => return MtQuick::Forward,
            Lookup::Reject(code) => {
                metrics::counter!("optgate_mt_total", "outcome" => "blocked").increment(1);
                return MtQuick::Reply(crate::route::answer(
                    pdu.command_id(),
                    code,
                    pdu.sequence_number,
                ));
            }
            Lookup::Enforce(c) => c,
        };
        let recipient = crate::numbers::of(&f.dest, &cfg.country_code);
        let group = f.concat.map(|c| (c.reference, c.total));
        // In quiet hours the store decides (hold or reject), cache or not.
        let quiet = self.quiet_now(cfg, campaign, &recipient);
        if !quiet && self.cached_forward(cfg, account, campaign, &sender, &recipient, group) {
            crate::telemetry::hot().mt_forwarded.increment(1);
            return MtQuick::Forward;
        }
        MtQuick::Store(Prepared {
            campaign_id: campaign.id.clone(),
            sender,
            recipient,
            group,
        })
    }

    /// The store half of the MT decision: read, decide and write on the
    /// store thread, in order with MO consent changes.
    pub async fn mt_stored(&self, account: &Arc<str>, prep: Prepared, pdu: Pdu) -> MtAction {
        let cfg = self.config();
        let (cid, seq) = (pdu.command_id(), pdu.sequence_number);
        let Some(f) = msgs::facts(&pdu) else {
            return MtAction::Forward(pdu);
        };
        let Prepared {
            campaign_id,
            sender,
            recipient,
            group,
        } = prep;
        let text = if f.concat.is_some() {
            None
        } else {
            msgs::text(&f, cfg.alphabet)
        };
        let work = Work {
            cfg: cfg.clone(),
            campaign_id,
            sender,
            recipient,
            text,
            group,
            account: account.clone(),
            pdu: pdu.clone(),
            groups: self.groups.clone(),
            now_ms: self.clock().now_ms(),
        };
        // Another instance deciding on the same key at once may make this
        // one a deadlock victim (PostgreSQL): decide again, a few times,
        // rather than tell the platform.
        // Shared, not cloned: the retry needs it, the first try (nearly
        // always the only one) should not pay for a copy.
        let work = Arc::new(work);
        let run = |w: Arc<Work>| self.store().transact(move |env| w.run(env));
        let mut outcome = run(Arc::clone(&work)).await;
        for _ in 0..MT_RETRIES {
            if !matches!(&outcome, Err(e) if e.is_retryable()) {
                break;
            }
            outcome = run(Arc::clone(&work)).await;
        }
        if let Ok((_, Some(to))) = &outcome {
            // Committed: an MT moved the recipient (to pending with an
            // opt-in request, or to active on first contact).
            metrics::counter!("optgate_consent_changes_total", "to" => to.as_str()).increment(1);
        }
        match outcome.map(|(o, _)| o) {
            Ok(Outcome::Forward(modified)) => {
                crate::telemetry::hot().mt_forwarded.increment(1);
                MtAction::Forward(modified.map_or(pdu, |p| *p))
            }
            Ok(Outcome::Held(group_id)) => {
                metrics::counter!("optgate_mt_total", "outcome" => "held").increment(1);
                metrics::gauge!("optgate_held_messages").increment(1.0);
                self.outbox_wake.notify_one();
                let id = Bytes::from(msgs::optgate_id(group_id).into_bytes());
                let body = if cid == crate::pdu::command::DATA_SM {
                    Body::DataSmResp(MessageIdResp::new(id))
                } else {
                    Body::SubmitSmResp(MessageIdResp::new(id))
                };
                MtAction::Reply(Pdu::new(seq, body))
            }
            Ok(Outcome::Reject(code)) => {
                metrics::counter!("optgate_mt_total", "outcome" => "blocked").increment(1);
                MtAction::Reply(crate::route::answer(cid, code, seq))
            }
            Err(e) => {
                tracing::warn!(error = %e, "consent decision failed; platform told to retry");
                MtAction::Reply(crate::route::answer(cid, status::ESME_RSYSERR, seq))
            }
        }
    }
}

impl Engine {
    /// Whether the consent cache alone shows this MT is forwarded unchanged
    /// with nothing to record: an active scope key that already had a
    /// custom message (so no footer), and for a later part of a multipart
    /// message, a first part that was forwarded too. Anything else — a
    /// miss, a write to make, a hold or a block — goes to the store thread.
    /// The text is not needed: to an active scope key that already had a
    /// custom message, every text is forwarded as it is.
    fn cached_forward(
        &self,
        cfg: &EngineConfig,
        account: &Arc<str>,
        campaign: &crate::policy::Campaign,
        sender: &str,
        recipient: &str,
        group: Option<(u16, u8)>,
    ) -> bool {
        let key = store_key(campaign, sender, recipient);
        let Some(row) = self.store().consent_cache().state(&key) else {
            return false;
        };
        if row.status != ConsentStatus::Active || !row.custom_forwarded {
            return false;
        }
        let facts = MtFacts {
            text: None,
            held_for_recipient: 0,
            opt_in_request_ever_sent: row.opt_in_request_sent,
            custom_message_ever_forwarded: true,
        };
        let pure = matches!(
            policy::decide(row.status, campaign, &facts, &cfg.codes),
            Decision::Forward {
                event: None,
                footer: None
            }
        );
        if !pure {
            return false;
        }
        let Some((r, t)) = group else {
            return true;
        };
        let Ok(mut groups) = self.groups.lock() else {
            return false;
        };
        let gk = (account.clone(), key, r, t);
        match groups.get(&gk) {
            Some(GroupDecision::Forward) => true,
            Some(_) => false,
            None => {
                groups.put(gk, GroupDecision::Forward);
                true
            }
        }
    }
}

/// Decisions tried again after a deadlock or serialization failure.
const MT_RETRIES: usize = 3;
/// The store-thread half of an MT decision: read, decide, write — atomic
/// and in order with MO consent changes.
pub(super) struct Work {
    pub(super) cfg: Arc<EngineConfig>,
    campaign_id: String,
    sender: String,
    pub(super) recipient: String,
    text: Option<String>,
    group: Option<(u16, u8)>,
    account: Arc<str>,
    pdu: Pdu,
    pub(super) groups: Arc<Mutex<Groups>>,
    /// The quiet-hours clock's time when the MT arrived.
    pub(super) now_ms: i64,
}

impl Work {
    /// The decision, and the status the recipient was moved to, if any.
    fn run(
        &self,
        env: &mut TxnEnv<'_>,
    ) -> Result<((Outcome, Option<ConsentStatus>), Durable), StoreError> {
        let Some(campaign) = self.cfg.campaigns.get(&self.campaign_id) else {
            return Ok(((Outcome::Forward(None), None), Durable::Now));
        };
        let key = store_key(campaign, &self.sender, &self.recipient);
        let gkey = self
            .group
            .map(|(r, t)| (self.account.clone(), key.clone(), r, t));
        if let Some(gk) = &gkey {
            let prev = self.groups.lock().ok().and_then(|mut g| g.get(gk));
            match prev {
                Some(GroupDecision::Forward) => {
                    return Ok(((Outcome::Forward(None), None), Durable::Now))
                }
                Some(GroupDecision::Reject(code)) => {
                    return Ok(((Outcome::Reject(code), None), Durable::Now))
                }
                Some(GroupDecision::Hold(gid)) => {
                    self.hold(env, &key, campaign, Some(gid), "")?;
                    return Ok(((Outcome::Held(gid), None), Durable::AfterCommit));
                }
                Some(GroupDecision::Quiet(gid, until)) => {
                    self.hold(env, &key, campaign, Some(gid), "")?;
                    env.set_held_quiet(gid, until)?;
                    return Ok(((Outcome::Held(gid), None), Durable::AfterCommit));
                }
                None => {}
            }
        }
        let row = env.consent(&key)?;
        let mut moved_to = None;
        let facts = MtFacts {
            text: self.text.clone(),
            // Only none and pending can lead to a hold; skip the count otherwise.
            held_for_recipient: match row.status {
                ConsentStatus::None | ConsentStatus::Pending => env.held_count(&key)?,
                _ => 0,
            },
            opt_in_request_ever_sent: row.opt_in_request_sent,
            custom_message_ever_forwarded: row.custom_forwarded,
        };
        if let Some(done) = self.in_quiet_hours(env, &key, campaign, &row, &facts, &gkey)? {
            return Ok(done); // held or rejected, nothing else recorded
        }
        let (outcome, durable, remember) =
            match policy::decide(row.status, campaign, &facts, &self.cfg.codes) {
                Decision::Forward { event, footer } => {
                    if let Some(ev) = event {
                        event_row(env, &key, ev.as_str(), "outbound_unknown=allow", "")?;
                    }
                    if !row.custom_forwarded {
                        env.mark(&key, Flag::CustomForwarded)?;
                    }
                    let modified = match footer {
                        Some(text) => self.footer(env, &key, &text)?,
                        None => None,
                    };
                    (
                        Outcome::Forward(modified.map(Box::new)),
                        Durable::Now,
                        GroupDecision::Forward,
                    )
                }
                Decision::ForwardAsOptInRequest => {
                    env.set_status(&key, ConsentStatus::Pending, "opt_in_request", "")?;
                    moved_to = Some(ConsentStatus::Pending);
                    env.mark(&key, Flag::OptInRequestSent)?;
                    (
                        Outcome::Forward(None),
                        Durable::AfterCommit,
                        GroupDecision::Forward,
                    )
                }
                Decision::Hold {
                    send_opt_in_request,
                    set_status,
                } => {
                    if send_opt_in_request {
                        let text = policy::render(ResponseKind::OptInRequest, campaign);
                        self.queue_own(env, &key, "opt_in_request", &text)?;
                        env.mark(&key, Flag::OptInRequestSent)?;
                    }
                    if let Some(s) = set_status {
                        env.set_status(&key, s, "opt_in_request", "")?;
                        moved_to = Some(s);
                    }
                    let gid = self.hold(env, &key, campaign, None, "awaiting opt-in")?;
                    (
                        Outcome::Held(gid),
                        Durable::AfterCommit,
                        GroupDecision::Hold(gid),
                    )
                }
                Decision::Reject { status, reason } => {
                    event_row(env, &key, "blocked", reason.as_str(), "")?;
                    (
                        Outcome::Reject(status),
                        Durable::Now,
                        GroupDecision::Reject(status),
                    )
                }
            };
        if let Some(gk) = gkey {
            if let Ok(mut g) = self.groups.lock() {
                g.put(gk, remember);
            }
        }
        env.fill_consent(&row);
        // Only a real change counts (set_status to the status it had is not one).
        let moved_to = moved_to.filter(|s| *s != row.status);
        Ok(((outcome, moved_to), durable))
    }

    pub(super) fn hold(
        &self,
        t: &mut dyn StoreTxn,
        key: &Key,
        campaign: &policy::Campaign,
        group: Option<i64>,
        reason: &str,
    ) -> Result<i64, StoreError> {
        let ttl = i64::try_from(campaign.hold_ttl.as_millis()).unwrap_or(i64::MAX);
        let rd = msgs::facts(&self.pdu).map_or(0, |f| f.registered_delivery);
        let gid = t.hold(&NewHeld {
            key,
            account: &self.account,
            group_id: group,
            ttl_ms: ttl,
            registered_delivery: rd,
            pdu: &self.pdu.to_bytes(),
        })?;
        if group.is_none() {
            event_row(t, key, "held", reason, &msgs::optgate_id(gid))?;
        }
        Ok(gid)
    }

    /// The MT with the footer appended, or `None` and the footer queued as
    /// its own message right after.
    fn footer(
        &self,
        t: &mut dyn StoreTxn,
        key: &Key,
        text: &str,
    ) -> Result<Option<Pdu>, StoreError> {
        if self.group.is_none() {
            if let Some(p) = msgs::with_footer(&self.pdu, text, self.cfg.alphabet) {
                return Ok(Some(p));
            }
        }
        self.queue_own(t, key, "footer", text)?;
        Ok(None)
    }

    /// Queues one of optgate's own messages from this MT's sender to its recipient.
    fn queue_own(
        &self,
        t: &mut dyn StoreTxn,
        key: &Key,
        kind: &str,
        text: &str,
    ) -> Result<(), StoreError> {
        let Some(f) = msgs::facts(&self.pdu) else {
            return Ok(());
        };
        let parts = msgs::own_submits(text, &f.source, &f.dest, reference(key));
        for p in parts {
            t.outbox_push(kind, key, super::INTERNAL_ACCOUNT, None, &p.to_bytes())?;
        }
        Ok(())
    }
}

/// A concatenation reference that differs between recipients.
pub(super) fn reference(key: &Key) -> u16 {
    let h = key
        .recipient
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    (h ^ (now_ms() as u32)) as u16
}

/// Records an event without a status change.
pub(super) fn event_row(
    t: &mut dyn StoreTxn,
    key: &Key,
    kind: &str,
    source: &str,
    ids: &str,
) -> Result<(), StoreError> {
    t.insert_event(&Event {
        key: key.clone(),
        kind: kind.into(),
        old_status: None,
        new_status: None,
        source: source.into(),
        message_ids: ids.into(),
    })
}
