//! The opt-out confirmation's timeline (47 CFR 64.1200(a)(12): one
//! confirmation, sent within 5 minutes of the opt-out). The deadline runs
//! from the STOP's receipt; a confirmation still unsent then is not sent
//! late. Whatever became of it, one `opt_out_confirmation` event records
//! the times of receipt, block and confirmation.

use std::time::Duration;

use crate::present::rfc3339_millis;
use crate::store::consent::{Event, OutboxRow};
use crate::store::{StoreError, StoreTxn};

/// Whether a confirmation whose STOP arrived at `received_ms` is past
/// `deadline` at `now_ms`.
pub(super) fn past_deadline(received_ms: i64, now_ms: i64, deadline: Duration) -> bool {
    let limit = i64::try_from(deadline.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(received_ms) > limit
}

/// When the STOP behind `row` arrived: its recorded receipt, else the
/// row's creation (the block, a few milliseconds later).
pub(super) fn received(t: &mut dyn StoreTxn, row: &OutboxRow) -> Result<i64, StoreError> {
    Ok(t.outbox_received_at(row.id)?.unwrap_or(row.created_at))
}

/// How a confirmation ended, as the event says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The carrier accepted it at this time (ms).
    Sent(i64),
    /// Not sent: the deadline passed first.
    Missed,
    /// It may have reached the carrier; not sent again.
    Uncertain,
    /// The carrier refused it.
    Failed,
}

/// The event source: `sent; received …; blocked …; confirmed …`.
pub(super) fn describe(
    outcome: Outcome,
    received_ms: i64,
    blocked_ms: i64,
    deadline: Duration,
) -> String {
    let head = format!(
        "received {}; blocked {}",
        rfc3339_millis(received_ms),
        rfc3339_millis(blocked_ms)
    );
    match outcome {
        Outcome::Sent(at) => format!("sent; {head}; confirmed {}", rfc3339_millis(at)),
        Outcome::Missed => format!(
            "missed; {head}; not sent: deadline {} passed",
            humantime::format_duration(deadline)
        ),
        Outcome::Uncertain => format!("uncertain; {head}; may have reached the carrier"),
        Outcome::Failed => format!("failed; {head}; refused by the carrier"),
    }
}

/// Records the `opt_out_confirmation` event of `row` (call before the
/// row is removed: its receipt time is read from it).
pub(super) fn record(
    t: &mut dyn StoreTxn,
    row: &OutboxRow,
    outcome: Outcome,
    deadline: Duration,
) -> Result<(), StoreError> {
    let received = received(t, row)?;
    t.insert_event(&Event {
        key: row.key.clone(),
        kind: "opt_out_confirmation".into(),
        old_status: None,
        new_status: None,
        source: describe(outcome, received, row.created_at, deadline),
        message_ids: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_inclusive_of_its_last_millisecond() {
        let d = Duration::from_secs(300);
        assert!(!past_deadline(1_000, 301_000, d));
        assert!(past_deadline(1_000, 301_001, d));
        assert!(
            !past_deadline(5_000, 1_000, d),
            "a clock step back is not late"
        );
    }

    #[test]
    fn the_event_names_every_time() {
        let d = Duration::from_secs(300);
        let s = describe(
            Outcome::Sent(1_700_000_000_900),
            1_700_000_000_000,
            1_700_000_000_010,
            d,
        );
        assert_eq!(
            s,
            "sent; received 2023-11-14T22:13:20.000Z; blocked 2023-11-14T22:13:20.010Z; confirmed 2023-11-14T22:13:20.900Z"
        );
        let m = describe(Outcome::Missed, 0, 0, d);
        assert!(
            m.starts_with("missed; ") && m.ends_with("deadline 5m passed"),
            "{m}"
        );
    }
}
