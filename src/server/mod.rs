//! The platform side: the SMPP listener and one task per connection.

pub mod auth;
mod conn;
mod full;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::inbound::Inbound;
use crate::upstream::Pool;
use auth::{Account, FailedBinds};

/// Settings of the platform side, from `[server]`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub max_connections: usize,
    pub window: usize,
    pub bind_timeout: Duration,
    pub inactivity_timeout: Duration,
    pub enquire_link_interval: Duration,
    pub response_timeout: Duration,
    pub max_pdu_len: usize,
    pub failed_bind_limit: u32,
    pub failed_bind_window: Duration,
    /// `[server] shutdown_grace`: how long an unbound session keeps relaying
    /// answers to its requests in flight.
    pub shutdown_grace: Duration,
}

/// What every platform session shares.
pub struct ServerCtx {
    pub settings: ServerSettings,
    live: Arc<crate::runtime::Live>,
    pub pool: Arc<Pool>,
    pub inbound: Arc<Inbound>,
    pub engine: Arc<crate::consent::Engine>,
    binds: Mutex<HashMap<Arc<str>, usize>>,
    failed: Mutex<FailedBinds>,
    next_session: AtomicU64,
    /// `max_connections` slots, shared by the plain and the TLS listener.
    connections: Arc<Semaphore>,
    /// Refusals being answered at once, over both listeners.
    answering: Arc<Semaphore>,
}

impl ServerCtx {
    /// Shared state for the listener and its sessions.
    pub fn new(
        settings: ServerSettings,
        live: Arc<crate::runtime::Live>,
        pool: Arc<Pool>,
        inbound: Arc<Inbound>,
        engine: Arc<crate::consent::Engine>,
    ) -> Arc<ServerCtx> {
        let failed = FailedBinds::new(settings.failed_bind_limit, settings.failed_bind_window);
        let settings_max = settings.max_connections;
        Arc::new(ServerCtx {
            settings,
            live,
            pool,
            inbound,
            engine,
            binds: Mutex::new(HashMap::new()),
            failed: Mutex::new(failed),
            next_session: AtomicU64::new(1),
            connections: Arc::new(Semaphore::new(settings_max)),
            answering: Arc::new(Semaphore::new(full::MAX_ANSWERING)),
        })
    }

    fn accounts(&self) -> Arc<HashMap<String, Account>> {
        self.live.load().accounts.clone()
    }

    /// A session's copy of the runtime configuration (see [`crate::runtime`]).
    fn runtime_cache(&self) -> crate::runtime::Cached {
        arc_swap::Cache::new(self.live.clone())
    }

    /// Takes a bind slot for `account`; false when `max_binds` are in use.
    fn take_bind(&self, account: &Account) -> bool {
        let Ok(mut binds) = self.binds.lock() else {
            return false;
        };
        let n = binds.entry(account.system_id.clone()).or_insert(0);
        if *n >= account.max_binds {
            return false;
        }
        *n += 1;
        metrics::gauge!("optgate_binds", "side" => "platform", "account" => account.system_id.to_string()).set(*n as f64);
        true
    }

    fn release_bind(&self, account: &Arc<str>) {
        if let Ok(mut binds) = self.binds.lock() {
            if let Some(n) = binds.get_mut(account) {
                *n = n.saturating_sub(1);
                metrics::gauge!("optgate_binds", "side" => "platform", "account" => account.to_string()).set(*n as f64);
            }
        }
    }

    fn bind_blocked(&self, ip: IpAddr) -> bool {
        self.failed
            .lock()
            .map(|mut f| f.is_blocked(ip, std::time::Instant::now()))
            .unwrap_or(false)
    }

    /// Records a failed bind toward `ip`'s limit (the caller counts the
    /// refusal in `optgate_failed_binds_total`).
    fn bind_failed(&self, ip: IpAddr) {
        if let Ok(mut f) = self.failed.lock() {
            f.record(ip, std::time::Instant::now());
        }
    }
}

/// Accepts platform connections until `shutdown` turns true, then waits for
/// the sessions (which unbind and drain by themselves) up to `grace`. With
/// `tls`, each connection first completes a TLS handshake within
/// `bind_timeout` (the bind must then come within what is left of it).
/// Over `max_connections`, a new connection is refused at once ([`full`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<crate::tls::Acceptor>>,
    ctx: Arc<ServerCtx>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let limit = ctx.connections.clone();
    let answering = ctx.answering.clone();
    let mut sessions = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: wait a little rather than spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            full::refuse(stream, peer, ctx.settings.max_connections, &answering);
            continue;
        };
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        sessions.spawn(async move {
            let accepted = std::time::Instant::now();
            let (stream, identity) = match tls {
                None => (stream.into(), crate::tls::PeerIdentity::default()),
                Some(a) => match a.accept(stream, peer, ctx.settings.bind_timeout).await {
                    Some((s, identity)) => (s.into(), identity),
                    None => return, // counted and logged by the acceptor
                },
            };
            conn::Session::new(ctx, stream, identity, peer, accepted, shutdown)
                .run()
                .await;
            drop(permit);
        });
        // Reap finished sessions so the set does not grow.
        while sessions.try_join_next().is_some() {}
    }
    drop(listener);
    info!(
        sessions = sessions.len(),
        "listener closed; draining platform sessions"
    );
    if tokio::time::timeout(grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        warn!("grace period over; closing remaining platform sessions");
        sessions.abort_all();
    }
}
