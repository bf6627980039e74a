//! Wiring of a running optgate: store, carrier pool, inbound path, platform
//! listener. `main` and the integration tests both start it through
//! [`Daemon::start`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::admin::AdminState;
use crate::config::{Config, UpstreamBind};
use crate::consent::{Engine, EngineConfig};
use crate::deliver::Dispatcher;
use crate::inbound::{Inbound, Routes};
use crate::server::auth::Account;
use crate::server::{ServerCtx, ServerSettings};
use crate::store::{Store, StoreError, StoreOptions};
use crate::upstream::tps::TokenBucket;
use crate::upstream::{Pool, UpstreamSettings};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("campaigns: {0}")]
    Config(String),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A running optgate.
pub struct Daemon {
    smpp_addr: SocketAddr,
    admin_addr: SocketAddr,
    store: Store,
    ctx: Arc<ServerCtx>,
    inbound: Arc<Inbound>,
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
    admin: JoinHandle<()>,
    upstream: Vec<JoinHandle<()>>,
    dispatchers: std::sync::Mutex<HashMap<Arc<str>, Dispatcher>>,
    engine: Arc<Engine>,
    pool: Arc<Pool>,
}

impl Daemon {
    /// Opens the store, starts the carrier binds, serves platforms on
    /// `listener` (or on `[server] listen` when `None`) and the admin HTTP
    /// surface on `[admin] listen`.
    pub async fn start(cfg: &Config, listener: Option<TcpListener>) -> Result<Daemon, StartError> {
        let opts = StoreOptions::from_config(cfg);
        let path = opts.describe();
        let store = Store::open(opts)
            .await
            .map_err(|source| StartError::Store { path, source })?;
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(&cfg.server.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: cfg.server.listen.clone(),
                    source,
                })?,
        };
        let smpp_addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: cfg.server.listen.clone(),
            source,
        })?;
        let admin_listener = bind_admin(cfg).await?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                addr: cfg.admin.listen.clone(),
                source,
            })?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut dispatchers = HashMap::new();
        let routes = build_routes(cfg, &store, &mut dispatchers);
        let engine_cfg = EngineConfig::from_config(cfg).map_err(StartError::Config)?;
        let engine = Arc::new(Engine::new(engine_cfg, store.clone()));
        let inbound = Arc::new(Inbound::new(store.clone(), routes, 200_000, engine.clone()));
        let (pool, upstream) = Pool::spawn(
            Arc::new(upstream_settings(cfg)),
            inbound.clone(),
            shutdown_rx.clone(),
        );
        let ctx = ServerCtx::new(
            server_settings(cfg),
            accounts(cfg),
            pool.clone(),
            inbound.clone(),
            engine.clone(),
        );
        let mut upstream = upstream;
        let routes_of = inbound.clone();
        let lookup = move |a: &str| routes_of.routes().dispatchers.get(a).cloned();
        upstream.push(tokio::spawn(
            engine.clone().settle_loop(lookup, shutdown_rx.clone()),
        ));
        upstream.push(tokio::spawn(crate::store::cache::serve_control(
            std::path::PathBuf::from(&cfg.store.path),
            store.consent_cache().clone(),
            shutdown_rx.clone(),
        )));
        upstream.push(tokio::spawn(engine.clone().outbox_loop(
            pool.clone(),
            cfg.upstream.response_timeout,
            shutdown_rx.clone(),
        )));
        let admin = tokio::spawn(crate::admin::serve(
            admin_listener,
            AdminState {
                metrics: crate::telemetry::install(),
                store: store.clone(),
                pool: pool.clone(),
                token: Arc::from(cfg.admin.token.as_str()),
                engine: engine.clone(),
            },
            shutdown_rx.clone(),
        ));
        let grace = cfg.server.shutdown_grace;
        let server = tokio::spawn(crate::server::serve(
            listener,
            ctx.clone(),
            shutdown_rx,
            grace,
        ));
        info!(listen = %smpp_addr, admin = %admin_addr, upstream = %cfg.upstream.address, "optgate started");
        Ok(Daemon {
            smpp_addr,
            admin_addr,
            store,
            ctx,
            inbound,
            shutdown_tx,
            server,
            admin,
            upstream,
            dispatchers: std::sync::Mutex::new(dispatchers),
            engine,
            pool,
        })
    }

    /// Where platforms connect.
    pub fn smpp_addr(&self) -> SocketAddr {
        self.smpp_addr
    }

    /// Where the admin HTTP surface listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The store (for the admin surface and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many carrier binds are up.
    pub fn upstream_binds_up(&self) -> usize {
        self.pool.binds_up()
    }

    /// Applies a new, already validated config: accounts, numbers, routes.
    /// Binds stay up; listener addresses and store settings need a restart.
    pub fn reload(&self, cfg: &Config) {
        let routes = match self.dispatchers.lock() {
            Ok(mut d) => build_routes(cfg, &self.store, &mut d),
            Err(e) => build_routes(cfg, &self.store, &mut e.into_inner()),
        };
        self.inbound.set_routes(routes);
        match EngineConfig::from_config(cfg) {
            Ok(e) => self.engine.set_config(e),
            Err(why) => warn!(%why, "campaigns not reloaded"),
        }
        self.engine.settle_wake.notify_one();
        // A reload also picks up consent edited by hand in the database.
        self.store.consent_cache().clear();
        self.ctx.set_accounts(accounts(cfg));
        info!("configuration reloaded");
    }

    /// Graceful stop: stop accepting, unbind platforms and carrier, answer
    /// what is in flight within `grace`, flush the store.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown_tx.send(true);
        let all = async {
            let _ = self.server.await;
            for t in self.upstream {
                let _ = t.await;
            }
            let _ = self.admin.await;
        };
        if tokio::time::timeout(grace + Duration::from_secs(2), all)
            .await
            .is_err()
        {
            warn!("shutdown grace exceeded");
        }
        if let Err(e) = self.store.close().await {
            warn!(error = %e, "store close failed");
        }
        info!("optgate stopped");
    }
}

