//! Manual consent changes (command line and admin API): the one place that
//! turns a campaign id, a sender and a recipient as typed by a person into
//! the scope key consent is stored under, with the same checks and the same
//! messages whichever surface the change came through.

use crate::config::{CampaignConfig, ConsentScope};
use crate::numbers;
use crate::policy::{Campaign, ConsentStatus, Scope};
use crate::store::consent::Key;

/// Longest recipient accepted: E.164 allows 15 digits.
pub const MAX_DIGITS: usize = 15;

/// Longest reason accepted for a manual change (kept in the audit trail).
pub const MAX_REASON: usize = 500;

/// Why a manual change (or a filter naming numbers) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualError {
    /// No campaign with this id in the configuration.
    #[error("unknown campaign {id:?} (campaigns in the config: {known})")]
    UnknownCampaign {
        /// The id as given.
        id: String,
        /// The configured ids, comma separated, or "none".
        known: String,
    },
    /// The recipient is not digits only, at most 15, once normalised.
    #[error("{0:?} is not a phone number")]
    NotANumber(String),
    /// The sender is not one of the campaign's numbers.
    #[error("sender {given:?} is not a number of campaign {campaign:?} ({numbers})")]
    ForeignSender {
        /// The sender as given.
        given: String,
        /// The campaign id.
        campaign: String,
        /// The campaign's numbers, comma separated.
        numbers: String,
    },
    /// A number-scope campaign needs the sender to name a scope key.
    #[error(
        "campaign {campaign:?} keeps consent per sender number: give a sender (one of {numbers})"
    )]
    SenderRequired {
        /// The campaign id.
        campaign: String,
        /// The campaign's numbers, comma separated.
        numbers: String,
    },
    /// A status name that is not settable.
    #[error("status {0:?}: expected active, refused or none")]
    BadStatus(String),
    /// The reason is longer than [`MAX_REASON`] characters.
    #[error("reason is longer than {MAX_REASON} characters")]
    ReasonTooLong,
}

/// What a manual change needs to know of a campaign: its id, its sender
/// numbers in optgate's normal form (config order, no duplicates) and its
/// consent scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualCampaign {
    /// Config id.
    pub id: String,
    /// Sender numbers, normal form.
    pub numbers: Vec<String>,
    /// Per sender number or per campaign consent.
    pub scope: Scope,
}

impl ManualCampaign {
    /// From the configuration file's campaign (command line), numbers
    /// normalised with `country_code`.
    pub fn from_config(c: &CampaignConfig, country_code: &str) -> ManualCampaign {
        let mut numbers: Vec<String> = Vec::new();
        for n in &c.numbers {
            let n = number(n, country_code);
            if !numbers.contains(&n) {
                numbers.push(n);
            }
        }
        ManualCampaign {
            id: c.id.clone(),
            numbers,
            scope: match c.consent_scope {
                ConsentScope::Number => Scope::Number,
                ConsentScope::Campaign => Scope::Campaign,
            },
        }
    }

    /// From the daemon's live policy campaign (admin API).
    pub fn from_policy(c: &Campaign) -> ManualCampaign {
        ManualCampaign {
            id: c.id.clone(),
            numbers: c.numbers.clone(),
            scope: c.scope,
        }
    }

    /// The stored sender for a sender typed as `given`: `None` when none was
    /// given; `''` under campaign scope (a given sender must still be one of
    /// the campaign's numbers); under number scope the normalised number.
    pub fn scope_sender(
        &self,
        given: Option<&str>,
        country_code: &str,
    ) -> Result<Option<String>, ManualError> {
        let Some(given) = given.filter(|g| !g.trim().is_empty()) else {
            return Ok(None);
        };
        let n = number(given, country_code);
        if !self.numbers.contains(&n) {
            return Err(ManualError::ForeignSender {
                given: given.to_owned(),
                campaign: self.id.clone(),
                numbers: self.numbers.join(", "),
            });
        }
        Ok(Some(match self.scope {
            Scope::Number => n,
            Scope::Campaign => String::new(),
        }))
    }

    /// The scope key a manual change of (`sender`, `recipient`) sets.
    pub fn key(
        &self,
        sender: Option<&str>,
        recipient: &str,
        country_code: &str,
    ) -> Result<Key, ManualError> {
        let recipient = self::recipient(recipient, country_code)?;
        let sender = match (self.scope_sender(sender, country_code)?, self.scope) {
            (Some(s), _) => s,
            (None, Scope::Campaign) => String::new(),
            (None, Scope::Number) => {
                return Err(ManualError::SenderRequired {
                    campaign: self.id.clone(),
                    numbers: self.numbers.join(", "),
                })
            }
        };
        Ok(Key {
            campaign: self.id.clone(),
            sender,
            recipient,
        })
    }
}

