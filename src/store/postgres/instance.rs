//! Instance identity on a shared database (DESIGN.md §7): each daemon
//! claims its `[store] instance` name for as long as it runs, and keeps a
//! heartbeat in the `instances` table.
//!
//! The claim is a session-level advisory lock on the name, held by a
//! connection of its own: a second process with the same name finds it
//! taken and refuses to start, and the moment the holder dies (SIGKILL, a
//! lost machine, a cut network) its session ends and the name is free again
//! — no lease to wait out. The heartbeat row (`heartbeat_at`, every third of
//! `[store] lease`, in the server's clock) says which instances are alive to
//! operators and to claims of other kinds.

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Weak;
use std::time::{Duration, Instant};

use postgres::Client;

use super::conn::connect;
use super::StoreError;
use crate::store::cache::ConsentCache;

/// Takes the name on `client` and writes the instance row; refuses when
/// another session holds it.
pub fn claim(client: &mut Client, name: &str) -> Result<(), StoreError> {
    let got: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&super::locks::claim_lock_id(name)],
        )?
        .get(0);
    if !got {
        let row = client.query_opt(
            "SELECT os_pid, optgate_now_ms() - heartbeat_at FROM instances WHERE name = $1",
            &[&name],
        )?;
        let holder = match row {
            Some(r) => {
                let pid: i32 = r.get(0);
                let ago: i64 = r.get(1);
                format!("process {pid}, last heartbeat {} ms ago", ago.max(0))
            }
            None => "starting".into(),
        };
        return Err(StoreError::InstanceTaken {
            name: name.into(),
            holder,
        });
    }
    client.execute(
        "INSERT INTO instances (name, started_at, heartbeat_at, os_pid, version)
         VALUES ($1, optgate_now_ms(), optgate_now_ms(), $2, $3)
         ON CONFLICT (name) DO UPDATE SET started_at = EXCLUDED.started_at,
             heartbeat_at = EXCLUDED.heartbeat_at, os_pid = EXCLUDED.os_pid,
             version = EXCLUDED.version",
        &[
            &name,
            &i32::try_from(std::process::id()).unwrap_or(0),
            &env!("CARGO_PKG_VERSION"),
        ],
    )?;
    Ok(())
}

/// Claims `name` on a new connection to `url` (bounded by `timeout`) and
/// starts the thread that keeps it: a heartbeat every `lease / 3`,
/// reclaiming after a reconnect, and the [`Claims`] of work only one
/// instance may do at a time. The thread ends (and every claim is released
/// with its session) when the cache is dropped, i.e. the store is gone.
pub fn start(
    url: &str,
    name: &str,
    lease: Duration,
    timeout: Duration,
    cache: Weak<ConsentCache>,
) -> Result<Claims, StoreError> {
    let mut client = connect(url, timeout)?;
    keepalive(&mut client, lease)?;
    claim(&mut client, name)?;
    let (url, name) = (url.to_string(), name.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    let keeper = Keeper {
        client,
        lease,
        url,
        name,
        owned: HashSet::new(),
    };
    std::thread::Builder::new()
        .name("optgate-pg-instance".into())
        .spawn(move || keeper.run(&rx, lease, &cache))
        .map_err(|e| StoreError::Thread(std::sync::Arc::new(e)))?;
    Ok(Claims { tx })
}

/// Makes the server notice within about `lease` that this session's
/// machine is gone (power lost, network cut): then its claims are freed for
/// the other instances. A killed process closes its socket and frees them
/// at once; a dead machine sends nothing, and without TCP keepalives from
/// the server side its session (and locks) could outlive it for hours.
/// Keepalive probes start after a third of the lease, every ninth, three
/// unanswered end the session. (Ignored on a Unix socket: same machine.)
fn keepalive(client: &mut Client, lease: Duration) -> Result<(), StoreError> {
    let idle = (lease.as_secs() / 3).max(1);
    let interval = (lease.as_secs() / 9).max(1);
    client.batch_execute(&format!(
        "SET tcp_keepalives_idle = {idle}; SET tcp_keepalives_interval = {interval}; \
         SET tcp_keepalives_count = 3"
    ))?;
    Ok(())
}

/// Work only one instance does at a time, claimed on the instance's own
/// session (a session-level advisory lock per claim): held until released
/// or until the instance dies, when it is free at once for the others.
/// `deliver:ACCOUNT` is the right to deliver that account's stored MOs and
/// receipts; `outbox` the right to send the outbox.
#[derive(Debug, Clone)]
pub struct Claims {
    tx: std::sync::mpsc::Sender<Cmd>,
}

#[derive(Debug)]
enum Cmd {
    Claim(String, tokio::sync::oneshot::Sender<bool>),
    Release(String),
}

impl Claims {
    /// Takes `what` (or finds it already held by this instance): `true`
    /// when this instance holds it now.
    pub async fn claim(&self, what: &str) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Cmd::Claim(what.to_string(), tx)).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Gives `what` up; for `deliver:ACCOUNT`, the other instances are told
    /// at once (a notification on the delivery channel) so one with a bind
    /// of that account takes over.
    pub fn release(&self, what: &str) {
        let _ = self.tx.send(Cmd::Release(what.to_string()));
    }
}

