//! The configuration a running optgate works with, as one immutable value
//! swapped whole on reload: a reader (a platform session, a carrier MO, the
//! admin API) sees the accounts, routes and consent configuration of one
//! reload together, never half of one and half of the next.
//!
//! The types it holds are declared here or below it (the accounts, the
//! routes, [`EngineConfig`]); the modules that read it import it, never the
//! other way round (the consent engine reads it through
//! [`EngineConfigSource`]).
//!
//! Reading is one [`arc_swap`] load (no lock, no shared reference count in
//! the common case); a platform session keeps an [`arc_swap::Cache`] and
//! pays one atomic load per message.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::IpNet;
use crate::consent::{EngineConfig, EngineConfigSource};
use crate::deliver::Dispatcher;

/// One platform account as the server needs it.
#[derive(Debug, Clone)]
pub struct Account {
    pub system_id: Arc<str>,
    pub password: String,
    pub max_binds: usize,
    pub allowed_ips: Vec<IpNet>,
    /// The sender addresses this account may submit from, normalised with
    /// [`crate::numbers::normalise`]; `None`: any (`allow_any_sender`).
    pub senders: Option<Arc<HashSet<String>>>,
    /// `[numbers] default_country_code`, to normalise submitted senders.
    pub country_code: Arc<str>,
    /// Bind only over TLS.
    pub require_tls: bool,
    /// Bind only with a client certificate naming this (CN or SAN).
    pub tls_client_name: Option<String>,
}

impl Account {
    /// Whether a submit from `addr` (TON `ton`) is allowed: always with
    /// `allow_any_sender`, else only when the normalised address is one of
    /// the account's numbers. Alphanumeric senders (TON 5, or letters) are
    /// compared case-insensitively, so they pass only when listed.
    pub fn may_send_from(&self, addr: &[u8], ton: u8) -> bool {
        let Some(senders) = &self.senders else {
            return true;
        };
        let Ok(addr) = std::str::from_utf8(addr) else {
            return false;
        };
        senders.contains(&crate::numbers::normalise(addr, ton, &self.country_code))
    }
}

/// Where carrier traffic goes: sender number → account, account → dispatcher.
#[derive(Debug, Default)]
pub struct Routes {
    /// Normalised sender number → account system_id.
    pub numbers: RouteMap<String, Arc<str>>,
    /// Account system_id → its dispatcher.
    pub dispatchers: RouteMap<Arc<str>, Dispatcher>,
    /// `[numbers] default_country_code`, for normalising addresses.
    pub country_code: String,
    /// `[upstream] id_map_always`: every receipt-asking MT is mapped.
    pub id_map_always: bool,
    /// `[server] direct_delivery_wait`: how long a carrier receipt or plain
    /// MO handed straight to a platform waits for its answer before it is
    /// stored instead; zero: always stored first.
    pub direct_wait: std::time::Duration,
}

/// A map of [`Routes`], looked up for every carrier message. foldhash, not
/// SipHash: its keys come from the configuration, and lookups with the
/// addresses a carrier sends can not flood a table they do not fill.
pub type RouteMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl Routes {
    /// The account that owns the business number `a`.
    pub fn account_for(&self, a: &crate::pdu::Address) -> Option<Arc<str>> {
        std::str::from_utf8(&a.addr).ok()?;
        let n = crate::numbers::of(a, &self.country_code);
        self.numbers.get(n.as_str()).cloned()
    }
}

/// One reload's worth of configuration.
#[derive(Debug)]
pub struct Runtime {
    /// Counts reloads: 0 at start, one more per reload.
    pub version: u64,
    /// Platform accounts by system_id.
    pub accounts: Arc<HashMap<String, Account>>,
    /// Where carrier traffic goes.
    pub routes: Arc<Routes>,
    /// Campaigns, keywords and the rest of the consent engine's view.
    pub engine: Arc<EngineConfig>,
}

/// The runtime configuration in force, shared by everyone who reads it.
pub type Live = ArcSwap<Runtime>;

/// A reader's copy of the [`Live`] value, refreshed only after a reload.
pub type Cached = arc_swap::Cache<Arc<Live>, Arc<Runtime>>;

/// The first runtime configuration (version 0).
pub fn live(accounts: HashMap<String, Account>, routes: Routes, engine: EngineConfig) -> Arc<Live> {
    Arc::new(ArcSwap::from_pointee(Runtime {
        version: 0,
        accounts: Arc::new(accounts),
        routes: Arc::new(routes),
        engine: Arc::new(engine),
    }))
}

/// Replaces the whole runtime configuration at once; `engine: None` keeps
/// the engine configuration in force. Returns the new version.
pub fn reload(
    live: &Live,
    accounts: HashMap<String, Account>,
    routes: Routes,
    engine: Option<EngineConfig>,
) -> u64 {
    // Reloads come from one signal handler, one at a time: load-then-store
    // cannot lose a concurrent reload.
    let old = live.load();
    let next = Runtime {
        version: old.version + 1,
        accounts: Arc::new(accounts),
        routes: Arc::new(routes),
        engine: engine.map_or_else(|| old.engine.clone(), Arc::new),
    };
    let version = next.version;
    live.store(Arc::new(next));
    version
}

impl EngineConfigSource for Live {
    fn engine_config(&self) -> Arc<EngineConfig> {
        self.load().engine.clone()
    }
}
