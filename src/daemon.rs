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
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::AdminState;
use crate::config::Config;
use crate::consent::{Engine, EngineConfig};
use crate::deliver::Dispatcher;
use crate::inbound::Inbound;
use crate::lifecycle::Phase;
use crate::server::ServerCtx;
use crate::store::{Store, StoreError, StoreOptions};
use crate::upstream::Pool;

mod settings;
use settings::{accounts, build_routes, server_settings, upstream_settings};

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
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// A running optgate.
pub struct Daemon {
    smpp_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    tls: Option<Arc<crate::tls::Acceptor>>,
    admin_addr: SocketAddr,
    store: Store,
    /// The configuration in force, replaced whole by [`Daemon::reload`].
    live: Arc<crate::runtime::Live>,
    /// Shutdown phase 1: the listener, platform sessions, admin surface and
    /// the background loops (settle, outbox, cache control).
    shutdown_tx: watch::Sender<bool>,
    server: JoinHandle<()>,
    admin: JoinHandle<()>,
    /// Settle, outbox and cache-control loops (stop in phase 1).
    background: Vec<JoinHandle<()>>,
    /// The carrier binds (stop in phase 2, see [`crate::lifecycle`]).
    carrier: Vec<JoinHandle<()>>,
    carrier_stop: Phase,
    /// Dispatchers and every task spawned per message; waited for last.
    tasks: TaskTracker,
    /// Stops the dispatchers once nothing can feed them any more.
    tasks_stop: CancellationToken,
    dispatchers: std::sync::Mutex<HashMap<Arc<str>, Dispatcher>>,
    engine: Arc<Engine>,
    pool: Arc<Pool>,
}

