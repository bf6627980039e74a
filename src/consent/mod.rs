//! The consent engine: carries out the pure decisions of [`crate::policy`]
//! against the store. One place for each flow:
//!
//! - [`mt`]: a platform's submit → forward, hold or reject (read, decide and
//!   write in one store transaction, in order with MO changes);
//! - [`mo`]: a carrier MO → keyword, consent change, responses, delivery,
//!   committed before the carrier is answered;
//! - [`settle`]: held messages released (opt-in), dropped (opt-out) or
//!   expired, whoever changed the consent (MO, command line, API);
//! - [`outbox`]: optgate's own messages to the carrier, retried while it is
//!   down;
//! - [`msgs`]: the PDUs involved;
//! - [`quiet`]: quiet hours — the clock, and quiet holds released when
//!   the recipient's window opens;
//! - [`retention`]: message bodies and old events purged in small batches;
//! - [`review`]: a probable opt-out turned into an opt-out by an operator;
//! - `revoke`: an opt-out carried to the other campaigns its
//!   `opt_out_scope` reaches (revoke-all).

pub mod held;
pub mod manual;
pub mod mo;
pub mod msgs;
pub mod mt;
pub mod multi;
pub mod outbox;
pub mod quiet;
pub mod retention;
pub mod review;
mod revoke;
pub mod settle;
mod timeline;

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::Config;
use crate::policy::{
    Campaign, Campaigns, Keywords, PhraseMode, RevokeAll, StatusCodes, Unassigned,
};
use crate::store::Store;
use crate::text::coding::DefaultAlphabet;

/// The account name optgate uses for its own messages: receipts for them
/// are absorbed, never sent to a platform.
pub const INTERNAL_ACCOUNT: &str = "";

/// The engine's view of the configuration (replaced whole on reload).
#[derive(Debug)]
pub struct EngineConfig {
    pub campaigns: Campaigns,
    pub keywords: Keywords,
    pub codes: StatusCodes,
    pub phrase: PhraseMode,
    pub country_code: String,
    pub forward_keywords: bool,
    pub alphabet: DefaultAlphabet,
    /// How far each campaign's opt-outs reach (`opt_out_scope`).
    pub revoke: RevokeAll,
    /// `[policy] opt_out_confirmation_deadline`.
    pub confirm_deadline: std::time::Duration,
    /// Quiet hours per campaign and the override tables.
    pub quiet: crate::policy::quiet::Quiet,
}

impl EngineConfig {
    /// Maps a validated config onto the policy types.
    pub fn from_config(cfg: &Config) -> Result<EngineConfig, String> {
        use crate::config as c;
        let cc = &cfg.numbers.default_country_code;
        let campaigns = cfg
            .campaigns
            .iter()
            .map(|k| Campaign {
                id: k.id.clone(),
                approved: k.status == c::CampaignStatus::Approved,
                brand: k.brand.clone(),
                numbers: k
                    .numbers
                    .iter()
                    .map(|n| crate::numbers::normalise(n, 0, cc))
                    .collect(),
                scope: match k.consent_scope {
                    c::ConsentScope::Number => crate::policy::Scope::Number,
                    c::ConsentScope::Campaign => crate::policy::Scope::Campaign,
                },
                outbound_unknown: match k.outbound_unknown {
                    c::OutboundUnknown::Allow => crate::policy::OutboundUnknown::Allow,
                    c::OutboundUnknown::RequireOptIn => {
                        crate::policy::OutboundUnknown::RequireOptIn
                    }
                    c::OutboundUnknown::Prevent => crate::policy::OutboundUnknown::Prevent,
                },
                inbound_unknown: match k.inbound_unknown {
                    c::InboundUnknown::Allow => crate::policy::InboundUnknown::Allow,
                    c::InboundUnknown::AutoOptIn => crate::policy::InboundUnknown::AutoOptIn,
                },
                start_word: k.start_word.clone(),
                opt_in_message: k.opt_in_message.clone(),
                help_response: k.help_response.clone(),
                attachment_first_message: k.attachment == c::Attachment::FirstMessage,
                footer: k.footer.clone(),
                hold_ttl: k.hold_ttl,
                max_held_per_recipient: k.max_held_per_recipient,
            })
            .collect();
        let unassigned = match cfg.policy.unassigned_senders {
            c::UnassignedSenders::Pass => Unassigned::Pass,
            c::UnassignedSenders::Reject => Unassigned::Reject,
        };
        let codes = StatusCodes {
            opted_out: cfg.status_codes.opted_out,
            prevented: cfg.status_codes.prevented,
            unassigned_sender: cfg.status_codes.unassigned_sender,
        };
        let campaigns = Campaigns::new(campaigns, unassigned, &codes).map_err(|e| e.to_string())?;
        let revoke = revoke_groups(cfg, &campaigns);
        let k = &cfg.keywords;
        Ok(EngineConfig {
            campaigns,
            keywords: Keywords::new(&k.opt_out, &k.opt_in, &k.help),
            codes,
            phrase: match k.phrase_opt_out {
                c::PhraseOptOut::Flag => PhraseMode::Flag,
                c::PhraseOptOut::OptOut => PhraseMode::OptOut,
            },
            country_code: cc.clone(),
            forward_keywords: k.forward_keywords,
            alphabet: match cfg.text.default_alphabet {
                c::Alphabet::Gsm7 => DefaultAlphabet::Gsm7,
                c::Alphabet::Latin1 => DefaultAlphabet::Latin1,
                c::Alphabet::Ascii => DefaultAlphabet::Ascii,
            },
            revoke,
            confirm_deadline: cfg.policy.opt_out_confirmation_deadline,
            quiet: crate::config::quiet_policy(cfg),
        })
    }
}

