//! A real PostgreSQL server for tests, from Debian's `postgresql` package:
//! `initdb` into a temp dir, `pg_ctl start` on a free loopback port (its
//! Unix socket in the same dir), stopped and removed on drop. Every wait is
//! bounded.
//!
//! The server refuses to run as root, and tests run as root here: then the
//! cluster belongs to the `postgres` user (or `nobody`), which the commands
//! are run as, and the temp dir is handed to it.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The superuser of test clusters and its password (scram over TCP).
pub const USER: &str = "optgate";
pub const PASSWORD: &str = "test-secret";

/// What a test prints when the server binaries are missing.
pub const INSTALL: &str =
    "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install -y postgresql";

/// A running test cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// uid/gid the server runs as, when the tests run as root.
    owner: Option<(u32, u32)>,
}

/// Which store a test's daemon or command uses: one test body, two
/// set-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Points `cfg` at a fresh database of the shared server (PostgreSQL);
    /// SQLite keeps the config's file.
    pub fn apply(self, cfg: &mut optgate::config::Config) {
        if self == Backend::Postgres {
            cfg.store.backend = optgate::config::StoreBackend::Postgres;
            cfg.store.url = shared().create_db();
        }
    }

    /// A config file's text with its `[store]` section on this backend
    /// (a fresh database of the shared server for PostgreSQL).
    pub fn toml(self, text: &str) -> String {
        match self {
            Backend::Sqlite => text.to_string(),
            Backend::Postgres => {
                assert!(text.contains("[store]\n"), "no [store] section");
                let url = shared().create_db();
                text.replacen(
                    "[store]\n",
                    &format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\n"),
                    1,
                )
            }
        }
    }
}

/// One server for the whole test process, started at first use; each test
/// takes a database of its own ([`Postgres::create_db`]). It is never
/// dropped: a watchdog process stops it (immediate shutdown) and removes
/// its directory once the test process has ended, however it ended.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| {
        let pg = Postgres::start();
        pg.watch_parent();
        pg
    })
}

/// Where `initdb` and `pg_ctl` live: next to `initdb` on PATH (symlinks
/// resolved), else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("initdb"))
            .find(|p| p.is_file())
    });
    if let Some(initdb) = on_path {
        let real = std::fs::canonicalize(&initdb).ok()?;
        let dir = real.parent()?.to_path_buf();
        if dir.join("pg_ctl").is_file() {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

/// uid/gid of the user the server must run as, if the tests run as root.
fn server_owner() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let find = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
    };
    Some(
        find("postgres")
            .or_else(|| find("nobody"))
            .unwrap_or((65534, 65534)),
    )
}

impl Postgres {
    /// Initialises and starts a fresh cluster; panics (one line naming the
    /// install command) when PostgreSQL is not installed.
    pub fn start() -> Postgres {
        let Some(bin) = find_bin() else {
            panic!("{INSTALL}");
        };
        let dir = tempfile::Builder::new()
            .prefix("optgate-pg-")
            .tempdir()
            .expect("temp dir");
        let owner = server_owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown temp dir");
        }
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).expect("pwfile");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown pwfile");
        }
        let pg = Postgres {
            port: super::free_port(),
            dir,
            bin,
            owner,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                USER.as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                // Over TCP a password is required (the tests prove it is
                // passed); the socket in the private temp dir trusts.
                "--auth-host=scram-sha-256".as_ref(),
                "--auth-local=trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", text(&out));
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The temp dir (Unix socket directory).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a server binary as the cluster's owner; bounded by pg_ctl's own
    /// `-t` where it waits.
    fn run(&self, name: &str, args: &[&std::ffi::OsStr]) -> Output {
        let mut cmd = Command::new(self.bin.join(name));
        cmd.args(args).current_dir(self.dir.path());
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid).env("HOME", self.dir.path());
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
    }

    /// Starts the server (again, after [`Postgres::stop`]) and waits for it.
    pub fn start_server(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=40",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let data = self.data();
        let out = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "start".as_ref(),
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            text(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server at once (like a crash: no checkpoint).
    pub fn stop(&self) {
        let data = self.data();
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "20".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Starts the watchdog of [`shared`]: polls this process, then sends
    /// the postmaster SIGQUIT (immediate shutdown) and removes the dir.
    /// It outlives this process by design: never waited for.
    #[allow(clippy::zombie_processes)]
    fn watch_parent(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             kill -QUIT $(head -n 1 {dir}/data/postmaster.pid) 2>/dev/null; \
             sleep 1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.dir.path().display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the PostgreSQL watchdog");
    }

    /// URL of database `db` over TCP with the password in it.
    pub fn url_of(&self, db: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}?connect_timeout=10",
            self.port
        )
    }

    /// URL of database `db` over TCP without a password (for PGPASSWORD).
    pub fn url_without_password(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh database and returns its URL.
    pub fn create_db(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}", N.fetch_add(1, Ordering::Relaxed));
        let url = self.url_of("postgres");
        let sql = format!("CREATE DATABASE {name}");
        // The blocking client must not run on a tokio worker: a plain thread.
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            c.batch_execute(&sql).expect("create database");
        })
        .join()
        .expect("create database thread");
        self.url_of(&name)
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
