//! The real `optgate` binary: start, SIGTERM with a request in flight, SIGHUP
//! reloads (good and bad files), `check-config` on a bad file, sd_notify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use common::*;
use optgate::pdu::{command as cmd, status, Body, Pdu};

const BIN: &str = env!("CARGO_BIN_EXE_optgate");
const GRACE: Duration = Duration::from_secs(3);

const PBX: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;

const CRM: &str = r#"
[[server.accounts]]
system_id = "crm"
password = "secret2"
numbers = ["14155550200"]
"#;

/// A port that was free a moment ago (bound on 127.0.0.1:0, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A whole config file; `window` lets a test make it invalid (0).
fn config_text(
    smpp: u16,
    admin: u16,
    carrier: &str,
    dir: &Path,
    window: u32,
    accounts: &str,
) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:{smpp}"
window = {window}
bind_timeout = "5s"
failed_bind_limit = 100
shutdown_grace = "3s"

[upstream]
address = "{carrier}"
system_id = "optgate"
password = "secret"
response_timeout = "2s"
reconnect_min = "100ms"
reconnect_max = "500ms"

[store]
path = "{store}"

[admin]
listen = "127.0.0.1:{admin}"
{accounts}
"#,
        store = dir.join("optgate.db").display()
    )
}

/// `optgate run -c FILE`, its log in a file, killed if a test fails.
struct Optgate {
    child: Child,
    log: PathBuf,
    notify: UnixDatagram,
    addr: std::net::SocketAddr,
}

impl Optgate {
    fn start(dir: &Path, file: &Path, smpp: u16) -> Optgate {
        let log = dir.join("stderr.log");
        let sock = dir.join("notify.sock");
        let notify = UnixDatagram::bind(&sock).unwrap();
        notify.set_nonblocking(true).unwrap();
        let child = Command::new(BIN)
            .args(["run", "-c"])
            .arg(file)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("NOTIFY_SOCKET", &sock)
            .env_remove("OPTGATE_CONFIG")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start optgate");
        Optgate {
            child,
            log,
            notify,
            addr: format!("127.0.0.1:{smpp}").parse().unwrap(),
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has `n` lines containing `needle`.
    async fn wait_log(&self, needle: &str, n: usize) {
        let found = tokio::time::timeout(WAIT, async {
            while self.log().matches(needle).count() < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "no {needle:?} in the log:\n{}", self.log());
    }

    /// The next sd_notify datagram.
    async fn notified(&self) -> String {
        let mut buf = [0u8; 256];
        let got = tokio::time::timeout(WAIT, async {
            loop {
                match self.notify.recv(&mut buf) {
                    Ok(n) => return String::from_utf8_lossy(&buf[..n]).into_owned(),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
        .await;
        got.unwrap_or_else(|_| panic!("no sd_notify message; log:\n{}", self.log()))
    }

    /// Exit status, waiting at most `d`.
    async fn exited_within(&mut self, d: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + d;
        while tokio::time::Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn bind(&self, system_id: &str, password: &str) -> (Esme, u32) {
        let mut e = Esme::connect(self.addr).await;
        let r = e.bind(cmd::BIND_TRANSCEIVER, system_id, password).await;
        (e, r.command_status)
    }
}

impl Drop for Optgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    carrier: FakeCarrier,
    dir: tempfile::TempDir,
    file: PathBuf,
    smpp: u16,
    admin: u16,
}

impl Setup {
    async fn new(accounts: &str) -> Setup {
        let carrier = FakeCarrier::start().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("optgate.toml");
        let s = Setup {
            carrier,
            file,
            smpp: free_port(),
            admin: free_port(),
            dir,
        };
        s.write(10, accounts);
        s
    }

    fn write(&self, window: u32, accounts: &str) {
        let text = config_text(
            self.smpp,
            self.admin,
            &self.carrier.address(),
            self.dir.path(),
            window,
            accounts,
        );
        std::fs::write(&self.file, text).unwrap();
    }

    /// Starts the binary and waits until it says READY and the carrier bind is up.
    async fn start(&self) -> Optgate {
        let og = Optgate::start(self.dir.path(), &self.file, self.smpp);
        assert_eq!(og.notified().await, "READY=1");
        self.carrier.wait_binds(1).await;
        og
    }
}

#[tokio::test]
async fn sigterm_drains_in_flight_and_exits_zero() {
    let s = Setup::new(PBX).await;
    s.carrier
        .delay_ms
        .store(400, std::sync::atomic::Ordering::Relaxed);
    let mut og = s.start().await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);

    let mut req = submit("14155550100", "14155551234", "in flight");
    req.sequence_number = 77;
    p.send(&req).await;
    s.carrier.wait_submits(1).await;
    og.signal("-TERM");

    let (mut answered, mut saw_unbind) = (None, false);
    while let Some(pdu) = p.try_recv(Duration::from_secs(5)).await {
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => answered = Some((pdu.sequence_number, pdu.command_status)),
            cmd::UNBIND => {
                saw_unbind = true;
                p.send(&Pdu::new(pdu.sequence_number, Body::UnbindResp))
                    .await;
            }
            other => panic!("unexpected {other:#x}"),
        }
    }
    assert_eq!(answered, Some((77, 0)), "the carrier's answer is relayed");
    assert!(saw_unbind, "platform sees an unbind");
    assert_eq!(og.notified().await, "STOPPING=1");
    let exit = og.exited_within(GRACE + Duration::from_secs(2)).await;
    assert!(
        exit.is_some_and(|e| e.code() == Some(0)),
        "exit {exit:?}; log:\n{}",
        og.log()
    );
    assert_eq!(s.carrier.log.lock().unwrap().unbinds, 1, "carrier unbound");
    assert!(og.log().contains("SIGTERM"));
}

#[tokio::test]
async fn sighup_reloads_good_files_and_keeps_the_old_one_on_bad() {
    let s = Setup::new(PBX).await;
    let mut og = s.start().await;
    let (mut pbx, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);
    let (_, st) = og.bind("crm", "secret2").await;
    assert_eq!(st, status::ESME_RINVSYSID, "crm unknown before the reload");

    // Add an account.
    s.write(10, &format!("{PBX}{CRM}"));
    og.signal("-HUP");
    og.wait_log("configuration reloaded", 1).await;
    let (_crm, st) = og.bind("crm", "secret2").await;
    assert_eq!(st, status::ESME_ROK, "the new account binds");
    let (r, _) = pbx
        .request(submit("14155550100", "14155551234", "still bound"))
        .await;
    assert_eq!(r.command_status, 0, "the existing bind stayed up");

    // An invalid file (window = 0, and crm removed): refused, old config kept.
    s.write(0, PBX);
    og.signal("-HUP");
    og.wait_log("reload refused", 1).await;
    let log = og.log();
    assert!(
        log.contains("server.window"),
        "the log names the key:\n{log}"
    );
    let (_, st) = og.bind("crm", "secret2").await;
    assert_eq!(st, status::ESME_ROK, "crm still there: old config kept");
    let (_, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK, "pbx still binds");
    let (r, _) = pbx
        .request(submit("14155550100", "14155551234", "after bad reload"))
        .await;
    assert_eq!(r.command_status, 0);

    // The same file fails check-config with exit code 64.
    let out = Command::new(BIN)
        .args(["check-config", "-c"])
        .arg(&s.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.window"));

    og.signal("-TERM");
    let exit = og.exited_within(GRACE + Duration::from_secs(2)).await;
    assert!(exit.is_some_and(|e| e.success()), "exit {exit:?}");
}
