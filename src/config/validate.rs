//! `Config::validate`: every check serde can not make, each problem one line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::error::Problem;
use super::ipnet::parse_ip_net;
use super::keywords::fold;
use super::{AccountConfig, CampaignConfig, Config, StoreBackend};

/// Placeholders allowed in campaign templates.
pub const TEMPLATE_PLACEHOLDERS: &[&str] = &["{brand}", "{start_word}"];

/// SMPP C-Octet String limits (DESIGN: system_id C(16), password C(9), system_type C(13)).
const MAX_SYSTEM_ID: usize = 15;
const MAX_PASSWORD: usize = 8;
const MAX_SYSTEM_TYPE: usize = 12;

/// Temporary codes (ESME_RSYSERR, ESME_RMSGQFUL, ESME_RTHROTTLED) and OK:
/// platforms retry these, so a consent block must never use them.
const FORBIDDEN_BLOCK_CODES: &[u32] = &[0x00, 0x08, 0x14, 0x58];

/// Maps a configured number to the form two numbers are compared in.
pub type NumberKey<'a> = &'a dyn Fn(&str) -> String;

/// Collects the problems of `cfg`; numbers are compared by `key`.
pub(super) fn all(cfg: &Config, key: NumberKey<'_>) -> Vec<Problem> {
    let mut p = Vec::new();
    server(cfg, &mut p);
    tls(cfg, &mut p);
    upstream(cfg, &mut p);
    other_sections(cfg, &mut p);
    keywords(cfg, &mut p);
    accounts(&cfg.server.accounts, key, &mut p);
    campaigns(cfg, key, &mut p);
    super::webhooks::validate(cfg, &mut p);
    super::retention::validate(cfg, &mut p);
    super::quiet::validate(cfg, &mut p);
    p
}

fn server(cfg: &Config, p: &mut Vec<Problem>) {
    let s = &cfg.server;
    // The plain listener may be off ("") in a TLS-only installation.
    if s.listen.is_empty() && !s.tls.enabled() {
        p.push(Problem::text(
            "server.listen",
            &s.listen,
            "empty, and no [server.tls] listen either: platforms could not connect",
        ));
    } else if !s.listen.is_empty() {
        if let Err(e) = socket_addr("server.listen", &s.listen) {
            p.push(e);
        }
    }
    at_least(p, "server.max_connections", s.max_connections.into(), 1);
    at_least(p, "server.window", s.window.into(), 1);
    at_least(p, "server.max_pdu_len", s.max_pdu_len.into(), 512);
    at_least(p, "server.failed_bind_limit", s.failed_bind_limit.into(), 1);
    positive(p, "server.bind_timeout", s.bind_timeout);
    positive(p, "server.inactivity_timeout", s.inactivity_timeout);
    positive(p, "server.failed_bind_window", s.failed_bind_window);
    if s.direct_delivery_wait > Duration::from_secs(30) {
        p.push(Problem::raw(
            "server.direct_delivery_wait",
            format!("\"{}\"", humantime::format_duration(s.direct_delivery_wait)),
            "must be at most 30s: the carrier waits that long for its answer (0s stores every receipt and MO first)",
        ));
    }
}

