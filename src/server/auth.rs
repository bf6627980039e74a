//! Platform authentication: accounts, passwords, source-IP allow-lists, bind
//! limits, and a per-IP limit on failed binds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::pdu::status;

pub use crate::runtime::Account;

/// Checks a bind request against the accounts. `Err` is the bind_resp status.
pub fn authenticate<'a>(
    accounts: &'a HashMap<String, Account>,
    system_id: &[u8],
    password: &[u8],
    peer: IpAddr,
) -> Result<&'a Account, u32> {
    let id = std::str::from_utf8(system_id).map_err(|_| status::ESME_RINVSYSID)?;
    let account = accounts.get(id).ok_or(status::ESME_RINVSYSID)?;
    if !constant_time_eq(account.password.as_bytes(), password) {
        return Err(status::ESME_RINVPASWD);
    }
    if !account.allowed_ips.is_empty() && !account.allowed_ips.iter().any(|c| c.contains(peer)) {
        return Err(status::ESME_RBINDFAIL);
    }
    Ok(account)
}

/// Checks an authenticated account's transport rules (`require_tls`,
/// `tls_client_name`). `Err` is ESME_RBINDFAIL, as DESIGN.md §8 says.
pub fn transport_allowed(account: &Account, peer: &crate::tls::PeerIdentity) -> Result<(), u32> {
    let pinned = account.tls_client_name.as_deref();
    if (account.require_tls || pinned.is_some()) && !peer.tls {
        tracing::info!("bind refused: the account requires TLS");
        return Err(status::ESME_RBINDFAIL);
    }
    if let Some(name) = pinned {
        if !peer.names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            tracing::info!(
                "bind refused: the client certificate does not name the account's tls_client_name"
            );
            return Err(status::ESME_RBINDFAIL);
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts failed binds per source IP over a sliding window.
#[derive(Debug)]
pub struct FailedBinds {
    limit: u32,
    window: Duration,
    seen: HashMap<IpAddr, (u32, Instant)>,
}

impl FailedBinds {
    /// At most `limit` failures per `window` per IP.
    pub fn new(limit: u32, window: Duration) -> FailedBinds {
        FailedBinds {
            limit,
            window,
            seen: HashMap::new(),
        }
    }

    /// True when `ip` has used up its failures and must wait.
    pub fn is_blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.seen.get(&ip) {
            Some(&(n, since)) if now.duration_since(since) < self.window => n >= self.limit,
            Some(_) => {
                self.seen.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records one failure from `ip`.
    pub fn record(&mut self, ip: IpAddr, now: Instant) {
        let window = self.window;
        let e = self.seen.entry(ip).or_insert((0, now));
        if now.duration_since(e.1) >= window {
            *e = (0, now);
        }
        e.0 += 1;
        // Bound the table: drop stale entries when it grows.
        if self.seen.len() > 10_000 {
            self.seen.retain(|_, v| now.duration_since(v.1) < window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn accounts() -> HashMap<String, Account> {
        let mut m = HashMap::new();
        m.insert(
            "pbx".to_string(),
            Account {
                system_id: "pbx".into(),
                password: "secret".into(),
                max_binds: 2,
                allowed_ips: vec![crate::config::parse_ip_net("10.0.0.0/8").unwrap()],
                senders: Some(Arc::new(
                    ["14155550100".to_string(), "acme".to_string()].into(),
                )),
                country_code: "1".into(),
                require_tls: false,
                tls_client_name: None,
            },
        );
        m
    }

    #[test]
    fn transport_rules() {
        use crate::tls::PeerIdentity;
        let mut a = accounts().remove("pbx").unwrap();
        let plain = PeerIdentity::default();
        let tls = |names: &[&str]| PeerIdentity {
            tls: true,
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        assert_eq!(transport_allowed(&a, &plain), Ok(()));
        a.require_tls = true;
        assert_eq!(transport_allowed(&a, &plain), Err(status::ESME_RBINDFAIL));
        assert_eq!(transport_allowed(&a, &tls(&[])), Ok(()));
        a.require_tls = false;
        a.tls_client_name = Some("pbx.example.com".into());
        assert_eq!(transport_allowed(&a, &plain), Err(status::ESME_RBINDFAIL));
        assert_eq!(
            transport_allowed(&a, &tls(&[])),
            Err(status::ESME_RBINDFAIL)
        );
        assert_eq!(
            transport_allowed(&a, &tls(&["other", "PBX.example.com"])),
            Ok(())
        );
    }

    #[test]
    fn senders_are_compared_normalised_and_alphanumerics_only_when_listed() {
        let a = accounts();
        let pbx = &a["pbx"];
        assert!(pbx.may_send_from(b"14155550100", 1));
        assert!(pbx.may_send_from(b"4155550100", 0), "national form");
        assert!(pbx.may_send_from(b"+1 415 555 0100", 0));
        assert!(!pbx.may_send_from(b"14155550199", 1));
        assert!(pbx.may_send_from(b"ACME", 5), "listed alphanumeric");
        assert!(!pbx.may_send_from(b"OTHER", 5));
        assert!(!pbx.may_send_from(b"\xff", 1));
        let any = Account {
            senders: None,
            ..pbx.clone()
        };
        assert!(any.may_send_from(b"OTHER", 5));
    }

    #[test]
    fn credentials_and_allow_list() {
        let a = accounts();
        let ok: IpAddr = "10.1.2.3".parse().unwrap();
        let bad: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(authenticate(&a, b"pbx", b"secret", ok).is_ok());
        assert_eq!(
            authenticate(&a, b"nope", b"secret", ok).unwrap_err(),
            status::ESME_RINVSYSID
        );
        assert_eq!(
            authenticate(&a, b"pbx", b"wrong", ok).unwrap_err(),
            status::ESME_RINVPASWD
        );
        assert_eq!(
            authenticate(&a, b"pbx", b"secret", bad).unwrap_err(),
            status::ESME_RBINDFAIL
        );
    }

    #[test]
    fn failed_binds_limit_and_reset() {
        let mut f = FailedBinds::new(3, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!f.is_blocked(ip, t0));
            f.record(ip, t0);
        }
        assert!(f.is_blocked(ip, t0));
        assert!(!f.is_blocked(ip, t0 + Duration::from_secs(61)));
    }
}