async fn bind_admin(cfg: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(&cfg.admin.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: cfg.admin.listen.clone(),
            source,
        })
}

/// Number → account routes, with a dispatcher per account (kept across reloads).
fn build_routes(
    cfg: &Config,
    store: &Store,
    dispatchers: &mut HashMap<Arc<str>, Dispatcher>,
) -> Routes {
    let cc = cfg.numbers.default_country_code.clone();
    let mut routes = Routes {
        country_code: cc.clone(),
        ..Default::default()
    };
    for a in &cfg.server.accounts {
        let id: Arc<str> = Arc::from(a.system_id.as_str());
        let d = dispatchers
            .entry(id.clone())
            .or_insert_with(|| Dispatcher::spawn(id.clone(), store.clone()))
            .clone();
        routes.dispatchers.insert(id.clone(), d);
        for n in &a.numbers {
            routes
                .numbers
                .insert(crate::numbers::normalise(n, 0, &cc), id.clone());
        }
    }
    routes
}

fn accounts(cfg: &Config) -> HashMap<String, Account> {
    let cc = cfg.numbers.default_country_code.as_str();
    cfg.server
        .accounts
        .iter()
        .map(|a| {
            let account = Account {
                system_id: Arc::from(a.system_id.as_str()),
                password: a.password.clone(),
                max_binds: a.max_binds as usize,
                // validate() has already rejected bad networks.
                allowed_ips: a
                    .allowed_ips
                    .iter()
                    .filter_map(|s| crate::config::parse_ip_net(s))
                    .collect(),
                senders: (!a.allow_any_sender).then(|| {
                    Arc::new(
                        a.numbers
                            .iter()
                            .map(|n| crate::numbers::normalise(n, 0, cc))
                            .collect(),
                    )
                }),
                country_code: Arc::from(cc),
            };
            (a.system_id.clone(), account)
        })
        .collect()
}

fn server_settings(cfg: &Config) -> ServerSettings {
    let s = &cfg.server;
    ServerSettings {
        max_connections: s.max_connections as usize,
        window: s.window as usize,
        bind_timeout: s.bind_timeout,
        inactivity_timeout: s.inactivity_timeout,
        enquire_link_interval: cfg.upstream.enquire_link_interval,
        response_timeout: cfg.upstream.response_timeout,
        max_pdu_len: s.max_pdu_len as usize,
        failed_bind_limit: s.failed_bind_limit,
        failed_bind_window: s.failed_bind_window,
    }
}

fn upstream_settings(cfg: &Config) -> UpstreamSettings {
    let u = &cfg.upstream;
    UpstreamSettings {
        address: u.address.clone(),
        system_id: u.system_id.clone(),
        password: u.password.clone(),
        system_type: u.system_type.clone(),
        binds: u.binds as usize,
        split_tx_rx: matches!(u.bind, UpstreamBind::TransmitterReceiver),
        window: u.window as usize,
        enquire_link_interval: u.enquire_link_interval,
        response_timeout: u.response_timeout,
        reconnect_min: u.reconnect_min,
        reconnect_max: u.reconnect_max,
        max_pdu_len: cfg.server.max_pdu_len as usize,
        tps: TokenBucket::new(u.max_tps),
    }
}
