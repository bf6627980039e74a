//! Campaigns, consent status and scope keys (DESIGN.md §1–§2), and the
//! sender-number index that says which campaign, if any, governs a message.
//!
//! These are optgate's own policy types; the config layer maps its serde
//! structs onto them, so policy code never sees raw config.

use std::collections::HashMap;
use std::time::Duration;

/// Default campaign opt-in request (DESIGN.md §2, responses table).
pub const DEFAULT_OPT_IN_MESSAGE: &str = "{brand}: Reply {start_word} to receive messages from {brand}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";
/// Default campaign footer (DESIGN.md §2, responses table).
pub const DEFAULT_FOOTER: &str = "Reply STOP to opt out.";
/// Default help response. DESIGN.md gives only a brand-specific example, so
/// the default says what every recipient can always do.
pub const DEFAULT_HELP_RESPONSE: &str =
    "{brand}: Reply STOP to opt out, {start_word} to opt in. Msg & data rates may apply.";

/// Consent is kept per sender number (a STOP refuses that number only) or
/// per campaign (a STOP refuses every number of the campaign).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Scope key = (campaign, sender number, recipient). The default.
    Number,
    /// Scope key = (campaign, recipient).
    Campaign,
}

/// What an MT to a recipient with no consent row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundUnknown {
    /// Forward, recording an `unverified_first_contact` event.
    Allow,
    /// Send the opt-in request and hold the message until the answer.
    RequireOptIn,
    /// Reject with `status_codes.prevented`.
    Prevent,
}

/// What an ordinary MO from a recipient with no consent row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundUnknown {
    /// The recipient started the conversation: status → active.
    Allow,
    /// Send the opt-in request: status → pending.
    AutoOptIn,
}

/// One campaign: sender numbers sharing one consent policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// Config id, part of every scope key.
    pub id: String,
    /// Only approved campaigns enforce anything.
    pub approved: bool,
    /// Fills `{brand}` in every response.
    pub brand: String,
    /// Sender numbers in optgate's normal form (digits, or an alphanumeric
    /// sender as given; the index compares them case-folded).
    pub numbers: Vec<String>,
    /// Per sender number or per campaign consent.
    pub scope: Scope,
    /// MT policy towards recipients with no consent row.
    pub outbound_unknown: OutboundUnknown,
    /// MO policy for recipients with no consent row.
    pub inbound_unknown: InboundUnknown,
    /// Extra opt-in keyword of this campaign; fills `{start_word}`.
    pub start_word: String,
    /// Opt-in request template (`{brand}`, `{start_word}`).
    pub opt_in_message: String,
    /// Help response template (`{brand}`, `{start_word}`); empty: no reply.
    pub help_response: String,
    /// `attachment = "first_message"`: append the footer to the first custom
    /// message to a recipient who never got the opt-in request.
    pub attachment_first_message: bool,
    /// Footer template (`{brand}`, `{start_word}`); empty: no footer.
    pub footer: String,
    /// Held messages older than this are dropped with `stat:EXPIRED`.
    pub hold_ttl: Duration,
    /// At this many held messages for one scope key, further submits that
    /// would be held are rejected with ESME_RMSGQFUL.
    pub max_held_per_recipient: u32,
}

impl Campaign {
    /// An approved campaign with the defaults of DESIGN.md §4 and no numbers.
    pub fn new(id: impl Into<String>, brand: impl Into<String>) -> Self {
        Campaign {
            id: id.into(),
            approved: true,
            brand: brand.into(),
            numbers: Vec::new(),
            scope: Scope::Number,
            outbound_unknown: OutboundUnknown::RequireOptIn,
            inbound_unknown: InboundUnknown::Allow,
            start_word: "START".to_owned(),
            opt_in_message: DEFAULT_OPT_IN_MESSAGE.to_owned(),
            help_response: DEFAULT_HELP_RESPONSE.to_owned(),
            attachment_first_message: true,
            footer: DEFAULT_FOOTER.to_owned(),
            hold_ttl: Duration::from_secs(24 * 3600),
            max_held_per_recipient: 20,
        }
    }

    /// The key consent is stored under for a message between `sender` (the
    /// business number) and `recipient` (the mobile), both already in
    /// optgate's normal form. The sender is case-folded so an alphanumeric
    /// sender keys the same whatever case the platform used; with
    /// [`Scope::Campaign`] it is left out.
    pub fn scope_key(&self, sender: &str, recipient: &str) -> ScopeKey {
        ScopeKey {
            campaign: self.id.clone(),
            sender: match self.scope {
                Scope::Number => Some(fold_sender(sender)),
                Scope::Campaign => None,
            },
            recipient: recipient.to_owned(),
        }
    }
}

/// Consent status of a scope key (DESIGN.md §2). `None` is "no row".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentStatus {
    /// No row: the recipient never answered and was never asked.
    None,
    /// The opt-in request was sent; custom messages are held.
    Pending,
    /// Opted in: everything is forwarded.
    Active,
    /// Opted out: nothing but the opt-out reply goes out.
    Refused,
}

