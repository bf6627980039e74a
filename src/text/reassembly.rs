//! Bounded reassembly of multipart messages (UDH concat IEs or SAR TLVs).
//!
//! Pure: the caller passes `now` and calls [`Reassembler::expire`] on a timer.
//! A set is identified by the caller's key (put sender, recipient and anything
//! else that separates conversations into it) plus the [`Concat`] reference,
//! reference width and total.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::udh::Concat;

/// Why a part was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `total` is 0.
    InvalidTotal,
    /// `seq` is 0 or greater than `total`.
    InvalidSeq,
    /// A new set would exceed `max_sets` even after evicting expired sets.
    TooManySets,
    /// The part would exceed `max_parts_total` even after evicting expired sets.
    TooManyParts,
}

/// Outcome of [`Reassembler::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Push<P> {
    /// The set is complete: every part, in `seq` order. Also returned at once
    /// for a message with `total == 1`.
    Complete(Vec<P>),
    /// Stored; more parts are awaited.
    Incomplete,
    /// A part with this `seq` is already held; the new one was dropped.
    Duplicate,
    /// Not stored.
    Rejected(RejectReason),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SetKey<K> {
    key: K,
    reference: u16,
    ref16: bool,
    total: u8,
}

#[derive(Debug)]
struct PartSet<P> {
    parts: Vec<Option<P>>,
    received: usize,
    started: Instant,
}

/// Collects the parts of multipart messages until each set is complete.
///
/// Memory is bounded: at most `max_sets` incomplete sets and `max_parts_total`
/// parts across them. When full, a new part first evicts timed-out sets (kept
/// for the next [`expire`](Self::expire) call, which returns them) and is
/// refused if there is still no room. Evicted sets waiting for `expire` are
/// themselves capped at `max_parts_total` parts, oldest dropped first.
#[derive(Debug)]
pub struct Reassembler<K, P = Vec<u8>> {
    sets: HashMap<SetKey<K>, PartSet<P>>,
    parts_held: usize,
    evicted: VecDeque<(K, Vec<P>)>,
    evicted_parts: usize,
    dropped: u64,
    max_sets: usize,
    max_parts_total: usize,
    timeout: Duration,
}

impl<K: Hash + Eq + Clone, P> Reassembler<K, P> {
    /// A reassembler holding at most `max_sets` incomplete sets and
    /// `max_parts_total` parts; a set times out `timeout` after its first part.
    pub fn new(max_sets: usize, max_parts_total: usize, timeout: Duration) -> Self {
        Reassembler {
            sets: HashMap::new(),
            parts_held: 0,
            evicted: VecDeque::new(),
            evicted_parts: 0,
            dropped: 0,
            max_sets,
            max_parts_total,
            timeout,
        }
    }

    /// Adds one part. Parts may come in any order; see [`Push`].
    pub fn push(&mut self, key: K, concat: Concat, part: P, now: Instant) -> Push<P> {
        if concat.total == 0 {
            return Push::Rejected(RejectReason::InvalidTotal);
        }
        if concat.seq == 0 || concat.seq > concat.total {
            return Push::Rejected(RejectReason::InvalidSeq);
        }
        if concat.total == 1 {
            return Push::Complete(vec![part]);
        }
        let set_key = SetKey {
            key,
            reference: concat.reference,
            ref16: concat.ref16,
            total: concat.total,
        };
        let is_new = !self.sets.contains_key(&set_key);
        if let Err(reason) = self.make_room(is_new, now) {
            return Push::Rejected(reason);
        }
        let set = self.sets.entry(set_key.clone()).or_insert_with(|| PartSet {
            parts: (0..concat.total).map(|_| None).collect(),
            received: 0,
            started: now,
        });
        let Some(slot) = set.parts.get_mut(usize::from(concat.seq - 1)) else {
            return Push::Rejected(RejectReason::InvalidSeq);
        };
        if slot.is_some() {
            return Push::Duplicate;
        }
        *slot = Some(part);
        set.received += 1;
        self.parts_held += 1;
        if set.received < set.parts.len() {
            return Push::Incomplete;
        }
        match self.sets.remove(&set_key) {
            Some(done) => {
                self.parts_held -= done.received;
                Push::Complete(done.parts.into_iter().flatten().collect())
            }
            None => Push::Incomplete,
        }
    }

    /// Ensures room for one more part (and one more set when `is_new`).
    fn make_room(&mut self, is_new: bool, now: Instant) -> Result<(), RejectReason> {
        let full = |r: &Self| {
            if is_new && r.sets.len() >= r.max_sets {
                Some(RejectReason::TooManySets)
            } else if r.parts_held >= r.max_parts_total {
                Some(RejectReason::TooManyParts)
            } else {
                None
            }
        };
        if full(self).is_none() {
            return Ok(());
        }
        let timed_out = self.take_expired(now);
        for (key, parts) in timed_out {
            self.keep_evicted(key, parts);
        }
        full(self).map_or(Ok(()), Err)
    }

    fn keep_evicted(&mut self, key: K, parts: Vec<P>) {
        self.evicted_parts += parts.len();
        self.evicted.push_back((key, parts));
        while self.evicted_parts > self.max_parts_total {
            let Some((_, old)) = self.evicted.pop_front() else {
                break;
            };
            self.evicted_parts -= old.len();
            self.dropped += 1;
        }
    }

    fn take_expired(&mut self, now: Instant) -> Vec<(K, Vec<P>)> {
        let timeout = self.timeout;
        let expired: Vec<SetKey<K>> = self
            .sets
            .iter()
            .filter(|(_, s)| now.saturating_duration_since(s.started) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::with_capacity(expired.len());
        for k in expired {
            if let Some(set) = self.sets.remove(&k) {
                self.parts_held -= set.received;
                out.push((k.key, set.parts.into_iter().flatten().collect()));
            }
        }
        out
    }

    /// Removes and returns incomplete sets whose first part arrived `timeout`
    /// or more before `now` (and any evicted earlier by a full
    /// [`push`](Self::push)), so the caller can still deliver what arrived.
    /// Each set's parts are in `seq` order, missing parts left out.
    pub fn expire(&mut self, now: Instant) -> Vec<(K, Vec<P>)> {
        let mut out: Vec<(K, Vec<P>)> = std::mem::take(&mut self.evicted).into();
        self.evicted_parts = 0;
        out.extend(self.take_expired(now));
        out
    }

    /// Number of incomplete sets held.
    pub fn sets(&self) -> usize {
        self.sets.len()
    }

    /// Number of parts held in incomplete sets.
    pub fn parts(&self) -> usize {
        self.parts_held
    }

    /// Timed-out sets dropped because [`expire`](Self::expire) was not called
    /// before the evicted backlog filled up (a counter for metrics).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
