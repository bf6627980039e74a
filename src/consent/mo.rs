//! A carrier MO through the consent engine: keywords, consent change,
//! responses and the MO's own delivery, all in one store transaction that
//! commits before the carrier is answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{msgs, store_key, Engine, EngineConfig};
use crate::pdu::Pdu;
use crate::policy::{self, Class, Lookup, MoDecision, ResponseKind};
use crate::store::consent::{Flag, Key};
use crate::store::{DeliveryKind, Durable, StoreError, StoreTxn, TxnEnv};
use crate::text::coding;
use crate::text::reassembly::{Push, Reassembler};

/// Multipart MOs being put back together for keyword matching.
pub struct Parts {
    r: Reassembler<(String, String), Bytes>,
}

impl Parts {
    pub(super) fn new() -> Parts {
        Parts {
            r: Reassembler::new(10_000, 50_000, Duration::from_secs(120)),
        }
    }
}

impl Default for Parts {
    fn default() -> Self {
        Parts::new()
    }
}

/// What the MO work produced, once committed.
pub struct Done {
    /// The MO's own delivery row, when it is delivered to the platform.
    pub delivery: Option<u64>,
    decision: MoDecision,
    class: &'static str,
    /// Other campaigns' keys the opt-out refused (`opt_out_scope`).
    scoped: u64,
}

impl Engine {
    /// The consent half of an MO's classification: the store work for an
    /// MO to `account` whose destination an approved campaign covers, with
    /// its keyword class (multipart parts are put back together here);
    /// `None` when no campaign covers it (plain routing applies). The
    /// pipeline that runs the work and answers the carrier is
    /// [`crate::inbound`].
    pub fn mo_work(&self, account: &Arc<str>, pdu: &Pdu) -> Option<Box<Work>> {
        let received_ms = crate::store::consent::now_ms();
        let cfg = self.config();
        let f = msgs::facts(pdu)?;
        let sender = crate::numbers::of(&f.dest, &cfg.country_code);
        let Lookup::Enforce(campaign) = cfg.campaigns.lookup(&sender) else {
            return None;
        };
        let recipient = crate::numbers::of(&f.source, &cfg.country_code);
        let text = match f.concat {
            None => Some(msgs::text(&f, cfg.alphabet).unwrap_or_default()),
            Some(c) => {
                let pushed = self.parts.lock().map(|mut p| {
                    p.r.push(
                        (recipient.clone(), sender.clone()),
                        c,
                        f.payload.clone(),
                        Instant::now(),
                    )
                });
                match pushed {
                    Ok(Push::Complete(parts)) => {
                        let joined: Vec<u8> =
                            parts.iter().flat_map(|p| p.iter().copied()).collect();
                        Some(
                            coding::decode(f.data_coding, &joined, cfg.alphabet)
                                .unwrap_or_default(),
                        )
                    }
                    // A part of a message not complete yet: delivered as is;
                    // its keywords are judged when the last part arrives.
                    _ => None,
                }
            }
        };
        let class = text.map(|t| policy::classify(&t, &cfg.keywords, campaign));
        let key = store_key(campaign, &sender, &recipient);
        Some(Box::new(Work {
            received_ms,
            cfg: cfg.clone(),
            campaign_id: campaign.id.clone(),
            key,
            class,
            account: account.clone(),
            pdu: pdu.clone(),
        }))
    }

    /// After the commit (the carrier is answered by the pipeline): count
    /// the keyword, wake the outbox and the settler.
    pub fn after_mo(&self, done: &Done) {
        if done.class != "other" {
            metrics::counter!("optgate_keywords_total", "class" => done.class).increment(1);
        }
        if let Some(s) = done.decision.new_status {
            metrics::counter!("optgate_consent_changes_total", "to" => s.as_str()).increment(1);
            self.settle_wake.notify_one();
        }
        if done.scoped > 0 {
            metrics::counter!("optgate_consent_changes_total", "to" => "refused")
                .increment(done.scoped);
            self.settle_wake.notify_one();
        }
        if !done.decision.responses.is_empty() {
            self.outbox_wake.notify_one();
        }
    }
}

/// The store-thread half of an MO.
pub struct Work {
    /// When the MO reached optgate (ms): the opt-out confirmation's
    /// deadline runs from it.
    received_ms: i64,
    cfg: Arc<EngineConfig>,
    campaign_id: String,
    key: Key,
    /// `None` for a part of an incomplete multipart message.
    class: Option<Class>,
    account: Arc<str>,
    pdu: Pdu,
}

impl Work {
    /// Runs in the store transaction: consent change, event, responses and
    /// the MO's own delivery.
    pub fn run(self, env: &mut TxnEnv<'_>) -> Result<(Done, Durable), StoreError> {
        let mut done = Done {
            delivery: None,
            decision: MoDecision::default(),
            class: "other",
            scoped: 0,
        };
        let campaign = self.cfg.campaigns.get(&self.campaign_id);
        if let (Some(campaign), Some(class)) = (campaign, &self.class) {
            let row = env.consent(&self.key)?;
            let d = policy::decide_mo(row.status, class, campaign, self.cfg.phrase);
            let (label, word) = describe(class);
            done.class = label;
            if let Some(s) = d.new_status {
                env.set_status(&self.key, s, word, "")?;
            }
            // An opt-out (also a repeated one) reaches what the campaign's
            // opt_out_scope says; START restores only its own key.
            if d.drop_held {
                let n = super::revoke::refuse_group(env, &self.cfg, campaign, &self.key, word)?;
                done.scoped = n as u64;
            }
            if let Some(ev) = d.event {
                super::mt::event_row(env, &self.key, ev.as_str(), word, "")?;
            }
            for r in &d.responses {
                self.respond(env, campaign, *r)?;
            }
            done.decision = d;
        }
        let keyword = !matches!(self.class, None | Some(Class::Other));
        if self.cfg.forward_keywords || !keyword {
            done.delivery = Some(env.enqueue_delivery(
                &self.account,
                DeliveryKind::Mo,
                &self.pdu.to_bytes(),
            )?);
        }
        Ok((done, Durable::AfterCommit))
    }

    /// Queues a response from the business number back to the recipient.
    fn respond(
        &self,
        t: &mut dyn StoreTxn,
        campaign: &policy::Campaign,
        kind: ResponseKind,
    ) -> Result<(), StoreError> {
        let text = policy::render(kind, campaign);
        if text.trim().is_empty() {
            return Ok(());
        }
        let Some(f) = msgs::facts(&self.pdu) else {
            return Ok(());
        };
        let parts = msgs::own_submits(&text, &f.dest, &f.source, super::mt::reference(&self.key));
        for p in parts {
            let id = t.outbox_push(
                kind.as_str(),
                &self.key,
                super::INTERNAL_ACCOUNT,
                None,
                &p.to_bytes(),
            )?;
            if kind == ResponseKind::OptOutResponse {
                t.outbox_received(id, self.received_ms)?;
            }
        }
        if kind == ResponseKind::OptInRequest {
            t.mark(&self.key, Flag::OptInRequestSent)?;
        }
        Ok(())
    }
}

/// Metric label and event source of a keyword class.
fn describe(class: &Class) -> (&'static str, &str) {
    match class {
        Class::OptOut(w) => ("opt_out", w.as_str()),
        Class::OptIn(w) => ("opt_in", w.as_str()),
        Class::Help(w) => ("help", w.as_str()),
        Class::ProbableOptOut(w) => ("probable_opt_out", w.as_str()),
        Class::Other => ("other", "inbound message"),
    }
}
