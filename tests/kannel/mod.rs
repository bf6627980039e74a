//! Kit for tests/peers_kannel.rs: a Kannel (bearerbox + smsbox, Debian
//! package `kannel`) bound to optgate, and an HTTP sink catching what Kannel
//! calls back (get-url for MOs, dlr-url for receipts). Loopback only, every
//! wait bounded, both boxes killed on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::common::free_port;

mod sink;
pub use sink::Sink;

/// Upper bound for any single wait on Kannel.
pub const WAIT: Duration = Duration::from_secs(15);
const ADMIN_PASSWORD: &str = "adminpw";
pub const SENDSMS_USER: &str = "tester";
pub const SENDSMS_PASSWORD: &str = "testpw";

/// How Kannel binds to optgate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One `bind_transceiver` (`transceiver-mode = true`).
    Transceiver,
    /// A `bind_transmitter` plus a `bind_receiver` (`receive-port`).
    Pair,
}

/// Where Kannel's boxes find optgate and the sink.
pub struct Setup {
    pub optgate: SocketAddr,
    pub system_id: String,
    pub password: String,
    pub mode: Mode,
    pub sink: SocketAddr,
    /// SMPP over TLS (`use-ssl`), trusting this CA file.
    pub tls_ca: Option<String>,
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One `group = smsc` towards optgate; `link` is `port = N` (transmitter,
/// or transceiver with `transceiver-mode`) or `receive-port = N` (receiver).
fn smsc_group(s: &Setup, link: &str) -> String {
    format!(
        r#"
group = smsc
smsc = smpp
smsc-id = optgate
host = 127.0.0.1
{link}
smsc-username = {user}
smsc-password = {pass}
system-type = ""
enquire-link-interval = 5
reconnect-delay = 1
{ssl}
# msg-id-type is left unset on purpose: the carrier's ids here ("c1",
# "c2", ...) are opaque strings that optgate passes through, and unset is
# Kannel's plain string comparison; 0..3 parse them as decimal or hex numbers.
"#,
        user = s.system_id,
        pass = s.password,
        ssl = if s.tls_ca.is_some() {
            "use-ssl = true"
        } else {
            ""
        },
    )
}

fn kannel_conf(s: &Setup, dir: &Path, ports: &Ports) -> String {
    let sink = s.sink;
    let trust = match &s.tls_ca {
        Some(ca) => format!("ssl-trusted-ca-file = \"{ca}\""),
        None => String::new(),
    };
    let port = s.optgate.port();
    // Kannel 1.4.5 refuses `port` and `receive-port` in one group: a
    // transmitter + receiver pair is two groups with the same smsc-id.
    let smsc = match s.mode {
        Mode::Transceiver => smsc_group(s, &format!("port = {port}\ntransceiver-mode = true")),
        Mode::Pair => format!(
            "{}{}",
            smsc_group(s, &format!("port = {port}")),
            smsc_group(s, &format!("receive-port = {port}"))
        ),
    };
    format!(
        r#"group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
admin-allow-ip = 127.0.0.1
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 0
dlr-storage = internal
# Retry temporary failures after 1 s, so a wrong retry would show at once.
sms-resend-freq = 1
sms-resend-retry = 3
{trust}
{smsc}
group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 0

group = sendsms-user
username = {SENDSMS_USER}
password = {SENDSMS_PASSWORD}
max-messages = 3
concatenation = true

group = sms-service
keyword = default
catch-all = true
get-url = "http://{sink}/mo?from=%p&to=%P&text=%a&coding=%c&smsc=%i"
max-messages = 0
omit-empty = true
"#,
        admin = ports.admin,
        smsbox = ports.smsbox,
        sendsms = ports.sendsms,
        dir = dir.display(),
    )
}

struct Ports {
    admin: u16,
    smsbox: u16,
    sendsms: u16,
}

/// A running Kannel: bearerbox and smsbox, killed on drop (their logs are
/// printed then if the test is failing).
pub struct Kannel {
    dir: tempfile::TempDir,
    bearerbox: Child,
    smsbox: Option<Child>,
    ports: Ports,
}

fn spawn(program: &str, conf: &Path, dir: &Path, name: &str) -> Child {
    let out = std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap();
    Command::new(program)
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {program} ({e}): Kannel is missing: install it with \
                 `scripts/test` (or `sudo apt-get install -y kannel`)"
            )
        })
}

impl Kannel {
    /// Starts bearerbox, waits until its SMPP link to optgate is online,
    /// then starts smsbox and waits until it is connected to bearerbox.
    /// A box that exits while starting (a port taken by another process
    /// between the check and Kannel's bind) is started again on fresh
    /// ports, up to three times in all.
    pub async fn start(setup: &Setup) -> Kannel {
        let mut attempt = 1;
        loop {
            match Kannel::try_start(setup).await {
                Ok(k) => return k,
                Err(why) if attempt < 3 => {
                    eprintln!("Kannel start {attempt} failed, trying fresh ports: {why}");
                    attempt += 1;
                }
                Err(why) => panic!("Kannel did not start in 3 attempts: {why}"),
            }
        }
    }

