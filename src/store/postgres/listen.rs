//! LISTEN/NOTIFY: what other connections (another optgate instance, the
//! command line on another machine, `psql`) commit reaches this daemon at
//! once (DESIGN.md §7).
//!
//! - Consent: a row trigger (`schema.rs`, step 3) sends on [`CHANNEL`]
//!   `seq US campaign US sender US recipient` (US = 0x1f; `seq US *` for a
//!   TRUNCATE), `seq` drawn from the sequence `consent_change_seq`.
//!   PostgreSQL delivers it after the commit with the writing server
//!   process's id; the listener drops just that key from the consent cache
//!   ([`ConsentCache::invalidate_elsewhere`]). The store thread's own writes
//!   keep the cache right by themselves and are skipped.
//! - The hard bound when a notification is lost: every [`SEQ_POLL`] the
//!   listener reads the sequence. A number drawn before the previous poll
//!   and still not explained by a notification (the highest number seen)
//!   means one was missed (or a writer rolled back, or is slower than a
//!   poll): the whole cache is emptied. So a committed change is honoured
//!   within two polls even if its notification never comes.
//! - Deliveries: a row trigger on `deliveries` sends the account on
//!   [`DELIVERY_CHANNEL`]; the listener calls the daemon's hook
//!   ([`Elsewhere::on_delivery`]), which wakes that account's dispatcher so
//!   the instance holding the platform bind delivers at once.
//!
//! A thread of its own (the blocking client may not run on a tokio worker)
//! listens on a separate connection. After a (re)connect it empties the
//! cache and wakes every dispatcher once, since notifications sent meanwhile
//! were lost.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;

use super::conn::connect;
use crate::store::cache::ConsentCache;
use crate::store::consent::Key;

/// The notification channel of consent writes.
pub const CHANNEL: &str = "optgate_consent";
/// The notification channel of stored deliveries (payload: the account).
pub const DELIVERY_CHANNEL: &str = "optgate_delivery";

/// How often the listener reads the consent change sequence (and checks
/// that the store still exists).
pub const SEQ_POLL: Duration = Duration::from_millis(250);

/// Called with an account whose delivery another connection stored, or
/// `"*"` when notifications may have been lost.
pub type DeliveryHook = Box<dyn Fn(&str) + Send + Sync>;

/// What the listener tells the rest of the daemon besides the cache.
#[derive(Default)]
pub struct Elsewhere {
    hook: Mutex<Option<DeliveryHook>>,
}

impl std::fmt::Debug for Elsewhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Elsewhere")
    }
}

impl Elsewhere {
    /// Sets the hook deliveries stored elsewhere are announced to.
    pub fn on_delivery(&self, hook: DeliveryHook) {
        if let Ok(mut h) = self.hook.lock() {
            *h = Some(hook);
        }
    }

    fn delivery(&self, account: &str) {
        if let Ok(h) = self.hook.lock() {
            if let Some(h) = h.as_ref() {
                h(account);
            }
        }
    }
}

/// Starts the listener thread for the database at `url`. It ends when the
/// cache is dropped (the store and its users are gone). `own_pid` is the
/// store thread's server process id (0 while unknown).
pub fn spawn(
    url: String,
    cache: Weak<ConsentCache>,
    own_pid: Arc<AtomicI32>,
    elsewhere: Arc<Elsewhere>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("optgate-pg-listen".into())
        .spawn(move || run(&url, &cache, &own_pid, &elsewhere))
}

/// A parsed consent notification.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// One key changed.
    Key(i64, Key),
    /// The table was emptied.
    All(i64),
}

/// Parses a consent notification's payload (`None`: not one of ours).
pub fn parse(payload: &str) -> Option<Change> {
    let mut parts = payload.split('\u{1f}');
    let seq = parts.next()?.parse().ok()?;
    let campaign = parts.next()?;
    if campaign == "*" && parts.clone().next().is_none() {
        return Some(Change::All(seq));
    }
    let sender = parts.next()?;
    let recipient = parts.next()?;
    Some(Change::Key(
        seq,
        Key {
            campaign: campaign.into(),
            sender: sender.into(),
            recipient: recipient.into(),
        },
    ))
}

/// Tells lost consent notifications from late ones: see the module doc.
#[derive(Debug, Default)]
pub struct SeqWatch {
    /// Highest sequence number a notification carried.
    explained: i64,
    /// The sequence at the previous poll.
    polled: i64,
}