/// The [`ManualError::UnknownCampaign`] for `id`, listing `known` ids.
pub fn unknown_campaign<'a>(id: &str, known: impl Iterator<Item = &'a str>) -> ManualError {
    let known: Vec<&str> = known.collect();
    ManualError::UnknownCampaign {
        id: id.to_owned(),
        known: if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        },
    }
}

/// `n` as typed by a person, in the normal form (TON 0, `country_code`).
pub fn number(n: &str, country_code: &str) -> String {
    numbers::normalise(n, 0, country_code)
}

/// `n` normalised, or why it can not be a recipient (digits only, at most 15).
pub fn recipient(n: &str, country_code: &str) -> Result<String, ManualError> {
    let r = number(n, country_code);
    if r.is_empty() || r.len() > MAX_DIGITS || !r.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ManualError::NotANumber(n.to_owned()));
    }
    Ok(r)
}

/// A status a person may set: `active`, `refused` or `none` (forget).
pub fn settable_status(s: &str) -> Result<ConsentStatus, ManualError> {
    match s {
        "active" => Ok(ConsentStatus::Active),
        "refused" => Ok(ConsentStatus::Refused),
        "none" => Ok(ConsentStatus::None),
        _ => Err(ManualError::BadStatus(s.to_owned())),
    }
}

/// The event source of a manual change made through `surface` (`cli`,
/// `api`): `surface` alone, or `surface: reason` when a reason was given.
pub fn source(surface: &str, reason: Option<&str>) -> Result<String, ManualError> {
    match reason.map(str::trim) {
        Some(r) if r.chars().count() > MAX_REASON => Err(ManualError::ReasonTooLong),
        Some(r) if !r.is_empty() => Ok(format!("{surface}: {r}")),
        _ => Ok(surface.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(scope: Scope) -> ManualCampaign {
        ManualCampaign {
            id: "alerts".into(),
            numbers: vec!["14155550100".into(), "14155550101".into()],
            scope,
        }
    }

    #[test]
    fn number_scope_needs_one_of_the_campaigns_senders() {
        let c = alerts(Scope::Number);
        let k = c.key(Some("+1 415 555 0101"), "(415) 555-0199", "1");
        assert_eq!(
            k,
            Ok(Key {
                campaign: "alerts".into(),
                sender: "14155550101".into(),
                recipient: "14155550199".into(),
            })
        );
        assert!(matches!(
            c.key(None, "14155550199", "1"),
            Err(ManualError::SenderRequired { .. })
        ));
        assert!(matches!(
            c.key(Some("14155550999"), "14155550199", "1"),
            Err(ManualError::ForeignSender { .. })
        ));
    }

    #[test]
    fn campaign_scope_stores_no_sender() {
        let c = alerts(Scope::Campaign);
        let k = c.key(Some("14155550100"), "14155550199", "1");
        assert_eq!(k.map(|k| k.sender), Ok(String::new()));
        let k = c.key(None, "14155550199", "1");
        assert_eq!(k.map(|k| k.sender), Ok(String::new()));
    }

    #[test]
    fn recipients_are_digits_only_and_short() {
        for bad in [
            "1'; DROP TABLE consent;--",
            "",
            "abc",
            "1234567890123456",
            "<b>",
        ] {
            assert!(recipient(bad, "1").is_err(), "{bad}");
        }
        assert_eq!(recipient("+44 7700 900123", "1"), Ok("447700900123".into()));
    }

    #[test]
    fn statuses_and_sources() {
        assert_eq!(settable_status("none"), Ok(ConsentStatus::None));
        assert!(settable_status("pending").is_err());
        assert!(settable_status("Active").is_err());
        assert_eq!(source("api", None), Ok("api".into()));
        assert_eq!(source("api", Some("  ")), Ok("api".into()));
        assert_eq!(source("cli", Some(" asked ")), Ok("cli: asked".into()));
        let long = "x".repeat(MAX_REASON + 1);
        assert_eq!(source("api", Some(&long)), Err(ManualError::ReasonTooLong));
    }

    #[test]
    fn unknown_campaign_lists_the_known_ones() {
        let e = unknown_campaign("nope", ["a", "b"].into_iter());
        assert_eq!(
            e.to_string(),
            "unknown campaign \"nope\" (campaigns in the config: a, b)"
        );
        let e = unknown_campaign("nope", std::iter::empty());
        assert!(e.to_string().ends_with("(campaigns in the config: none)"));
    }
}