impl Daemon {
    /// Opens the store, starts the carrier binds, serves platforms on
    /// `listener` (or on `[server] listen` when `None`) and the admin HTTP
    /// surface on `[admin] listen`.
    pub async fn start(cfg: &Config, listener: Option<TcpListener>) -> Result<Daemon, StartError> {
        // First, so what start-up reports (certificate expiry) is recorded.
        let metrics = crate::telemetry::install();
        let listener = match listener {
            Some(l) => Some(l),
            // TLS-only installations turn the plain listener off.
            None if cfg.server.listen.is_empty() => None,
            None => Some(listen(&cfg.server.listen).await?),
        };
        let smpp_addr = match &listener {
            Some(l) => local_addr(l, &cfg.server.listen)?,
            None => SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let mut opts = StoreOptions::from_config(cfg);
        // The listen port as bound (a configured port 0 gets a real one);
        // TLS-only: the TLS listener's configured port.
        let port = match smpp_addr.port() {
            0 => cfg
                .server
                .tls
                .listen
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok()),
            p => Some(p),
        };
        opts.instance =
            crate::store::postgres::instance::resolve_name(&cfg.store.instance, port.unwrap_or(0));
        metrics::gauge!("optgate_instance_info", "instance" => opts.instance.clone()).set(1.0);
        let path = opts.describe();
        let store = Store::open(opts)
            .await
            .map_err(|source| StartError::Store { path, source })?;
        let (tls, tls_listener) = match server_tls(cfg)? {
            Some(t) => {
                let l = listen(&cfg.server.tls.listen).await?;
                (Some(Arc::new(crate::tls::Acceptor::new(t))), Some(l))
            }
            None => (None, None),
        };
        let tls_addr = match &tls_listener {
            Some(l) => Some(local_addr(l, &cfg.server.tls.listen)?),
            None => None,
        };
        let admin_listener = bind_admin(cfg).await?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                addr: cfg.admin.listen.clone(),
                source,
            })?;
        export_known_metrics(cfg);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let tasks = TaskTracker::new();
        let tasks_stop = CancellationToken::new();
        let carrier_stop = Phase::new();
        let mut dispatchers = HashMap::new();
        let routes = build_routes(cfg, &store, &mut dispatchers, &tasks, &tasks_stop);
        let engine_cfg = EngineConfig::from_config(cfg).map_err(StartError::Config)?;
        let live = crate::runtime::live(accounts(cfg), routes, engine_cfg);
        wake_on_elsewhere(&store, live.clone());
        let engine = Arc::new(Engine::new(live.clone(), store.clone()));
        let inbound = Arc::new(Inbound::new(
            store.clone(),
            live.clone(),
            200_000,
            engine.clone(),
        ));
        inbound.load_id_map_horizon(cfg.upstream.id_map_ttl).await;
        let (pool, carrier) = Pool::spawn(
            Arc::new(upstream_settings(cfg)?),
            inbound.clone(),
            carrier_stop.clone(),
        );
        let ctx = ServerCtx::new(
            server_settings(cfg),
            live.clone(),
            pool.clone(),
            inbound.clone(),
            engine.clone(),
        );
        let mut background = Vec::new();
        let routes_of = inbound.clone();
        let lookup = move |a: &str| routes_of.routes().dispatchers.get(a).cloned();
        background.push(tokio::spawn(
            engine.clone().settle_loop(lookup, shutdown_rx.clone()),
        ));
        background.push(tokio::spawn(crate::store::cache::serve_control(
            std::path::PathBuf::from(&cfg.store.path),
            store.consent_cache().clone(),
            shutdown_rx.clone(),
        )));
        background.push(tokio::spawn(crate::consent::retention::run(
            store.clone(),
            cfg.store.retention.clone(),
            shutdown_rx.clone(),
        )));
        background.push(tokio::spawn(crate::webhook::run(
            store.clone(),
            cfg.webhooks.clone(),
            shutdown_rx.clone(),
        )));
        background.push(tokio::spawn(engine.clone().outbox_loop(
            pool.clone(),
            cfg.upstream.response_timeout,
            shutdown_rx.clone(),
        )));
        let admin = tokio::spawn(crate::admin::serve(
            admin_listener,
            AdminState {
                metrics,
                store: store.clone(),
                pool: pool.clone(),
                token: Arc::from(cfg.admin.token.as_str()),
                engine: engine.clone(),
            },
            shutdown_rx.clone(),
        ));
        let grace = cfg.server.shutdown_grace;
        // One handle for both listeners: shutdown waits for the platform
        // side as a whole (plain and TLS sessions alike).
        let tls_server = match (tls_listener, &tls) {
            (Some(l), Some(a)) => Some(crate::server::serve(
                l,
                Some(a.clone()),
                ctx.clone(),
                shutdown_rx.clone(),
                grace,
            )),
            _ => None,
        };
        let plain_server =
            listener.map(|l| crate::server::serve(l, None, ctx.clone(), shutdown_rx, grace));
        let server = tokio::spawn(async move {
            let plain = async {
                if let Some(s) = plain_server {
                    s.await;
                }
            };
            let tls = async {
                if let Some(s) = tls_server {
                    s.await;
                }
            };
            tokio::join!(plain, tls);
        });
        info!(instance = store.instance(), listen = %smpp_addr, tls_listen = ?tls_addr, admin = %admin_addr, upstream = %cfg.upstream.address, "optgate started");
        Ok(Daemon {
            smpp_addr,
            tls_addr,
            tls,
            admin_addr,
            store,
            live,
            shutdown_tx,
            server,
            admin,
            background,
            carrier,
            carrier_stop,
            tasks,
            tasks_stop,
            dispatchers: std::sync::Mutex::new(dispatchers),
            engine,
            pool,
        })
    }

    /// Where platforms connect.
    pub fn smpp_addr(&self) -> SocketAddr {
        self.smpp_addr
    }

    /// Where platforms connect over TLS, when `[server.tls]` is set.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Where the admin HTTP surface listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The clock quiet hours are judged by; tests set it (a Rust call,
    /// not reachable from the config or the command line).
    pub fn clock(&self) -> &crate::consent::quiet::Clock {
        self.engine.clock()
    }

    /// Wakes the settler (a test that moved the clock).
    pub fn wake_settler(&self) {
        self.engine.settle_wake.notify_one();
    }

    /// The store (for the admin surface and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many carrier binds are up.
    pub fn upstream_binds_up(&self) -> usize {
        self.pool.binds_up()
    }

    /// The configuration in force.
    pub fn runtime(&self) -> Arc<crate::runtime::Runtime> {
        self.live.load_full()
    }

    /// Applies a new, already validated config: accounts, numbers, routes,
    /// campaigns and keywords, as one swap (see [`crate::runtime`]). Binds
    /// stay up; listener addresses and store settings need a restart.
    pub fn reload(&self, cfg: &Config) {
        let (tasks, stop) = (&self.tasks, &self.tasks_stop);
        let routes = match self.dispatchers.lock() {
            Ok(mut d) => build_routes(cfg, &self.store, &mut d, tasks, stop),
            Err(e) => build_routes(cfg, &self.store, &mut e.into_inner(), tasks, stop),
        };
        let engine = EngineConfig::from_config(cfg)
            .inspect_err(|why| warn!(%why, "campaigns not reloaded"))
            .ok();
        let version = crate::runtime::reload(&self.live, accounts(cfg), routes, engine);
        // Held messages may be released under the new campaigns.
        self.engine.settle_wake.notify_one();
        // A reload also picks up consent edited by hand in the database.
        self.store.consent_cache().clear();
        // New handshakes use the new certificate; sessions stay up. The
        // files were checked by validate(); one that broke since is refused
        // here and the old certificate stays in force.
        if let Some(acceptor) = &self.tls {
            match server_tls(cfg) {
                Ok(Some(new)) => acceptor.replace(new),
                Ok(None) => warn!("[server.tls] removed: the TLS listener stays until a restart"),
                Err(e) => warn!(error = %e, "TLS certificate not reloaded; the old one stays"),
            }
        }
        export_known_metrics(cfg);
        info!(version, "configuration reloaded");
    }

    /// Graceful stop in two phases, every platform request answered:
    ///
    /// 1. the listener closes and the platforms are unbound (a request they
    ///    still send is answered ESME_RTHROTTLED) while the carrier binds
    ///    keep serving, so what is with the carrier gets its real answer;
    ///    this lasts until every platform session ended or half of `grace`;
    /// 2. the carrier binds answer what is still queued ESME_RTHROTTLED,
    ///    relay the carrier's answers until three quarters of `grace`, answer
    ///    the rest with an error and unbind (each bind answers the carrier
    ///    deliveries whose commits finish meanwhile, in order); then the
    ///    dispatchers' tasks finish, the dispatchers stop and the store is
    ///    flushed.
    pub async fn shutdown(self, grace: Duration) {
        let start = Instant::now();
        // Past the grace, a task that still runs is left behind (a stuck peer).
        let hard = start + grace + Duration::from_secs(2);
        let mut late = false;
        let _ = self.shutdown_tx.send(true);
        let mut server = self.server;
        let platforms_done = tokio::time::timeout_at(start + grace / 2, &mut server)
            .await
            .is_ok();
        info!(
            platforms_done,
            "shutdown phase 2: draining the carrier binds"
        );
        self.carrier_stop.begin(start + grace * 3 / 4);
        for t in self.carrier {
            late |= tokio::time::timeout_at(hard, t).await.is_err();
        }
        if !platforms_done {
            late |= tokio::time::timeout_at(hard, server).await.is_err();
        }
        for t in self.background {
            late |= tokio::time::timeout_at(hard, t).await.is_err();
        }
        late |= tokio::time::timeout_at(hard, self.admin).await.is_err();
        // Nothing feeds the dispatchers any more; commits in flight finish.
        self.tasks_stop.cancel();
        self.tasks.close();
        late |= tokio::time::timeout_at(hard, self.tasks.wait())
            .await
            .is_err();
        if late {
            warn!("shutdown grace exceeded");
        }
        if let Err(e) = self.store.close().await {
            warn!(error = %e, "store close failed");
        }
        info!("optgate stopped");
    }
}

