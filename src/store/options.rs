//! What the store needs from the configuration ([`StoreOptions`]).

use std::path::PathBuf;
use std::time::Duration;

use super::postgres;
use crate::config::{Config, Durability, StoreBackend};

/// What the store needs from the configuration.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Which database: an SQLite file at `path` or PostgreSQL at `url`.
    pub backend: StoreBackend,
    /// SQLite database file; parent directories are created.
    pub path: PathBuf,
    /// PostgreSQL connection string (libpq URL or key=value).
    pub url: String,
    /// Bound on connecting to PostgreSQL (start-up fails after it).
    pub connect_timeout: Duration,
    /// `synchronous=FULL` or `NORMAL`.
    pub durability: Durability,
    /// Bound on stored deliveries.
    pub max_stored_deliveries: u64,
    /// Most requests per commit.
    pub batch_max: usize,
    /// Id map rows older than this are ignored and purged.
    pub id_map_ttl: Duration,
    /// Requests queued towards the store thread before senders wait.
    pub queue_capacity: usize,
    /// How long a statement waits for another process's lock (e.g. a CLI
    /// command) before failing.
    pub busy_timeout: Duration,
    /// The daemon's instance name (`[store] instance`, resolved); empty for
    /// the command line, which claims no identity.
    pub instance: String,
    /// `[store] lease`: heartbeat period is a third of it.
    pub lease: Duration,
    /// PostgreSQL: most connections the admin reads use at once
    /// ([`Store::read`]), besides the store thread's and the listener's.
    pub pool_size: u32,
}

impl StoreOptions {
    /// Options from the loaded configuration.
    pub fn from_config(cfg: &Config) -> Self {
        let batch_max = usize::try_from(cfg.store.batch_max)
            .unwrap_or(usize::MAX)
            .max(1);
        Self {
            backend: cfg.store.backend,
            path: PathBuf::from(&cfg.store.path),
            url: cfg.store.url.clone(),
            connect_timeout: Duration::from_secs(10),
            durability: cfg.store.durability,
            max_stored_deliveries: cfg.store.max_stored_deliveries,
            batch_max,
            id_map_ttl: cfg.upstream.id_map_ttl,
            queue_capacity: batch_max.saturating_mul(8).max(1024),
            busy_timeout: Duration::from_secs(5),
            instance: String::new(),
            lease: cfg.store.lease,
            pool_size: cfg.store.pool_size,
        }
    }

    /// Defaults (as in the bundled config) for a database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let mut opts = Self::from_config(&Config::default());
        opts.path = path.into();
        opts
    }

    /// Defaults (as in the bundled config) for the PostgreSQL database at `url`.
    pub fn postgres(url: impl Into<String>) -> Self {
        let mut opts = Self::from_config(&Config::default());
        opts.backend = StoreBackend::Postgres;
        opts.url = url.into();
        opts
    }

    /// Where the data lives, for messages: the path, or the URL without
    /// its password.
    pub fn describe(&self) -> String {
        match self.backend {
            StoreBackend::Sqlite => self.path.display().to_string(),
            StoreBackend::Postgres => postgres::conn::redact(&self.url),
        }
    }
}
