//! What the consent API and the consent log page share: checking query
//! parameters (numbers normalised and validated as the command line does),
//! the opaque paging cursor, and the reads, which run through
//! [`Store::read`]: on PostgreSQL on read connections of their own
//! (`[store] pool_size`), on SQLite on the store thread.

use std::fmt::Display;

use axum::http::StatusCode;

use super::ApiError;
use crate::consent::manual::{self, ManualError};
use crate::consent::EngineConfig;
use crate::policy::ConsentStatus;
use crate::present::parse_time;
use crate::store::consent::{ConsentFilter, ConsentRow, EventRow, HeldRow, Key};
use crate::store::{Store, StoreError};

/// Rows per page when no `limit` is given.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 1000;
/// Longest sender filter accepted (digits, or an alphanumeric sender).
const MAX_SENDER: usize = 20;
/// Held PDUs read for one `/api/v1/held` answer (grouped into messages).
const MAX_HELD_PDUS: u32 = 10_000;

/// A 400 with `e` as the message.
pub fn bad_request(e: impl Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
}

/// A store failure: 503, the daemon may recover (disk full, lock held).
pub fn store_error(e: StoreError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("store unavailable: {e}"),
    )
}

/// `v` unless absent or blank: HTML forms send empty fields.
pub fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// The `limit` parameter: 1..=[`MAX_LIMIT`], `default` when absent.
pub fn limit(v: Option<&str>, default: u32) -> Result<u32, ApiError> {
    let Some(v) = present(v) else {
        return Ok(default);
    };
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(bad_request(format!(
            "limit {v:?}: expected a whole number from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// The cursor naming `k`: hex of a JSON array, opaque to clients and safe
/// in a URL without escaping.
pub fn encode_cursor(k: &Key) -> String {
    let json = serde_json::json!([k.campaign, k.sender, k.recipient]).to_string();
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key an [`encode_cursor`] cursor names.
pub fn decode_cursor(s: &str) -> Result<Key, ApiError> {
    let bad = || bad_request("cursor: not a cursor this server issued");
    if s.len() % 2 != 0 || s.len() > 4096 {
        return Err(bad());
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let [campaign, sender, recipient]: [String; 3] =
        serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(Key {
        campaign,
        sender,
        recipient,
    })
}

/// A status the log lists: active, pending or refused.
pub fn listed_status(v: Option<&str>) -> Result<Option<ConsentStatus>, ApiError> {
    match present(v) {
        None => Ok(None),
        Some(s @ ("active" | "pending" | "refused")) => Ok(ConsentStatus::parse(s)),
        Some(s) => Err(bad_request(format!(
            "status {s:?}: expected active, pending or refused"
        ))),
    }
}

/// A recipient filter, normalised and checked like a recipient to set.
pub fn recipient(v: Option<&str>, cfg: &EngineConfig) -> Result<Option<String>, ApiError> {
    present(v)
        .map(|n| manual::recipient(n, &cfg.country_code).map_err(bad_request))
        .transpose()
}

/// A sender filter: normalised; digits or an alphanumeric sender.
pub fn sender(v: Option<&str>, cfg: &EngineConfig) -> Result<Option<String>, ApiError> {
    let Some(given) = present(v) else {
        return Ok(None);
    };
    let n = manual::number(given, &cfg.country_code);
    if n.is_empty() || n.len() > MAX_SENDER || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad_request(format!("{given:?} is not a sender number")));
    }
    Ok(Some(n))
}

/// A campaign filter: one of the configured campaigns.
pub fn campaign(v: Option<&str>, cfg: &EngineConfig) -> Result<Option<String>, ApiError> {
    let Some(id) = present(v) else {
        return Ok(None);
    };
    if cfg.campaigns.get(id).is_none() {
        let known = cfg.campaigns.iter().map(|c| c.id.as_str());
        return Err(bad_request(manual::unknown_campaign(id, known)));
    }
    Ok(Some(id.to_owned()))
}

/// The `since` parameter: RFC 3339 UTC or a date, as ms since the epoch.
pub fn since(v: Option<&str>) -> Result<Option<i64>, ApiError> {
    present(v)
        .map(|s| {
            parse_time(s).ok_or_else(|| {
                bad_request(format!(
                    "since {s:?}: expected an RFC 3339 UTC time such as 2024-05-01T12:00:00Z"
                ))
            })
        })
        .transpose()
}

impl From<ManualError> for ApiError {
    fn from(e: ManualError) -> Self {
        bad_request(e)
    }
}

/// One page of the consent log and the cursor of the next, if any.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows in (campaign, sender, recipient) order.
    pub rows: Vec<ConsentRow>,
    /// Pass as `cursor` for the rows after these; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Up to `limit` consent rows matching `filter` after the key `after`.
/// Reads one row more than asked to know whether a next page exists, so a
/// last page never links to an empty one.
/// The consent-log parameters the API and the page share, as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsentQuery<'a> {
    pub campaign: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub status: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub cursor: Option<&'a str>,
}

/// Checks `q` (400 naming the bad parameter) and reads that page.
pub async fn consent_page_for(
    store: &Store,
    cfg: &EngineConfig,
    q: ConsentQuery<'_>,
) -> Result<Page, ApiError> {
    let filter = ConsentFilter {
        campaign: campaign(q.campaign, cfg)?,
        sender: sender(q.sender, cfg)?,
        recipient: recipient(q.recipient, cfg)?,
        status: listed_status(q.status)?,
    };
    let limit = limit(q.limit, DEFAULT_LIMIT)?;
    let after = present(q.cursor).map(decode_cursor).transpose()?;
    consent_page(store, filter, after, limit).await
}

pub async fn consent_page(
    store: &Store,
    filter: ConsentFilter,
    after: Option<Key>,
    limit: u32,
) -> Result<Page, ApiError> {
    let mut rows = store
        .read(move |t| t.list_consent(&filter, after.as_ref(), limit.saturating_add(1)))
        .await
        .map_err(store_error)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if more => Some(encode_cursor(&last.key)),
        _ => None,
    };
    Ok(Page { rows, next_cursor })
}

/// Audit events, oldest first.
pub async fn events(
    store: &Store,
    recipient: Option<String>,
    since_ms: Option<i64>,
    limit: u32,
) -> Result<Vec<EventRow>, ApiError> {
    store
        .read(move |t| t.list_events(recipient.as_deref(), since_ms, limit))
        .await
        .map_err(store_error)
}

/// Held PDUs, oldest first (at most [`MAX_HELD_PDUS`]).
pub async fn held(store: &Store, recipient: Option<String>) -> Result<Vec<HeldRow>, ApiError> {
    store
        .read(move |t| t.list_held(recipient.as_deref(), MAX_HELD_PDUS))
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let k = Key {
            campaign: "a\"b".into(),
            sender: String::new(),
            recipient: "14155550100".into(),
        };
        let c = encode_cursor(&k);
        assert!(c.bytes().all(|b| b.is_ascii_hexdigit()), "{c}");
        assert_eq!(decode_cursor(&c), Ok(k));
        for bad in ["", "zz", "abc", "5b5d", "7b7d", "1'; DROP TABLE consent;--"] {
            let e = decode_cursor(bad).err().map(|e| e.status);
            assert_eq!(e, Some(StatusCode::BAD_REQUEST), "{bad}");
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None, 7), Ok(7));
        assert_eq!(limit(Some(""), 7), Ok(7));
        assert_eq!(limit(Some("10"), 7), Ok(10));
        for bad in ["0", "-1", "1001", "ten", "1e3", "99999999999"] {
            assert!(limit(Some(bad), 7).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_listed() {
        assert_eq!(
            listed_status(Some("refused")),
            Ok(Some(ConsentStatus::Refused))
        );
        assert_eq!(listed_status(Some("")), Ok(None));
        assert!(listed_status(Some("none")).is_err());
        assert!(listed_status(Some("Refused")).is_err());
    }
}