async fn listen(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })
}

fn local_addr(l: &TcpListener, addr: &str) -> Result<SocketAddr, StartError> {
    l.local_addr().map_err(|source| StartError::Listen {
        addr: addr.to_string(),
        source,
    })
}

/// The platform-side TLS acceptor, when `[server.tls]` is configured.
fn server_tls(cfg: &Config) -> Result<Option<crate::tls::ServerTls>, crate::tls::TlsError> {
    let t = &cfg.server.tls;
    if !t.enabled() {
        return Ok(None);
    }
    crate::tls::server_config(&t.cert, &t.key, &t.client_ca).map(Some)
}

async fn bind_admin(cfg: &Config) -> Result<TcpListener, StartError> {
    TcpListener::bind(&cfg.admin.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: cfg.admin.listen.clone(),
            source,
        })
}

/// The metric series of this config's accounts and carrier binds, and the
/// fixed ones, at 0 until they move ([`crate::telemetry::export_known`]).
fn export_known_metrics(cfg: &Config) {
    crate::telemetry::export_known(
        cfg.server.accounts.iter().map(|a| a.system_id.as_str()),
        cfg.upstream.binds as usize,
    );
}

/// Rows another instance stored for an account (or its delivery claim
/// released) wake that account's dispatcher at once; `*` wakes all.
fn wake_on_elsewhere(store: &Store, live: Arc<crate::runtime::Live>) {
    // The routes in force (a reload may have added accounts).
    store.elsewhere().on_delivery(Box::new(move |account| {
        let routes = live.load().routes.clone();
        let wake =
            |d: &crate::deliver::Dispatcher| d.try_send(crate::deliver::DispatchMsg::Elsewhere);
        if account == "*" {
            routes.dispatchers.values().for_each(|d| {
                wake(d);
            });
        } else if let Some(d) = routes.dispatchers.get(account) {
            wake(d);
        }
    }));
}
