//! `[[webhooks]]`: receivers of every consent change (README "Opt-out
//! webhooks"), and their validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Config, Problem};

/// One `[[webhooks]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the JSON is POSTed to; also the
    /// webhook's identity in the store (changing it starts a new one).
    pub url: String,
    /// HMAC-SHA256 key of the `X-Optgate-Signature` header.
    pub secret: String,
    /// Only changes of these campaign ids; empty: every campaign.
    pub campaigns: Vec<String>,
    /// Connect + answer deadline of one POST.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            secret: String::new(),
            campaigns: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The problems of every `[[webhooks]]` table.
pub(super) fn validate(cfg: &Config, p: &mut Vec<Problem>) {
    let mut seen: Vec<&str> = Vec::new();
    for (i, w) in cfg.webhooks.iter().enumerate() {
        let base = format!("webhooks[{i}]");
        let scheme_ok = w.url.starts_with("http://") || w.url.starts_with("https://");
        let parsed = w.url.parse::<http::Uri>();
        if !scheme_ok || parsed.as_ref().map_or(true, |u| u.host().is_none()) {
            p.push(Problem::text(
                format!("{base}.url"),
                &w.url,
                "must be an http:// or https:// URL with a host",
            ));
        } else if seen.contains(&w.url.as_str()) {
            p.push(Problem::text(format!("{base}.url"), &w.url, "listed twice"));
        }
        seen.push(&w.url);
        if w.secret.trim().is_empty() {
            p.push(Problem::text(
                format!("{base}.secret"),
                "",
                "must not be empty (the receiver checks the signature with it)",
            ));
        }
        for (j, c) in w.campaigns.iter().enumerate() {
            if !cfg.campaigns.iter().any(|k| &k.id == c) {
                p.push(Problem::text(
                    format!("{base}.campaigns[{j}]"),
                    c,
                    "no campaign with this id",
                ));
            }
        }
        if w.timeout.is_zero() {
            p.push(Problem::text(
                format!("{base}.timeout"),
                "0s",
                "must be positive",
            ));
        }
    }
}
