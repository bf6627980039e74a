//! The consent engine's records, as every store backend reads and writes
//! them: scope keys, consent rows, audit events, held messages and the
//! outbox. Plain data, no SQL (that is in the backends, e.g.
//! [`super::sqlite`]); the operations on them are [`super::StoreTxn`].

use crate::policy::ConsentStatus;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A scope key as stored: `sender` is empty under campaign scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub campaign: String,
    pub sender: String,
    pub recipient: String,
}

/// The stored state of one scope key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub key: Key,
    pub status: ConsentStatus,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    /// Keyword or reason of the last change.
    pub source: String,
    pub opt_in_request_sent: bool,
    pub custom_forwarded: bool,
}

impl ConsentRow {
    /// The state of a key with no row.
    pub fn none(key: Key) -> ConsentRow {
        ConsentRow {
            key,
            status: ConsentStatus::None,
            updated_at: 0,
            source: String::new(),
            opt_in_request_sent: false,
            custom_forwarded: false,
        }
    }
}

/// A flag remembered per scope key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The opt-in request was sent to this recipient.
    OptInRequestSent,
    /// A custom (platform) message was forwarded (the footer rule).
    CustomForwarded,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub key: Key,
    /// consent_change, blocked, held, released, expired, purged,
    /// unverified_first_contact, probable_opt_out, response_sent …
    pub kind: String,
    pub old_status: Option<ConsentStatus>,
    pub new_status: Option<ConsentStatus>,
    /// Keyword, reason, or who made the change (cli, api, import).
    pub source: String,
    /// Message ids involved, space separated.
    pub message_ids: String,
}

/// An event as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub event: Event,
}

/// Filters of the consent log view.
#[derive(Debug, Clone, Default)]
pub struct ConsentFilter {
    pub campaign: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub status: Option<ConsentStatus>,
}

/// A held PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub id: i64,
    /// The optgate message id given to the platform (= id of the first part).
    pub group_id: i64,
    pub key: Key,
    pub account: String,
    pub held_at: i64,
    pub expires_at: i64,
    pub registered_delivery: u8,
    pub pdu: Vec<u8>,
}

/// One message of optgate's own, waiting to go to the carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: i64,
    /// opt_in_request, opt_in_response, opt_out_response, help, footer, released.
    pub kind: String,
    pub key: Key,
    /// For released holds: the account whose receipt it is.
    pub account: String,
    /// For released holds: the id the platform was given.
    pub optgate_id: Option<String>,
    pub attempts: i64,
    /// When an at-most-once message was handed to a carrier bind (ms since
    /// the epoch); `None` while it certainly has not left.
    pub handed_at: Option<i64>,
    /// A complete submit_sm (sequence number rewritten when sent).
    pub pdu: Vec<u8>,
}

/// Consent changes to one status, of one campaign, on one UTC day (see
/// [`super::StoreTxn::consent_changes_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCount {
    pub campaign: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// `Active` (an opt-in) or `Refused` (an opt-out).
    pub to: ConsentStatus,
    pub count: u64,
}

/// A PDU to hold (see [`super::StoreTxn::hold`]).
#[derive(Debug, Clone, Copy)]
pub struct NewHeld<'a> {
    pub key: &'a Key,
    /// The platform account that submitted it.
    pub account: &'a str,
    /// The group (message) it belongs to; `None` starts a new group whose
    /// id is the new row's id.
    pub group_id: Option<i64>,
    /// How long it may be held, in milliseconds from now.
    pub ttl_ms: i64,
    pub registered_delivery: u8,
    /// The encoded submit_sm.
    pub pdu: &'a [u8],
}

/// One consent change waiting for one webhook (see
/// [`super::StoreTxn::webhook_pending`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: i64,
    /// The webhook (its configured URL).
    pub url: String,
    /// The event it reports.
    pub event_id: i64,
    /// Deliveries of one recipient go in id order.
    pub recipient: String,
    pub created_at: i64,
    /// Not before this time (ms): the retry backoff.
    pub next_at: i64,
    pub attempts: i64,
    /// The JSON body.
    pub body: String,
}
