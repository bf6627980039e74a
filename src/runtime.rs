//! The configuration a running optgate works with, as one immutable value
//! swapped whole on reload: a reader (a platform session, a carrier MO, the
//! admin API) sees the accounts, routes and consent configuration of one
//! reload together, never half of one and half of the next.
//!
//! Reading is one [`arc_swap`] load (no lock, no shared reference count in
//! the common case); a platform session keeps an [`arc_swap::Cache`] and
//! pays one atomic load per message.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::consent::EngineConfig;
use crate::inbound::Routes;
use crate::server::auth::Account;

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
