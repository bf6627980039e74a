//! Quiet hours in the engine: the clock they are judged by, and the
//! settler's pass over quiet holds (released in order once the window
//! opens, judged again then: a reload or a zone's DST change may have
//! moved it).

use std::sync::atomic::{AtomicI64, Ordering};

use super::mt::{event_row, GroupDecision, GroupKey, Outcome, Work};
use super::settle::{release, Pass};
use super::EngineConfig;
use crate::policy::quiet::{Closed, QuietAction};
use crate::policy::{Campaign, ConsentStatus, Decision, MtFacts, RejectReason, ESME_RMSGQFUL};
use crate::store::consent::{now_ms, ConsentRow, Key};
use crate::store::{Durable, StoreError, StoreTxn, TxnEnv};

/// The time quiet hours are judged at: the system clock, unless a test set
/// one. Setting it is a Rust call on the engine ([`super::Engine::clock`],
/// [`crate::daemon::Daemon::clock`]); no configuration key or command
/// reaches it, so a running daemon always uses the system clock. Hold
/// expiry (`hold_ttl`) and every other time keep the system clock.
#[derive(Debug, Default)]
pub struct Clock {
    /// Milliseconds since the Unix epoch; 0: the system clock.
    fixed: AtomicI64,
}

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match self.fixed.load(Ordering::Relaxed) {
            0 => now_ms(),
            t => t,
        }
    }

    /// Test hook: judge quiet hours at `ms` from now on (0: the system clock).
    pub fn set(&self, ms: i64) {
        self.fixed.store(ms, Ordering::Relaxed);
    }
}

/// Whether the opted-in `key` may have its holds released at `now`;
/// if not, they become quiet holds until the window opens.
pub(super) fn release_now(
    t: &mut dyn StoreTxn,
    cfg: &EngineConfig,
    key: &Key,
    now: i64,
) -> Result<bool, StoreError> {
    match cfg.quiet.check(&key.campaign, &key.recipient, now) {
        None => Ok(true),
        Some(c) => {
            t.defer_held(key, c.opens_at_ms, true)?;
            Ok(false)
        }
    }
}

/// Releases, in the order held, the quiet holds due at `now` whose window
/// is open; the others wait for its next opening. A refused key's holds
/// are left to the consent pass (dropped).
pub(super) fn settle_quiet(
    t: &mut dyn StoreTxn,
    cfg: &EngineConfig,
    now: i64,
    pass: &mut Pass,
) -> Result<(), StoreError> {
    for key in t.due_quiet_keys(now, 100)? {
        if t.consent(&key)?.status == ConsentStatus::Refused {
            continue;
        }
        if let Some(c) = cfg.quiet.check(&key.campaign, &key.recipient, now) {
            t.defer_held(&key, c.opens_at_ms, false)?;
            continue;
        }
        let rows = t.take_quiet(&key)?;
        release(t, &key, rows, "quiet_hours_over", pass)?;
    }
    Ok(())
}

impl super::Engine {
    /// Whether an MT of `campaign` to `recipient` is in quiet hours now.
    pub(super) fn quiet_now(
        &self,
        cfg: &EngineConfig,
        campaign: &Campaign,
        recipient: &str,
    ) -> bool {
        !cfg.quiet.is_empty()
            && cfg
                .quiet
                .check(&campaign.id, recipient, self.clock().now_ms())
                .is_some()
    }
}

/// What [`Work::in_quiet_hours`] decided: the outcome and the store's answer.
type Done = ((Outcome, Option<ConsentStatus>), Durable);

impl Work {
    /// An MT the consent decision would send to the carrier now, to a
    /// recipient in quiet hours: held or rejected (and remembered for the
    /// message's other parts), nothing else recorded or changed. `None`:
    /// not in quiet hours, decide as usual.
    pub(super) fn in_quiet_hours(
        &self,
        env: &mut TxnEnv<'_>,
        key: &Key,
        campaign: &Campaign,
        row: &ConsentRow,
        facts: &MtFacts,
        gkey: &Option<GroupKey>,
    ) -> Result<Option<Done>, StoreError> {
        let Some(closed) = self.quiet_closed(row.status, campaign, facts) else {
            return Ok(None);
        };
        let (outcome, durable, remember) = self.quiet(env, key, campaign, closed)?;
        if let Some(gk) = gkey {
            if let Ok(mut g) = self.groups.lock() {
                g.put(gk.clone(), remember);
            }
        }
        env.fill_consent(row);
        Ok(Some(((outcome, None), durable)))
    }

    /// When the MT would go to the carrier now (the consent decision
    /// forwards it) but its recipient is in quiet hours: until when, and
    /// what to do. The decision is only made when the campaign is quiet now.
    pub(super) fn quiet_closed(
        &self,
        status: ConsentStatus,
        campaign: &Campaign,
        facts: &MtFacts,
    ) -> Option<Closed> {
        let closed = self
            .cfg
            .quiet
            .check(&campaign.id, &self.recipient, self.now_ms)?;
        let forwards = matches!(
            crate::policy::decide(status, campaign, facts, &self.cfg.codes),
            Decision::Forward { .. } | Decision::ForwardAsOptInRequest
        );
        forwards.then_some(closed)
    }

    /// Holds (a quiet hold, released when the window opens) or rejects an
    /// MT in quiet hours. A hold respects `max_held_per_recipient`.
    pub(super) fn quiet(
        &self,
        t: &mut dyn StoreTxn,
        key: &Key,
        campaign: &Campaign,
        closed: Closed,
    ) -> Result<(Outcome, Durable, GroupDecision), StoreError> {
        let reject = |t: &mut dyn StoreTxn, status: u32, reason: &str| {
            event_row(t, key, "blocked", reason, "")?;
            Ok((
                Outcome::Reject(status),
                Durable::Now,
                GroupDecision::Reject(status),
            ))
        };
        match closed.action {
            QuietAction::Reject(status) => reject(t, status, "quiet_hours"),
            QuietAction::Hold => {
                if t.held_count(key)? >= campaign.max_held_per_recipient {
                    return reject(t, ESME_RMSGQFUL, RejectReason::HoldFull.as_str());
                }
                let gid = self.hold(t, key, campaign, None, "quiet_hours")?;
                t.set_held_quiet(gid, closed.opens_at_ms)?;
                Ok((
                    Outcome::Held(gid),
                    Durable::AfterCommit,
                    GroupDecision::Quiet(gid, closed.opens_at_ms),
                ))
            }
        }
    }
}
