//! The configuration turned into what each part of the daemon takes: the
//! routes (with a dispatcher per account, kept across reloads), the
//! accounts, the platform listener's and the carrier binds' settings.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, UpstreamBind};
use crate::deliver::Dispatcher;
use crate::inbound::Routes;
use crate::server::auth::Account;
use crate::server::ServerSettings;
use crate::store::Store;
use crate::upstream::tps::TokenBucket;
use crate::upstream::UpstreamSettings;

/// Number → account routes, with a dispatcher per account (kept across reloads).
pub(super) fn build_routes(
    cfg: &Config,
    store: &Store,
    dispatchers: &mut HashMap<Arc<str>, Dispatcher>,
    tasks: &TaskTracker,
    stop: &CancellationToken,
) -> Routes {
    let cc = cfg.numbers.default_country_code.clone();
    let mut routes = Routes {
        country_code: cc.clone(),
        id_map_always: cfg.upstream.id_map_always,
        direct_wait: cfg.server.direct_delivery_wait,
        ..Default::default()
    };
    for a in &cfg.server.accounts {
        let id: Arc<str> = Arc::from(a.system_id.as_str());
        let d = dispatchers
            .entry(id.clone())
            .or_insert_with(|| Dispatcher::spawn(id.clone(), store.clone(), tasks, stop.clone()))
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

pub(super) fn accounts(cfg: &Config) -> HashMap<String, Account> {
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
                require_tls: a.require_tls,
                tls_client_name: (!a.tls_client_name.is_empty()).then(|| a.tls_client_name.clone()),
            };
            (a.system_id.clone(), account)
        })
        .collect()
}

pub(super) fn server_settings(cfg: &Config) -> ServerSettings {
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
        shutdown_grace: s.shutdown_grace,
    }
}

pub(super) fn upstream_settings(cfg: &Config) -> Result<UpstreamSettings, crate::tls::TlsError> {
    let u = &cfg.upstream;
    let t = &u.tls;
    let tls = if t.enabled {
        let c = crate::tls::client_config(&t.ca, &t.server_name, &u.address, &t.cert, &t.key)?;
        if let Some(f) = &c.client_cert {
            crate::tls::report_expiry("carrier", "client", f);
        }
        Some(c)
    } else {
        None
    };
    Ok(UpstreamSettings {
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
        tls,
    })
}
