//! Consent decisions, pure: (message facts, consent state, campaign) →
//! decision. The network code only carries decisions out.
//!
//! This is the seam the consent engine plugs into: one call per MT.

use crate::pdu::Pdu;

/// What to do with a platform's MT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtDecision {
    /// Send it to the carrier.
    Forward,
    /// Answer the platform with this status; nothing goes to the carrier.
    Reject(u32),
}

/// Decides an MT from `account`. With no campaigns configured optgate is a
/// plain proxy and every message is forwarded.
pub fn decide_mt(_account: &str, _pdu: &Pdu) -> MtDecision {
    MtDecision::Forward
}
