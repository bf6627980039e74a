//! The real `optgate` binary as a child process: a config file, readiness
//! via `NOTIFY_SOCKET`, signals, its log, the store commands. Used by
//! tests/lifecycle_binary.rs and tests/faults_crash.rs.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{free_port, Esme, FakeCarrier, WAIT};
use optgate::pdu::command as cmd;

/// The binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_optgate");

/// A whole config file; `window` lets a test make it invalid (0); `extra`
/// is appended TOML (accounts, campaigns). `[store] durability` is left at
/// its default (`full`).
pub fn config_text(
    smpp: u16,
    admin: u16,
    carrier: &str,
    dir: &Path,
    window: u32,
    extra: &str,
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
{extra}
"#,
        store = dir.join("optgate.db").display()
    )
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// `optgate run -c FILE`, its log in a file, killed if a test fails.
pub struct Optgate {
    pub child: Child,
    pub log: PathBuf,
    notify: UnixDatagram,
    pub addr: std::net::SocketAddr,
}

impl Optgate {
    /// Starts the binary; each start (also a restart in the same `dir`)
    /// logs to its own `stderr-N.log`.
    pub fn start(dir: &Path, file: &Path, smpp: u16) -> Optgate {
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let log = dir.join(format!("stderr-{n}.log"));
        let sock = dir.join("notify.sock");
        let _ = std::fs::remove_file(&sock);
        let notify = UnixDatagram::bind(&sock).unwrap();
        notify.set_nonblocking(true).unwrap();
        let child = Command::new(BIN)
            .args(["run", "-c"])
            .arg(file)
            .env("RUST_LOG", "info")
            // No NO_COLOR: a log written to a file must come out plain by
            // itself (tests/logs_binary.rs checks it).
            .env_remove("NO_COLOR")
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

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// SIGKILL and reap: no shutdown path runs.
    pub async fn sigkill(mut self) {
        self.signal("-KILL");
        let exit = self.exited_within(WAIT).await;
        assert!(exit.is_some(), "optgate survived SIGKILL");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has `n` lines containing `needle`.
    pub async fn wait_log(&self, needle: &str, n: usize) {
        let found = tokio::time::timeout(WAIT, async {
            while self.log().matches(needle).count() < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "no {needle:?} in the log:\n{}", self.log());
    }

    /// The next sd_notify datagram.
    pub async fn notified(&self) -> String {
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
    pub async fn exited_within(&mut self, d: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + d;
        while tokio::time::Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// A transceiver bind; the session and the bind_resp status.
    pub async fn bind(&self, system_id: &str, password: &str) -> (Esme, u32) {
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

/// A fake carrier, a temporary directory with the config file, and the
/// ports the binary will use (the same across restarts).
pub struct Setup {
    pub carrier: std::sync::Arc<FakeCarrier>,
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
    pub smpp: u16,
    pub admin: u16,
}

impl Setup {
    pub async fn new(extra: &str) -> Setup {
        let carrier = std::sync::Arc::new(FakeCarrier::start().await);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("optgate.toml");
        let s = Setup {
            carrier,
            file,
            smpp: free_port(),
            admin: free_port(),
            dir,
        };
        s.write(10, extra);
        s
    }

    pub fn write(&self, window: u32, extra: &str) {
        let text = config_text(
            self.smpp,
            self.admin,
            &self.carrier.address(),
            self.dir.path(),
            window,
            extra,
        );
        std::fs::write(&self.file, text).unwrap();
    }

    /// The config file's store on `backend` (a fresh database of the shared
    /// PostgreSQL server for PostgreSQL); keeps the file otherwise.
    pub fn on(self, backend: super::postgres::Backend) -> Setup {
        let text = std::fs::read_to_string(&self.file).unwrap();
        std::fs::write(&self.file, backend.toml(&text)).unwrap();
        self
    }

    /// Starts the binary and waits until it says READY and the carrier
    /// saw `binds` binds in all (1 on a first start, 2 after one restart…).
    pub async fn start_with_binds(&self, binds: usize) -> Optgate {
        let og = Optgate::start(self.dir.path(), &self.file, self.smpp);
        assert_eq!(og.notified().await, "READY=1");
        self.carrier.wait_binds(binds).await;
        og
    }

    /// Starts the binary and waits until it says READY and the carrier bind is up.
    pub async fn start(&self) -> Optgate {
        self.start_with_binds(1).await
    }

    /// Runs `optgate ARGS -c FILE` (a store command) to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("-c")
            .arg(&self.file)
            .env_remove("OPTGATE_CONFIG")
            .output()
            .expect("run optgate")
    }
}