/// `[server.tls]`, `[upstream.tls]` and the accounts' TLS keys: the files
/// are loaded and checked now, so a broken one is refused at start and on
/// SIGHUP (the old certificate stays in force).
fn tls(cfg: &Config, p: &mut Vec<Problem>) {
    let t = &cfg.server.tls;
    let key_of = |path: &str, keys: &[(&'static str, &str)]| {
        keys.iter()
            .find(|(_, v)| *v == path)
            .map_or("server.tls", |(k, _)| *k)
    };
    if t.enabled() {
        if let Err(e) = socket_addr("server.tls.listen", &t.listen) {
            p.push(e);
        }
        // Port 0 (any free port, as tests use) can not collide.
        if t.listen == cfg.server.listen && !t.listen.ends_with(":0") {
            p.push(Problem::text(
                "server.tls.listen",
                &t.listen,
                "the same address as server.listen",
            ));
        }
        for (k, v) in [("server.tls.cert", &t.cert), ("server.tls.key", &t.key)] {
            if v.is_empty() {
                p.push(Problem::text(
                    k,
                    v,
                    "required when server.tls.listen is set",
                ));
            }
        }
        if !t.cert.is_empty() && !t.key.is_empty() {
            if let Err(e) = crate::tls::server_config(&t.cert, &t.key, &t.client_ca) {
                let keys = [
                    ("server.tls.cert", t.cert.as_str()),
                    ("server.tls.key", t.key.as_str()),
                    ("server.tls.client_ca", t.client_ca.as_str()),
                ];
                let key = match &e {
                    crate::tls::TlsError::File { path, .. } => key_of(path, &keys),
                    crate::tls::TlsError::Setup(_) => "server.tls",
                };
                p.push(Problem::raw(key, "", e.to_string()));
            }
        }
    }
    for (i, a) in cfg.server.accounts.iter().enumerate() {
        if (a.require_tls || !a.tls_client_name.is_empty()) && !t.enabled() {
            p.push(Problem::raw(
                format!("server.accounts[{i}].require_tls"),
                "",
                "needs a [server.tls] listener",
            ));
        }
        if !a.tls_client_name.is_empty() && t.client_ca.is_empty() {
            p.push(Problem::text(
                format!("server.accounts[{i}].tls_client_name"),
                &a.tls_client_name,
                "needs server.tls.client_ca (client certificates are not asked for without it)",
            ));
        }
    }
    let u = &cfg.upstream.tls;
    if u.enabled {
        if let Err(e) = crate::tls::client_config(
            &u.ca,
            &u.server_name,
            &cfg.upstream.address,
            &u.cert,
            &u.key,
        ) {
            let keys = [
                ("upstream.tls.ca", u.ca.as_str()),
                ("upstream.tls.cert", u.cert.as_str()),
                ("upstream.tls.key", u.key.as_str()),
            ];
            let key = match &e {
                crate::tls::TlsError::File { path, .. } => key_of(path, &keys),
                crate::tls::TlsError::Setup(_) => "upstream.tls",
            };
            p.push(Problem::raw(key, "", e.to_string()));
        }
    }
}

fn upstream(cfg: &Config, p: &mut Vec<Problem>) {
    let u = &cfg.upstream;
    if let Err(e) = host_port("upstream.address", &u.address) {
        p.push(e);
    }
    c_string(p, "upstream.system_id", &u.system_id, MAX_SYSTEM_ID, true);
    c_string(p, "upstream.password", &u.password, MAX_PASSWORD, false);
    c_string(
        p,
        "upstream.system_type",
        &u.system_type,
        MAX_SYSTEM_TYPE,
        false,
    );
    at_least(p, "upstream.binds", u.binds.into(), 1);
    at_least(p, "upstream.window", u.window.into(), 1);
    positive(p, "upstream.enquire_link_interval", u.enquire_link_interval);
    positive(p, "upstream.response_timeout", u.response_timeout);
    positive(p, "upstream.reconnect_min", u.reconnect_min);
    positive(p, "upstream.reconnect_max", u.reconnect_max);
    positive(p, "upstream.id_map_ttl", u.id_map_ttl);
    if u.reconnect_min > u.reconnect_max {
        p.push(Problem::raw(
            "upstream.reconnect_min",
            format!(
                "{:?}",
                humantime::format_duration(u.reconnect_min).to_string()
            ),
            format!(
                "greater than upstream.reconnect_max ({})",
                humantime::format_duration(u.reconnect_max)
            ),
        ));
    }
}

fn store(s: &super::StoreConfig, p: &mut Vec<Problem>) {
    match s.backend {
        StoreBackend::Sqlite => {
            if s.path.trim().is_empty() {
                p.push(Problem::text("store.path", &s.path, "must not be empty"));
            }
        }
        StoreBackend::Postgres => {
            // The value is shown with any password blanked out.
            let shown = crate::pgurl::redact(&s.url);
            if let Err(why) = crate::pgurl::parse_url(&s.url) {
                p.push(Problem::text(
                    "store.url",
                    &shown,
                    format!("not a PostgreSQL connection string: {why}"),
                ));
            }
            at_least(p, "store.pool_size", s.pool_size.into(), 1);
            if s.lease < std::time::Duration::from_secs(1) {
                p.push(Problem::text(
                    "store.lease",
                    &format!("{:?}", s.lease),
                    "must be at least 1s",
                ));
            }
            if s.instance.len() > 200 {
                p.push(Problem::text(
                    "store.instance",
                    &s.instance,
                    "must be at most 200 characters",
                ));
            }
        }
    }
}

fn other_sections(cfg: &Config, p: &mut Vec<Problem>) {
    positive(
        p,
        "policy.opt_out_confirmation_deadline",
        cfg.policy.opt_out_confirmation_deadline,
    );
    store(&cfg.store, p);
    at_least(
        p,
        "store.max_stored_deliveries",
        cfg.store.max_stored_deliveries,
        1,
    );
    at_least(p, "store.batch_max", cfg.store.batch_max.into(), 1);
    if let Err(e) = socket_addr("admin.listen", &cfg.admin.listen) {
        p.push(e);
    }
    let cc = &cfg.numbers.default_country_code;
    if cc.is_empty()
        || cc.len() > 3
        || !cc.bytes().all(|b| b.is_ascii_digit())
        || cc.starts_with('0')
    {
        p.push(Problem::text(
            "numbers.default_country_code",
            cc,
            "not a country calling code (1 to 3 digits, no +)",
        ));
    }
    let codes = &cfg.status_codes;
    for (key, code) in [
        ("status_codes.opted_out", codes.opted_out),
        ("status_codes.prevented", codes.prevented),
        ("status_codes.unassigned_sender", codes.unassigned_sender),
    ] {
        if FORBIDDEN_BLOCK_CODES.contains(&code) {
            p.push(Problem::raw(
                key,
                format!("{code:#x}"),
                "OK or a temporary error; platforms would retry a consent block (use a permanent code such as 0x400)",
            ));
        }
    }
}

fn keywords(cfg: &Config, p: &mut Vec<Problem>) {
    let k = &cfg.keywords;
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (list_key, list) in [
        ("keywords.opt_out", &k.opt_out),
        ("keywords.opt_in", &k.opt_in),
        ("keywords.help", &k.help),
    ] {
        for (i, word) in list.iter().enumerate() {
            let key = format!("{list_key}[{i}]");
            let folded = fold(word);
            if folded.is_empty() {
                p.push(Problem::text(key, word, "must not be empty"));
                continue;
            }
            match seen.get(&folded) {
                Some(other) if *other != list_key => {
                    p.push(Problem::text(key, word, format!("also in {other}")));
                }
                _ => {
                    seen.insert(folded, list_key);
                }
            }
        }
    }
}

fn accounts(accounts: &[AccountConfig], nk: NumberKey<'_>, p: &mut Vec<Problem>) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<String, &str> = HashMap::new();
    for (i, a) in accounts.iter().enumerate() {
        let base = format!("server.accounts[{i}]");
        c_string(
            p,
            &format!("{base}.system_id"),
            &a.system_id,
            MAX_SYSTEM_ID,
            true,
        );
        c_string(
            p,
            &format!("{base}.password"),
            &a.password,
            MAX_PASSWORD,
            true,
        );
        at_least(p, &format!("{base}.max_binds"), a.max_binds.into(), 1);
        if let Some(first) = ids.insert(&a.system_id, i) {
            p.push(Problem::text(
                format!("{base}.system_id"),
                &a.system_id,
                format!("already used by server.accounts[{first}]"),
            ));
        }
        for (j, net) in a.allowed_ips.iter().enumerate() {
            if parse_ip_net(net).is_none() {
                p.push(Problem::text(
                    format!("{base}.allowed_ips[{j}]"),
                    net,
                    "not an IP address or network (addr/len)",
                ));
            }
        }
        for (j, n) in a.numbers.iter().enumerate() {
            let key = format!("{base}.numbers[{j}]");
            number_once(p, &mut numbers, key, nk(n), n, (&a.system_id, "account"));
        }
    }
}

fn campaigns(cfg: &Config, nk: NumberKey<'_>, p: &mut Vec<Problem>) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<String, &str> = HashMap::new();
    for (i, c) in cfg.campaigns.iter().enumerate() {
        let base = format!("campaigns[{i}]");
        if c.id.trim().is_empty() {
            p.push(Problem::text(
                format!("{base}.id"),
                &c.id,
                "must not be empty",
            ));
        } else if let Some(first) = ids.insert(&c.id, i) {
            p.push(Problem::text(
                format!("{base}.id"),
                &c.id,
                format!("already used by campaigns[{first}]"),
            ));
        }
        if c.brand.trim().is_empty() {
            p.push(Problem::text(
                format!("{base}.brand"),
                &c.brand,
                "must not be empty",
            ));
        }
        for (j, n) in c.numbers.iter().enumerate() {
            let key = format!("{base}.numbers[{j}]");
            number_once(p, &mut numbers, key, nk(n), n, (&c.id, "campaign"));
        }
        campaign_words(cfg, c, &base, p);
        for (field, text) in [
            ("opt_in_message", &c.opt_in_message),
            ("help_response", &c.help_response),
            ("footer", &c.footer),
        ] {
            if let Some(why) = template_problem(text) {
                p.push(Problem::text(format!("{base}.{field}"), text, why));
            }
        }
        positive(p, &format!("{base}.hold_ttl"), c.hold_ttl);
        at_least(
            p,
            &format!("{base}.max_held_per_recipient"),
            c.max_held_per_recipient.into(),
            1,
        );
    }
}

fn campaign_words(cfg: &Config, c: &CampaignConfig, base: &str, p: &mut Vec<Problem>) {
    let key = format!("{base}.start_word");
    let word = fold(&c.start_word);
    if word.is_empty() {
        p.push(Problem::text(key, &c.start_word, "must not be empty"));
    } else if cfg.keywords.opt_out.iter().any(|k| fold(k) == word) {
        p.push(Problem::text(
            key,
            &c.start_word,
            "is also an opt-out keyword",
        ));
    } else if cfg.keywords.help.iter().any(|k| fold(k) == word) {
        p.push(Problem::text(key, &c.start_word, "is also a help keyword"));
    }
}

/// Records that `number` (compared as `norm`) belongs to `owner`, an
/// account or a campaign; a second owner is a problem.
fn number_once<'a>(
    p: &mut Vec<Problem>,
    seen: &mut HashMap<String, &'a str>,
    key: String,
    norm: String,
    number: &str,
    (owner, kind): (&'a str, &str),
) {
    if norm.is_empty() {
        p.push(Problem::text(key, number, "not a number"));
        return;
    }
    match seen.get(&norm) {
        Some(other) if *other != owner => {
            p.push(Problem::text(
                key,
                number,
                format!("also in {kind} {other:?}"),
            ));
        }
        _ => {
            seen.insert(norm, owner);
        }
    }
}

/// A coarse comparison key for config numbers: digits only for phone
/// numbers (`+` and `00` dropped), case-folded text for alphanumeric senders.
/// The daemon matches addresses with the full normalisation of `numbers`.
pub fn coarse_number_key(number: &str) -> String {
    let t = number.trim();
    let phone = t
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if phone {
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let plus = t.starts_with('+');
        match digits.strip_prefix("00") {
            Some(rest) if !plus => rest.to_owned(),
            _ => digits,
        }
    } else {
        t.to_lowercase()
    }
}

/// Why `text` is not a valid template, if it is not.
fn template_problem(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            return Some("unclosed { in template".into());
        };
        let placeholder = &after[..=close];
        if !TEMPLATE_PLACEHOLDERS.contains(&placeholder) {
            return Some(format!(
                "unknown placeholder {placeholder} (allowed: {})",
                TEMPLATE_PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    None
}

/// Parses a listen address (IP literal and port).
pub(super) fn socket_addr(key: &str, value: &str) -> Result<SocketAddr, Problem> {
    value
        .parse::<SocketAddr>()
        .map_err(|_| Problem::text(key, value, "not a socket address (ip:port)"))
}

/// Checks a connect address: `host:port` with a host name or IP and a port 1-65535.
fn host_port(key: &str, value: &str) -> Result<(), Problem> {
    if value.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let bad = |why: &str| Problem::text(key, value, why);
    if value.is_empty() {
        return Err(bad("required (host:port of the carrier SMSC)"));
    }
    let (host, port) = value.rsplit_once(':').ok_or_else(|| bad("not host:port"))?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    match port.parse::<u16>() {
        Ok(p) if p > 0 && host_ok => Ok(()),
        _ => Err(bad("not host:port")),
    }
}

fn c_string(p: &mut Vec<Problem>, key: &str, value: &str, max: usize, required: bool) {
    if required && value.is_empty() {
        p.push(Problem::text(key, value, "required"));
    } else if value.len() > max {
        p.push(Problem::text(
            key,
            value,
            format!("longer than {max} characters (SMPP limit)"),
        ));
    } else if !value.is_ascii() {
        p.push(Problem::text(key, value, "must be ASCII"));
    }
}

fn at_least(p: &mut Vec<Problem>, key: &str, value: u64, min: u64) {
    if value < min {
        p.push(Problem::raw(key, value, format!("must be at least {min}")));
    }
}

fn positive(p: &mut Vec<Problem>, key: &str, value: Duration) {
    if value.is_zero() {
        p.push(Problem::raw(key, "\"0s\"", "must be longer than zero"));
    }
}
