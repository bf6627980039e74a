//! The MT decision (DESIGN.md §2, "MT decision"): what happens to a platform
//! submit from a sender number of an approved campaign.
//!
//! The caller has already looked the sender up ([`super::Campaigns::lookup`])
//! and read the scope key's status and counters; this module only decides.
//! A multipart message is one message here: the caller decides once and
//! applies the decision to every part.

use super::campaign::{Campaign, ConsentStatus, OutboundUnknown, StatusCodes};
use super::responses::{render, render_footer, ResponseKind};
use crate::text::keywords::normalise;

/// ESME_RMSGQFUL (from the one list in [`crate::pdu::status`]): the answer
/// when a recipient already has `max_held_per_recipient` held messages.
/// Temporary by design, unlike the consent block codes: the hold drains once
/// the recipient answers.
pub use crate::pdu::status::ESME_RMSGQFUL;

/// An audit event a decision asks the caller to record (besides the consent
/// changes and block/hold records the caller writes anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Forwarded to a recipient with no consent row under `allow`.
    UnverifiedFirstContact,
    /// An MO that contains an opt-out keyword inside a longer message.
    ProbableOptOut,
}

impl EventKind {
    /// The event name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::UnverifiedFirstContact => "unverified_first_contact",
            EventKind::ProbableOptOut => "probable_opt_out",
        }
    }
}

/// What the caller knows about one MT and its scope key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MtFacts {
    /// The decoded text (all parts joined); `None` for binary data.
    pub text: Option<String>,
    /// Messages currently held for this scope key.
    pub held_for_recipient: u32,
    /// The opt-in request was ever sent to this scope key (by optgate or by
    /// the platform).
    pub opt_in_request_ever_sent: bool,
    /// A custom message was already forwarded to this scope key, so the
    /// next one is not the "first message" the footer rule speaks of.
    pub custom_message_ever_forwarded: bool,
}

/// Why an MT is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The scope key is refused.
    OptedOut,
    /// No consent row and `outbound_unknown = prevent`.
    Prevented,
    /// Holding it would exceed `max_held_per_recipient`.
    HoldFull,
}

impl RejectReason {
    /// The reason stored in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::OptedOut => "opted_out",
            RejectReason::Prevented => "prevented",
            RejectReason::HoldFull => "hold_full",
        }
    }
}

/// The decision about one MT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it to the carrier.
    Forward {
        /// Event to record (`unverified_first_contact`).
        event: Option<EventKind>,
        /// Rendered footer to append (or, where it does not fit or the
        /// message is binary, to send right after as its own message).
        footer: Option<String>,
    },
    /// The platform sent the campaign's opt-in request itself: forward it
    /// and set the scope key to pending (unless it already is).
    ForwardAsOptInRequest,
    /// Store it durably and answer OK with an optgate id.
    Hold {
        /// Send the campaign's opt-in request through the outbox first.
        send_opt_in_request: bool,
        /// New status for the scope key, if it changes.
        set_status: Option<ConsentStatus>,
    },
    /// Answer the platform with `status`; nothing goes to the carrier.
    Reject {
        /// `command_status` for the response.
        status: u32,
        /// What to record.
        reason: RejectReason,
    },
}

/// Decides an MT to a scope key in `status` of an approved `campaign`.
///
/// The table of DESIGN.md §2, plus:
/// - refused always rejects, even for the opt-in request text (nothing but
///   the opt-out reply goes to a refused recipient);
/// - a text equal to the rendered opt-in request (compared in keyword
///   normal form, so case, accents and spacing do not matter) is forwarded
///   as the opt-in request when the status is none or pending, whatever
///   `outbound_unknown` says — this is how `prevent` campaigns get pending
///   rows; to an active recipient it is an ordinary message;
/// - a message that would be held is rejected with [`ESME_RMSGQFUL`] when
///   `held_for_recipient` has reached `max_held_per_recipient`; the status
///   is then left as it is and no opt-in request is sent;
/// - a forwarded custom message carries the rendered footer when the
///   campaign has `attachment = "first_message"`, no opt-in request and no
///   custom message ever went to the scope key, and the text does not
///   already contain the footer.
pub fn decide(
    status: ConsentStatus,
    campaign: &Campaign,
    facts: &MtFacts,
    codes: &StatusCodes,
) -> Decision {
    if status == ConsentStatus::Refused {
        return reject(codes.opted_out, RejectReason::OptedOut);
    }
    if status != ConsentStatus::Active && is_opt_in_request(campaign, facts) {
        return Decision::ForwardAsOptInRequest;
    }
    match (status, campaign.outbound_unknown) {
        (ConsentStatus::Active, _) => forward(None, campaign, facts),
        (ConsentStatus::None, OutboundUnknown::Allow) => {
            forward(Some(EventKind::UnverifiedFirstContact), campaign, facts)
        }
        (ConsentStatus::None, OutboundUnknown::RequireOptIn) => {
            hold(campaign, facts, true, Some(ConsentStatus::Pending))
        }
        (ConsentStatus::None, OutboundUnknown::Prevent) => {
            reject(codes.prevented, RejectReason::Prevented)
        }
        // Pending: the opt-in request is out; wait for the answer whatever
        // the outbound policy.
        (ConsentStatus::Pending, _) => hold(campaign, facts, false, None),
        (ConsentStatus::Refused, _) => reject(codes.opted_out, RejectReason::OptedOut),
    }
}

fn is_opt_in_request(campaign: &Campaign, facts: &MtFacts) -> bool {
    let Some(text) = facts.text.as_deref() else {
        return false;
    };
    let request = normalise(&render(ResponseKind::OptInRequest, campaign));
    !request.is_empty() && normalise(text) == request
}

fn forward(event: Option<EventKind>, campaign: &Campaign, facts: &MtFacts) -> Decision {
    let first_custom = !facts.custom_message_ever_forwarded && !facts.opt_in_request_ever_sent;
    let footer = if campaign.attachment_first_message && first_custom {
        render_footer(campaign).filter(|f| !already_has(facts, f))
    } else {
        None
    };
    // A forward never changes the status: first contact under
    // `outbound_unknown = "allow"` stays none (DESIGN.md §2), only recorded.
    Decision::Forward { event, footer }
}

/// The platform already wrote the footer into its text: do not add it twice.
fn already_has(facts: &MtFacts, footer: &str) -> bool {
    facts
        .text
        .as_deref()
        .is_some_and(|t| normalise(t).contains(&normalise(footer)))
}

fn hold(
    campaign: &Campaign,
    facts: &MtFacts,
    send_opt_in_request: bool,
    set_status: Option<ConsentStatus>,
) -> Decision {
    if facts.held_for_recipient >= campaign.max_held_per_recipient {
        return reject(ESME_RMSGQFUL, RejectReason::HoldFull);
    }
    Decision::Hold {
        send_opt_in_request,
        set_status,
    }
}

fn reject(status: u32, reason: RejectReason) -> Decision {
    Decision::Reject { status, reason }
}