/// How often the keeper checks that the store still exists.
const CHECK: Duration = Duration::from_millis(250);

struct Keeper {
    client: Client,
    lease: Duration,
    url: String,
    name: String,
    owned: HashSet<String>,
}

impl Keeper {
    fn run(mut self, rx: &Receiver<Cmd>, lease: Duration, cache: &Weak<ConsentCache>) {
        let beat = (lease / 3).max(Duration::from_millis(100));
        let mut next_beat = Instant::now() + beat;
        loop {
            match rx.recv_timeout(CHECK) {
                Ok(Cmd::Claim(what, reply)) => {
                    let got = self.take(&what);
                    let _ = reply.send(got);
                }
                Ok(Cmd::Release(what)) => self.give_up(&what),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if cache.strong_count() == 0 {
                return;
            }
            // A closed session has lost every claim: do not wait for the
            // next heartbeat to notice.
            if Instant::now() >= next_beat || self.client.is_closed() {
                next_beat = Instant::now() + beat;
                self.heartbeat();
            }
        }
    }

    fn take(&mut self, what: &str) -> bool {
        if self.owned.contains(what) {
            return true;
        }
        let got = self
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&super::locks::claim_lock_id(what)],
            )
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false);
        if got {
            self.owned.insert(what.to_string());
        }
        got
    }

    fn give_up(&mut self, what: &str) {
        if !self.owned.remove(what) {
            return;
        }
        let _ = self.client.execute(
            "SELECT pg_advisory_unlock($1)",
            &[&super::locks::claim_lock_id(what)],
        );
        if let Some(account) = what.strip_prefix("deliver:") {
            let _ = self
                .client
                .execute("SELECT pg_notify('optgate_delivery', $1)", &[&account]);
        }
    }

    fn heartbeat(&mut self) {
        let ok = self
            .client
            .execute(
                "UPDATE instances SET heartbeat_at = optgate_now_ms() WHERE name = $1",
                &[&self.name],
            )
            .is_ok();
        if ok {
            return;
        }
        // The session (and with it every claim) is gone: reconnect, claim
        // the name again (someone else may have started with it
        // meanwhile) and whatever of the rest is still free.
        let mut c = match connect(&self.url, Duration::from_secs(2))
            .and_then(|mut c| keepalive(&mut c, self.lease).map(|()| c))
        {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "instance keeper: cannot connect");
                return;
            }
        };
        match claim(&mut c, &self.name) {
            Ok(()) => tracing::info!(instance = %self.name, "instance name claimed again"),
            Err(e) => tracing::error!(instance = %self.name, error = %e, "instance name lost"),
        }
        self.client = c;
        let owned: Vec<String> = self.owned.drain().collect();
        for what in owned {
            self.take(&what);
        }
    }
}

/// The instance name: `configured` when set, else the host name and the
/// SMPP listen port (`host:2775`), as `[store] instance` documents. Used on
/// both backends (SQLite has one instance, named the same way).
pub fn resolve_name(configured: &str, port: u16) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{port}")
}
