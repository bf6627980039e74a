//! `[store.retention]`: how long message bodies and audit events are kept
//! (README "Retention").

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Config, Problem};

/// Four years: the TCPA limitation period (28 U.S.C. 1658), for the
/// events that prove consent or revocation.
pub const FOUR_YEARS: Duration = Duration::from_secs(4 * 36_525 * 24 * 36);

/// `[store.retention]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Stored MOs and receipts (their PDUs carry the text) older than this
    /// are deleted, delivered or not.
    #[serde(with = "humantime_serde")]
    pub message_bodies: Duration,
    /// Audit events older than this are deleted (consent rows never are).
    #[serde(with = "humantime_serde")]
    pub events: Duration,
    /// Rows deleted per store transaction.
    pub batch: u32,
    /// How often the purge runs.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            message_bodies: Duration::from_secs(30 * 24 * 3600),
            events: FOUR_YEARS,
            batch: 1000,
            interval: Duration::from_secs(3600),
        }
    }
}

/// The problems of `[store.retention]`.
pub(super) fn validate(cfg: &Config, p: &mut Vec<Problem>) {
    let r = &cfg.store.retention;
    let show = |d: Duration| humantime::format_duration(d).to_string();
    for (key, d) in [
        ("store.retention.message_bodies", r.message_bodies),
        ("store.retention.events", r.events),
        ("store.retention.interval", r.interval),
    ] {
        if d.is_zero() {
            p.push(Problem::text(key, &show(d), "must be positive"));
        }
    }
    if r.batch == 0 || r.batch > 100_000 {
        p.push(Problem::text(
            "store.retention.batch",
            &r.batch.to_string(),
            "must be 1 ..= 100000",
        ));
    }
    // A held message's text is kept for its hold_ttl.
    for (i, c) in cfg.campaigns.iter().enumerate() {
        if c.hold_ttl > r.message_bodies {
            p.push(Problem::text(
                format!("campaigns[{i}].hold_ttl"),
                &show(c.hold_ttl),
                format!(
                    "is longer than store.retention.message_bodies ({})",
                    show(r.message_bodies)
                ),
            ));
        }
    }
}