impl ConsentStatus {
    /// The lowercase name the log, CLI and store use.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::None => "none",
            ConsentStatus::Pending => "pending",
            ConsentStatus::Active => "active",
            ConsentStatus::Refused => "refused",
        }
    }

    /// Inverse of [`ConsentStatus::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(ConsentStatus::None),
            "pending" => Some(ConsentStatus::Pending),
            "active" => Some(ConsentStatus::Active),
            "refused" => Some(ConsentStatus::Refused),
            _ => None,
        }
    }
}

/// Where consent is kept: (campaign, sender, recipient), or (campaign,
/// recipient) with `sender: None` for campaign-scoped consent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeKey {
    /// Campaign id.
    pub campaign: String,
    /// Sender number (case-folded), or `None` for [`Scope::Campaign`].
    pub sender: Option<String>,
    /// Recipient number in normal form.
    pub recipient: String,
}

/// `command_status` values for consent blocks (`[status_codes]`): permanent,
/// vendor-range codes so platforms do not retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCodes {
    /// The recipient is refused.
    pub opted_out: u32,
    /// `outbound_unknown = prevent` and no consent row.
    pub prevented: u32,
    /// Sender in no approved campaign under `unassigned_senders = reject`.
    pub unassigned_sender: u32,
}

impl Default for StatusCodes {
    /// The defaults of DESIGN.md §4: 0x400, 0x401, 0x402.
    fn default() -> Self {
        StatusCodes {
            opted_out: 0x400,
            prevented: 0x401,
            unassigned_sender: 0x402,
        }
    }
}

/// `[policy] unassigned_senders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unassigned {
    /// Senders in no approved campaign pass through untouched.
    #[default]
    Pass,
    /// Senders in no approved campaign are rejected.
    Reject,
}

/// Which policy governs a sender number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The number belongs to this approved campaign: enforce it.
    Enforce(&'a Campaign),
    /// No approved campaign: plain proxy, no keywords, no consent.
    PassThrough,
    /// No approved campaign and `unassigned_senders = reject`: answer an MT
    /// with this status. (For an MO there is nothing to reject: treat it as
    /// [`Lookup::PassThrough`].)
    Reject(u32),
}

/// A sender number listed by two campaigns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sender {number} is in campaign {first} and in campaign {second}")]
pub struct DuplicateNumber {
    /// The number, case-folded.
    pub number: String,
    /// The campaign listed first.
    pub first: String,
    /// The campaign that listed it again.
    pub second: String,
}

/// All campaigns, indexed by sender number.
#[derive(Debug, Clone, Default)]
pub struct Campaigns {
    campaigns: Vec<Campaign>,
    by_number: HashMap<String, usize>,
    unassigned: Unassigned,
    unassigned_code: u32,
}

impl Campaigns {
    /// Builds the index. Every number of every campaign (approved or not) is
    /// indexed, so a number listed twice is an error even if one of the
    /// campaigns is pending: approving it later must not change who owns it.
    pub fn new(
        campaigns: Vec<Campaign>,
        unassigned: Unassigned,
        codes: &StatusCodes,
    ) -> Result<Self, DuplicateNumber> {
        let mut by_number: HashMap<String, usize> = HashMap::new();
        for (i, c) in campaigns.iter().enumerate() {
            for n in &c.numbers {
                let key = fold_sender(n);
                if let Some(&j) = by_number.get(&key) {
                    // The same campaign listing a number twice is harmless.
                    if j != i {
                        return Err(DuplicateNumber {
                            number: key,
                            first: campaigns.get(j).map(|f| f.id.clone()).unwrap_or_default(),
                            second: c.id.clone(),
                        });
                    }
                }
                by_number.insert(key, i);
            }
        }
        Ok(Campaigns {
            campaigns,
            by_number,
            unassigned,
            unassigned_code: codes.unassigned_sender,
        })
    }

    /// The policy for `sender` (normal form; compared case-folded). Numbers
    /// of a pending campaign are treated exactly like numbers in no
    /// campaign: they pass, or are rejected under `unassigned = reject`.
    pub fn lookup(&self, sender: &str) -> Lookup<'_> {
        let found = self
            .by_number
            .get(&fold_sender(sender))
            .and_then(|&i| self.campaigns.get(i));
        match found {
            Some(c) if c.approved => Lookup::Enforce(c),
            _ => match self.unassigned {
                Unassigned::Pass => Lookup::PassThrough,
                Unassigned::Reject => Lookup::Reject(self.unassigned_code),
            },
        }
    }

    /// The campaign with this id, approved or not.
    pub fn get(&self, id: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }

    /// Every campaign, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter()
    }

    /// No campaigns at all: optgate is a plain proxy.
    pub fn is_empty(&self) -> bool {
        self.campaigns.is_empty()
    }

    /// Every sender passes: no approved campaign, and unassigned senders
    /// pass. [`Campaigns::lookup`] would answer `PassThrough` for any
    /// sender, so the MT path need not even read the addresses.
    pub fn passes_all(&self) -> bool {
        matches!(self.unassigned, Unassigned::Pass) && !self.campaigns.iter().any(|c| c.approved)
    }
}

