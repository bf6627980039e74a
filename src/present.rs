//! How stored rows are shown to people and machines, shared by the command
//! line (`crate::cli`) and the admin surface (`crate::admin`): times in RFC
//! 3339, consent statuses for people, held PDUs grouped into messages.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::policy::ConsentStatus;
use crate::store::consent::HeldRow;

/// RFC 3339 UTC of `ms` since the epoch, with milliseconds (`...T12:00:00.123Z`).
pub fn rfc3339_millis(ms: i64) -> String {
    humantime::format_rfc3339_millis(system_time(ms)).to_string()
}

/// RFC 3339 UTC of `ms` since the epoch, to the second (`...T12:00:00Z`).
pub fn rfc3339_seconds(ms: i64) -> String {
    humantime::format_rfc3339_seconds(system_time(ms)).to_string()
}

fn system_time(ms: i64) -> SystemTime {
    // Stored times are never before the epoch; clamp rather than fail.
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Parses an RFC 3339 UTC time (`Z` or `+00:00`, `T` or space, fraction
/// optional) or a bare date `YYYY-MM-DD` (midnight UTC) into ms since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let full;
    let s = if s.len() == 10 {
        full = format!("{s}T00:00:00Z");
        full.as_str()
    } else {
        s
    };
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let ms = t.duration_since(UNIX_EPOCH).ok()?.as_millis();
    i64::try_from(ms).ok()
}

/// Capitalised status name for people (`Active`, `Pending`, ...).
pub fn status_title(s: ConsentStatus) -> &'static str {
    match s {
        ConsentStatus::None => "None",
        ConsentStatus::Pending => "Pending",
        ConsentStatus::Active => "Active",
        ConsentStatus::Refused => "Refused",
    }
}

/// Held PDUs grouped into messages: (first part, number of parts), in the
/// order the messages were first held. Parts of one message may be held at
/// different times, with other messages' PDUs between them.
pub fn group(pdus: &[HeldRow]) -> Vec<(&HeldRow, i64)> {
    let mut order: Vec<(&HeldRow, i64)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for p in pdus {
        match index.get(&p.group_id) {
            Some(&i) => {
                if let Some(entry) = order.get_mut(i) {
                    entry.1 += 1;
                }
            }
            None => {
                index.insert(p.group_id, order.len());
                order.push((p, 1));
            }
        }
    }
    order
}

/// The columns of the consent log (`optgate logs`, its JSON keys and CSV
/// header, and the console's CSV download).
pub const LOG_COLUMNS: &[&str] = &[
    "campaign",
    "sender",
    "recipient",
    "status",
    "updated_at",
    "source",
];

/// Writes one CSV record, quoting fields per RFC 4180 where needed; lines
/// end in `\n`.
pub fn write_csv_record<W: std::io::Write>(out: &mut W, fields: &[String]) -> std::io::Result<()> {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    writeln!(out, "{}", line.join(","))
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ') {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_at_millisecond_precision() {
        let ms = 1_714_564_800_123;
        assert_eq!(rfc3339_millis(ms), "2024-05-01T12:00:00.123Z");
        assert_eq!(parse_time(&rfc3339_millis(ms)), Some(ms));
        assert_eq!(parse_time("2024-05-01"), Some(1_714_521_600_000));
        assert_eq!(parse_time("yesterday"), None);
    }
}
