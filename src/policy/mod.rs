//! Consent decisions, pure: (message facts, consent state, campaign) →
//! decision. The network code only carries decisions out; nothing here does
//! I/O, reads a clock or touches the store.
//!
//! - [`campaign`]: campaigns, consent status, scope keys, the sender index.
//! - [`mt`]: the MT decision table of DESIGN.md §2.
//! - [`keywords`]: keyword lists and MO classification.
//! - [`mo`]: the MO decision table of DESIGN.md §2.
//! - [`responses`]: the texts optgate sends itself.
//! - [`revoke`]: how far an opt-out reaches (`opt_out_scope`, revoke-all).
//! - [`quiet`]: quiet hours in the recipient's local time (NANP zone table).
//!
//! An MT: [`Campaigns::lookup`] the sender; for [`Lookup::Enforce`] read the
//! scope key's status ([`Campaign::scope_key`]) and call [`decide`]. An MO:
//! look up its destination, [`classify`] the text, call [`decide_mo`], and
//! [`render`] the responses it asks for.

pub mod campaign;
pub mod keywords;
pub mod mo;
pub mod mt;
pub mod quiet;
pub mod responses;
pub mod revoke;

#[cfg(test)]
mod keyword_tests;
#[cfg(test)]
mod table_tests;

pub use campaign::{
    Campaign, Campaigns, ConsentStatus, DuplicateNumber, InboundUnknown, Lookup, OutboundUnknown,
    Scope, ScopeKey, StatusCodes, Unassigned,
};
pub use keywords::{classify, Class, Keywords};
pub use mo::{decide_mo, MoDecision, PhraseMode};
pub use mt::{decide, Decision, EventKind, MtFacts, RejectReason, ESME_RMSGQFUL};
pub use responses::{render, render_footer, render_template, ResponseKind};
pub use revoke::{OptOutScope, RevokeAll};
