//! Quiet hours: `quiet_hours` per campaign and the `[quiet_hours]` override
//! tables (README "Quiet hours").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Config, Problem};
use crate::policy::quiet::Window;

/// `[[campaigns]] quiet_hours = { start = "21:00", end = "08:00" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignQuietHours {
    /// First quiet minute, recipient's local time, `"HH:MM"`.
    pub start: String,
    /// First minute no longer quiet.
    pub end: String,
    /// `"hold"` (default) or `"reject"`.
    #[serde(default)]
    pub action: QuietActionConfig,
    /// `command_status` of a rejected MT (`action = "reject"`).
    #[serde(
        default = "default_status",
        deserialize_with = "super::de::status_code"
    )]
    pub status: u32,
    /// IANA zone of recipients the NANP table does not know (non-NANP
    /// numbers); unset: such recipients have no quiet hours.
    #[serde(default)]
    pub zone: Option<String>,
}

/// Default `quiet_hours.status`: 0x403, next to the other consent codes.
pub const DEFAULT_QUIET_STATUS: u32 = 0x403;

fn default_status() -> u32 {
    DEFAULT_QUIET_STATUS
}

/// `quiet_hours.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietActionConfig {
    /// Hold until the window opens.
    #[default]
    Hold,
    /// Reject with `status`.
    Reject,
}

/// One quiet period of the override tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietWindowConfig {
    /// First quiet minute, `"HH:MM"`.
    pub start: String,
    /// First minute no longer quiet.
    pub end: String,
}

/// `[quiet_hours]`: extra quiet periods for recipients of a state or
/// province (two-letter code) or of a NANP area code, added to every
/// campaign that has `quiet_hours`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuietOverrides {
    /// `[quiet_hours.states] FL = { start = "20:00", end = "08:00" }`.
    pub states: BTreeMap<String, QuietWindowConfig>,
    /// `[quiet_hours.area_codes] "305" = { … }`.
    pub area_codes: BTreeMap<String, QuietWindowConfig>,
}

/// The problems of quiet hours, each naming its key.
pub(super) fn validate(cfg: &Config, p: &mut Vec<Problem>) {
    for (i, c) in cfg.campaigns.iter().enumerate() {
        let Some(q) = &c.quiet_hours else { continue };
        let key = format!("campaigns[{i}].quiet_hours");
        if let Err(e) = Window::parse(&q.start, &q.end) {
            p.push(Problem::text(
                key.clone(),
                &format!("{}-{}", q.start, q.end),
                e,
            ));
        }
        if let Some(z) = &q.zone {
            if jiff::tz::db().get(z).is_err() {
                p.push(Problem::text(
                    format!("{key}.zone"),
                    z,
                    "is not an IANA time zone name",
                ));
            }
        }
    }
    let known = crate::policy::quiet::known_regions();
    for (state, w) in &cfg.quiet_hours.states {
        let key = format!("quiet_hours.states.{state}");
        if !known.contains(state) {
            p.push(Problem::text(
                key.clone(),
                state,
                "is not a state or province code of the NANP table (two letters, e.g. FL)",
            ));
        }
        if let Err(e) = Window::parse(&w.start, &w.end) {
            p.push(Problem::text(key, &format!("{}-{}", w.start, w.end), e));
        }
    }
    for (ac, w) in &cfg.quiet_hours.area_codes {
        let key = format!("quiet_hours.area_codes.{ac}");
        if ac.len() != 3 || !ac.bytes().all(|b| b.is_ascii_digit()) {
            p.push(Problem::text(
                key.clone(),
                ac,
                "is not a three-digit area code",
            ));
        }
        if let Err(e) = Window::parse(&w.start, &w.end) {
            p.push(Problem::text(key, &format!("{}-{}", w.start, w.end), e));
        }
    }
}

/// The policy's view of the quiet hours of a validated config.
pub fn to_policy(cfg: &Config) -> crate::policy::quiet::Quiet {
    use crate::policy::quiet::{QuietAction, QuietRule};
    let mut q = crate::policy::quiet::Quiet::default();
    for c in &cfg.campaigns {
        let Some(h) = &c.quiet_hours else { continue };
        let Ok(window) = Window::parse(&h.start, &h.end) else {
            continue;
        };
        q.rules.insert(
            c.id.clone(),
            QuietRule {
                window,
                action: match h.action {
                    QuietActionConfig::Hold => QuietAction::Hold,
                    QuietActionConfig::Reject => QuietAction::Reject(h.status),
                },
                zone: h.zone.as_deref().and_then(|z| jiff::tz::db().get(z).ok()),
            },
        );
    }
    let windows = |m: &BTreeMap<String, QuietWindowConfig>| {
        m.iter()
            .filter_map(|(k, w)| Some((k.clone(), Window::parse(&w.start, &w.end).ok()?)))
            .collect()
    };
    q.states = windows(&cfg.quiet_hours.states);
    q.area_codes = windows(&cfg.quiet_hours.area_codes);
    q
}