/// The revoke-all groups of the config's campaigns and accounts.
fn revoke_groups(cfg: &Config, campaigns: &Campaigns) -> RevokeAll {
    use crate::config::OptOutScope as S;
    use crate::policy::OptOutScope as P;
    let cc = &cfg.numbers.default_country_code;
    let scopes = cfg
        .campaigns
        .iter()
        .map(|k| {
            let s = match k.opt_out_scope {
                S::Campaign => P::Campaign,
                S::Account => P::Account,
                S::Brand => P::Brand,
            };
            (k.id.clone(), s)
        })
        .collect();
    let accounts: Vec<(String, Vec<String>)> = cfg
        .server
        .accounts
        .iter()
        .map(|a| {
            let nums = a
                .numbers
                .iter()
                .map(|n| crate::numbers::normalise(n, 0, cc))
                .collect();
            (a.system_id.clone(), nums)
        })
        .collect();
    RevokeAll::new(campaigns, &scopes, &accounts)
}

/// Where the engine finds the configuration in force: one load per call,
/// so a reload is seen at once (implemented by [`crate::runtime::Live`]).
pub trait EngineConfigSource: Send + Sync {
    /// The engine configuration in force now.
    fn engine_config(&self) -> Arc<EngineConfig>;
}

/// The consent engine. Shared by every session and carrier bind.
pub struct Engine {
    config: Arc<dyn EngineConfigSource>,
    store: Store,
    groups: Arc<Mutex<mt::Groups>>,
    parts: Mutex<mo::Parts>,
    /// Wakes the outbox sender (new rows).
    pub outbox_wake: Notify,
    /// Wakes the settler (consent changed, or a hold to look at).
    pub settle_wake: Notify,
    clock: quiet::Clock,
}

impl Engine {
    /// An engine over `store` reading the configuration in force from
    /// `config` (the daemon hands it [`crate::runtime::Live`]).
    pub fn new(config: Arc<dyn EngineConfigSource>, store: Store) -> Engine {
        Engine {
            config,
            store,
            groups: Arc::new(Mutex::new(mt::Groups::default())),
            parts: Mutex::new(mo::Parts::new()),
            outbox_wake: Notify::new(),
            settle_wake: Notify::new(),
            clock: quiet::Clock::default(),
        }
    }

    /// The configuration in force (see [`crate::runtime`]).
    pub fn config(&self) -> Arc<EngineConfig> {
        self.config.engine_config()
    }

    /// The clock quiet hours are judged by (see [`quiet::Clock`]).
    pub fn clock(&self) -> &quiet::Clock {
        &self.clock
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The scope key of `campaign` as stored.
pub fn store_key(campaign: &Campaign, sender: &str, recipient: &str) -> crate::store::consent::Key {
    let k = campaign.scope_key(sender, recipient);
    crate::store::consent::Key {
        campaign: k.campaign,
        sender: k.sender.unwrap_or_default(),
        recipient: k.recipient,
    }
}