/// Digits are unaffected; alphanumeric senders compare case-folded.
fn fold_sender(sender: &str) -> String {
    sender.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_numbers(id: &str, approved: bool, numbers: &[&str]) -> Campaign {
        let mut c = Campaign::new(id, "ACME");
        c.approved = approved;
        c.numbers = numbers.iter().map(|n| (*n).to_owned()).collect();
        c
    }

    fn index(unassigned: Unassigned) -> Result<Campaigns, DuplicateNumber> {
        Campaigns::new(
            vec![
                with_numbers("live", true, &["14155550100", "AcmeAlerts"]),
                with_numbers("waiting", false, &["14155550199"]),
            ],
            unassigned,
            &StatusCodes::default(),
        )
    }

    #[test]
    fn approved_numbers_enforce_others_pass() -> Result<(), DuplicateNumber> {
        let idx = index(Unassigned::Pass)?;
        assert!(matches!(idx.lookup("14155550100"), Lookup::Enforce(c) if c.id == "live"));
        assert!(matches!(idx.lookup("ACMEALERTS"), Lookup::Enforce(c) if c.id == "live"));
        assert!(matches!(idx.lookup("acmealerts"), Lookup::Enforce(_)));
        assert_eq!(idx.lookup("14155550199"), Lookup::PassThrough);
        assert_eq!(idx.lookup("14155550101"), Lookup::PassThrough);
        assert_eq!(idx.get("waiting").map(|c| c.approved), Some(false));
        Ok(())
    }

    #[test]
    fn unassigned_reject_covers_pending_campaigns_too() -> Result<(), DuplicateNumber> {
        let idx = index(Unassigned::Reject)?;
        assert_eq!(idx.lookup("14155550199"), Lookup::Reject(0x402));
        assert_eq!(idx.lookup("19999999999"), Lookup::Reject(0x402));
        assert!(matches!(idx.lookup("14155550100"), Lookup::Enforce(_)));
        Ok(())
    }

    #[test]
    fn empty_index_is_a_plain_proxy() {
        let idx = Campaigns::default();
        assert!(idx.is_empty());
        assert!(idx.passes_all());
        assert_eq!(idx.lookup("14155550100"), Lookup::PassThrough);
    }

    #[test]
    fn passes_all_only_when_nothing_is_enforced_or_rejected() -> Result<(), DuplicateNumber> {
        assert!(!index(Unassigned::Pass)?.passes_all());
        assert!(!index(Unassigned::Reject)?.passes_all());
        let codes = StatusCodes::default();
        let pending = vec![with_numbers("waiting", false, &["14155550199"])];
        let idx = Campaigns::new(pending.clone(), Unassigned::Pass, &codes)?;
        assert!(idx.passes_all());
        assert_eq!(idx.lookup("14155550199"), Lookup::PassThrough);
        assert!(!Campaigns::new(pending, Unassigned::Reject, &codes)?.passes_all());
        Ok(())
    }

    #[test]
    fn a_number_in_two_campaigns_is_an_error() {
        let err = Campaigns::new(
            vec![
                with_numbers("a", true, &["Acme"]),
                with_numbers("b", false, &["ACME"]),
            ],
            Unassigned::Pass,
            &StatusCodes::default(),
        );
        let want = DuplicateNumber {
            number: "acme".into(),
            first: "a".into(),
            second: "b".into(),
        };
        assert_eq!(err.err(), Some(want));
        let same = Campaigns::new(
            vec![with_numbers("a", true, &["1", "1"])],
            Unassigned::Pass,
            &StatusCodes::default(),
        );
        assert!(same.is_ok());
    }

    #[test]
    fn scope_keys() {
        let mut c = with_numbers("live", true, &["AcmeAlerts"]);
        let k = c.scope_key("AcmeAlerts", "447700900123");
        assert_eq!(k.campaign, "live");
        assert_eq!(k.sender.as_deref(), Some("acmealerts"));
        assert_eq!(k.recipient, "447700900123");
        assert_ne!(k, c.scope_key("14155550100", "447700900123"));
        c.scope = Scope::Campaign;
        let k = c.scope_key("AcmeAlerts", "447700900123");
        assert_eq!(k.sender, None);
        assert_eq!(k, c.scope_key("14155550100", "447700900123"));
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            ConsentStatus::None,
            ConsentStatus::Pending,
            ConsentStatus::Active,
            ConsentStatus::Refused,
        ] {
            assert_eq!(ConsentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConsentStatus::parse("Active"), None);
    }
}