    async fn try_start(setup: &Setup) -> Result<Kannel, String> {
        let dir = tempfile::tempdir().unwrap();
        let ports = Ports {
            admin: free_port(),
            smsbox: free_port(),
            sendsms: free_port(),
        };
        let conf = dir.path().join("kannel.conf");
        std::fs::write(&conf, kannel_conf(setup, dir.path(), &ports)).unwrap();
        let bearerbox = spawn("/usr/sbin/bearerbox", &conf, dir.path(), "bearerbox");
        let mut k = Kannel {
            dir,
            bearerbox,
            smsbox: None,
            ports,
        };
        // A pair is two SMSC connections in Kannel's status, each "(online".
        let links = if setup.mode == Mode::Pair { 2 } else { 1 };
        k.wait_status(|s| s.matches("(online").count() >= links)
            .await?;
        k.smsbox = Some(spawn("/usr/sbin/smsbox", &conf, k.dir.path(), "smsbox"));
        k.wait_status(|s| s.contains("smsbox:(none), IP 127.0.0.1"))
            .await?;
        k.wait_sendsms().await?;
        Ok(k)
    }

    fn admin(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.admin))
    }

    /// bearerbox's /status.txt, or "" while it does not answer.
    pub async fn status(&self) -> String {
        let path = format!("/status.txt?password={ADMIN_PASSWORD}");
        match get(self.admin(), &path).await {
            Some((200, body)) => body,
            _ => String::new(),
        }
    }

    /// Some box that exited, with its status.
    fn exited(&mut self) -> Option<String> {
        if let Ok(Some(st)) = self.bearerbox.try_wait() {
            return Some(format!("bearerbox exited: {st}"));
        }
        if let Some(Ok(Some(st))) = self.smsbox.as_mut().map(Child::try_wait) {
            return Some(format!("smsbox exited: {st}"));
        }
        None
    }

    /// Waits until the status page satisfies `ok`; Err if a box exited
    /// (with the logs), a panic if nothing happened within [`WAIT`].
    async fn wait_status(&mut self, mut ok: impl FnMut(&str) -> bool) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.status().await;
            if ok(&s) {
                return Ok(());
            }
            if let Some(why) = self.exited() {
                return Err(format!("{why}\n{}", self.logs()));
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "Kannel not ready within {WAIT:?}; status:\n{s}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_sendsms(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ports.sendsms));
        let deadline = tokio::time::Instant::now() + WAIT;
        while TcpStream::connect(addr).await.is_err() {
            if let Some(why) = self.exited() {
                return Err(format!("{why}\n{}", self.logs()));
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "smsbox sendsms port never opened\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// GET /cgi-bin/sendsms with the sendsms-user and `params` (already
    /// percent-encoded values); returns (HTTP status, body).
    pub async fn sendsms(&self, params: &[(&str, String)]) -> (u16, String) {
        let mut path =
            format!("/cgi-bin/sendsms?username={SENDSMS_USER}&password={SENDSMS_PASSWORD}");
        for (k, v) in params {
            let _ = write!(path, "&{k}={v}");
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ports.sendsms));
        get(addr, &path)
            .await
            .unwrap_or_else(|| panic!("sendsms did not answer\n{}", self.logs()))
    }

    /// Asks bearerbox to shut down (admin /shutdown: Kannel unbinds) and
    /// waits until both boxes exited.
    pub async fn shutdown(&mut self) {
        let path = format!("/shutdown?password={ADMIN_PASSWORD}");
        let _ = get(self.admin(), &path).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let bb = self.bearerbox.try_wait().unwrap().is_some();
            let sb = match self.smsbox.as_mut() {
                Some(c) => c.try_wait().unwrap().is_some(),
                None => true,
            };
            if bb && sb {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Kannel did not stop within {WAIT:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// bearerbox's log file.
    pub fn bearerbox_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bearerbox.log")).unwrap_or_default()
    }

    /// The SMPP PDUs bearerbox logged (log-level 0 dumps each one), in
    /// order: (sent by Kannel?, command name, command_status).
    pub fn pdus(&self) -> Vec<(bool, String, u32)> {
        let log = self.bearerbox_log();
        let mut out = Vec::new();
        // Connections log from their own threads and their dumps interleave:
        // follow each thread ("date time [pid] [thread] DEBUG: ...") apart.
        let mut state: HashMap<String, (Option<bool>, Option<String>)> = HashMap::new();
        for line in log.lines() {
            let Some((head, rest)) = line.split_once(" DEBUG: ") else {
                continue;
            };
            let thread = head.rsplit(' ').next().unwrap_or("").to_string();
            let (dir, name) = state.entry(thread).or_default();
            let rest = rest.trim();
            // "SMPP[id]: Sending PDU:", "... Sending unbind:", "... Got PDU:"
            if rest.starts_with("SMPP[") && rest.contains("]: Sending ") {
                *dir = Some(true);
            } else if rest.starts_with("SMPP[") && rest.ends_with("Got PDU:") {
                *dir = Some(false);
            } else if let Some(n) = rest.strip_prefix("type_name: ") {
                *name = Some(n.to_string());
            } else if let Some(v) = rest.strip_prefix("command_status: ") {
                let status = v
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .parse()
                    .unwrap_or(u32::MAX);
                if let (Some(d), Some(n)) = (dir.take(), name.take()) {
                    out.push((d, n, status));
                }
            }
        }
        out
    }

    /// The tails of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in [
            "bearerbox.log",
            "smsbox.log",
            "bearerbox.stderr",
            "smsbox.stderr",
        ] {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            let _ = writeln!(
                out,
                "---- {name} (last {} lines)\n{}",
                tail.len(),
                tail.join("\n")
            );
        }
        out
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for c in [Some(&mut self.bearerbox), self.smsbox.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One HTTP/1.0 GET, `Connection: close`; None when nothing answers.
async fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let run = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    };
    tokio::time::timeout(WAIT, run).await.ok().flatten()
}
