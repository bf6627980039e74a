//! The MO decision (DESIGN.md §2, "MO handling"): what a classified MO from
//! a recipient to a sender number of an approved campaign does to consent.
//!
//! Forwarding the MO itself to the platform is not decided here: every MO is
//! delivered (unless `forward_keywords = false` for keywords), whatever this
//! decision says.

use super::campaign::{Campaign, ConsentStatus, InboundUnknown};
use super::keywords::Class;
use super::mt::EventKind;
use super::responses::ResponseKind;

/// `[keywords] phrase_opt_out`: what a probable opt-out does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhraseMode {
    /// Record a `probable_opt_out` event; consent is left as it is.
    #[default]
    Flag,
    /// Record the event and refuse, as for an opt-out keyword.
    OptOut,
}

/// What to do after an MO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoDecision {
    /// New status for the scope key; `None` when it does not change.
    pub new_status: Option<ConsentStatus>,
    /// Responses to send through the outbox, in this order.
    pub responses: Vec<ResponseKind>,
    /// Send the held messages upstream, in the order they were held.
    pub release_held: bool,
    /// Drop the held messages (synthetic `stat:REJECTD` receipts).
    pub drop_held: bool,
    /// Event to record besides the consent change.
    pub event: Option<EventKind>,
}

/// Decides an MO of `class` from a scope key in `status`.
///
/// - opt-out: refused (if not already), the opt-out response — one per
///   opt-out keyword, also when already refused — and held messages dropped;
/// - opt-in: active, the opt-in response, held messages released; when
///   already active it is an ordinary message and nothing happens;
/// - help: the help response whatever the status (none if the campaign's
///   `help_response` is empty); consent unchanged;
/// - probable opt-out: the event; with [`PhraseMode::OptOut`] also as
///   opt-out. With [`PhraseMode::Flag`] consent is left alone, and unlike
///   an ordinary message it never activates a recipient who said "stop
///   texting me";
/// - other: from none, `inbound_unknown = allow` → active (held messages
///   released, though none can exist without an opt-in request);
///   `auto_opt_in` → the opt-in request, pending. Any other status:
///   unchanged.
pub fn decide_mo(
    status: ConsentStatus,
    class: &Class,
    campaign: &Campaign,
    phrase_opt_out: PhraseMode,
) -> MoDecision {
    match class {
        Class::OptOut(_) => opt_out(status),
        Class::ProbableOptOut(_) => {
            let base = match phrase_opt_out {
                PhraseMode::OptOut => opt_out(status),
                PhraseMode::Flag => MoDecision::default(),
            };
            MoDecision {
                event: Some(EventKind::ProbableOptOut),
                ..base
            }
        }
        Class::OptIn(_) if status == ConsentStatus::Active => MoDecision::default(),
        Class::OptIn(_) => MoDecision {
            new_status: Some(ConsentStatus::Active),
            responses: vec![ResponseKind::OptInResponse],
            release_held: true,
            ..MoDecision::default()
        },
        Class::Help(_) => MoDecision {
            responses: if campaign.help_response.trim().is_empty() {
                Vec::new()
            } else {
                vec![ResponseKind::Help]
            },
            ..MoDecision::default()
        },
        Class::Other => other(status, campaign),
    }
}

fn opt_out(status: ConsentStatus) -> MoDecision {
    MoDecision {
        new_status: (status != ConsentStatus::Refused).then_some(ConsentStatus::Refused),
        responses: vec![ResponseKind::OptOutResponse],
        drop_held: true,
        ..MoDecision::default()
    }
}

fn other(status: ConsentStatus, campaign: &Campaign) -> MoDecision {
    if status != ConsentStatus::None {
        return MoDecision::default();
    }
    match campaign.inbound_unknown {
        InboundUnknown::Allow => MoDecision {
            new_status: Some(ConsentStatus::Active),
            release_held: true,
            ..MoDecision::default()
        },
        InboundUnknown::AutoOptIn => MoDecision {
            new_status: Some(ConsentStatus::Pending),
            responses: vec![ResponseKind::OptInRequest],
            ..MoDecision::default()
        },
    }
}