impl SeqWatch {
    /// Starts from the sequence as read at (re)connect.
    pub fn new(now: i64) -> Self {
        SeqWatch {
            explained: now,
            polled: now,
        }
    }

    /// A notification carried `seq`.
    pub fn notified(&mut self, seq: i64) {
        self.explained = self.explained.max(seq);
    }

    /// The sequence read now is `now`; `true` when a number drawn before the
    /// previous poll is still unexplained (the cache must be emptied).
    pub fn poll(&mut self, now: i64) -> bool {
        let lost = self.polled > self.explained;
        if lost {
            self.explained = self.polled;
        }
        self.polled = now;
        lost
    }
}

fn read_seq(client: &mut postgres::Client) -> Result<i64, postgres::Error> {
    Ok(client
        .query_one("SELECT last_value FROM consent_change_seq", &[])?
        .get(0))
}

fn run(url: &str, cache: &Weak<ConsentCache>, own_pid: &AtomicI32, elsewhere: &Elsewhere) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if cache.strong_count() == 0 {
            return;
        }
        let mut client = match connect(url, Duration::from_secs(2)) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "consent listener: cannot connect");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let listen = format!("LISTEN {CHANNEL}; LISTEN {DELIVERY_CHANNEL}");
        let start = client
            .batch_execute(&listen)
            .and_then(|()| read_seq(&mut client));
        let mut seq = match start {
            Ok(now) => SeqWatch::new(now),
            Err(e) => {
                tracing::debug!(error = %e, "consent listener: LISTEN failed");
                std::thread::sleep(backoff);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        // Changes made while not listening were not seen.
        match cache.upgrade() {
            Some(c) => c.clear(),
            None => return,
        }
        elsewhere.delivery("*");
        if serve(&mut client, cache, own_pid, elsewhere, &mut seq).is_none() {
            return;
        }
    }
}

/// Handles notifications until the connection is lost (`Some`) or the
/// store is gone (`None`).
fn serve(
    client: &mut postgres::Client,
    cache: &Weak<ConsentCache>,
    own_pid: &AtomicI32,
    elsewhere: &Elsewhere,
    seq: &mut SeqWatch,
) -> Option<()> {
    let mut next_poll = Instant::now() + SEQ_POLL;
    loop {
        let wait = next_poll.saturating_duration_since(Instant::now());
        let next = client.notifications().timeout_iter(wait).next();
        match next {
            Ok(Some(n)) => {
                let own = n.process_id() == own_pid.load(Ordering::Relaxed);
                if n.channel() == DELIVERY_CHANNEL {
                    if !own {
                        elsewhere.delivery(n.payload());
                    }
                    continue;
                }
                let c = cache.upgrade()?;
                match parse(n.payload()) {
                    Some(Change::Key(s, key)) => {
                        seq.notified(s);
                        if !own {
                            c.invalidate_elsewhere(&key);
                        }
                    }
                    Some(Change::All(s)) => {
                        seq.notified(s);
                        c.clear();
                    }
                    None => c.clear(),
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "consent listener: connection lost");
                return Some(());
            }
        }
        if Instant::now() >= next_poll {
            next_poll = Instant::now() + SEQ_POLL;
            let c = cache.upgrade()?;
            if client.is_closed() {
                return Some(());
            }
            match read_seq(client) {
                Ok(now) => {
                    if seq.poll(now) {
                        tracing::debug!(
                            "consent listener: a change was not announced; cache emptied"
                        );
                        c.clear();
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "consent listener: sequence read failed");
                    return Some(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(
            parse("7\u{1f}c\u{1f}\u{1f}14155550123"),
            Some(Change::Key(
                7,
                Key {
                    campaign: "c".into(),
                    sender: String::new(),
                    recipient: "14155550123".into()
                }
            ))
        );
        assert_eq!(parse("9\u{1f}*"), Some(Change::All(9)));
        assert_eq!(parse(""), None);
        assert_eq!(parse("x\u{1f}a\u{1f}b\u{1f}c"), None);
    }

    #[test]
    fn a_lost_notification_is_noticed_at_the_second_poll() {
        let mut w = SeqWatch::new(10);
        // 11 drawn and announced: nothing lost.
        w.notified(11);
        assert!(!w.poll(11));
        // 12 drawn, announcement late but within a poll: not lost.
        assert!(!w.poll(12));
        w.notified(12);
        assert!(!w.poll(12));
        // 13 drawn, never announced: noticed at the poll after the one that saw it.
        assert!(!w.poll(13));
        assert!(w.poll(13));
        assert!(!w.poll(13));
    }
}
