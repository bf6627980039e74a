//! The command line (DESIGN.md §5): argument types and the subcommands.
//! `main.rs` only parses and calls [`main`].
//!
//! The store commands (`logs`, `events`, `consent`, `held`) load and
//! validate the config, then open `[store] path` directly (WAL, busy
//! timeout), so they work while the daemon runs. Exit codes: 0 ok, 64
//! config or command-line problem, 65 invalid input data (nothing
//! changed), 74 store or file I/O error.

mod common;
pub mod consent;
mod csv;
pub mod import;
pub mod output;
pub mod review;
pub mod store;
pub mod views;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{CampaignStatus, Config, ConfigErrors};

/// Exit code for any configuration problem (DESIGN.md §4).
pub const EXIT_CONFIG: u8 = 64;
/// Exit code when the daemon fails after a valid config was loaded.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when the daemon can not reach its store (EX_UNAVAILABLE): a
/// PostgreSQL server down or refusing; a supervisor may retry later.
pub const EXIT_UNAVAILABLE: u8 = 69;
pub use common::{CliError, EXIT_DATA, EXIT_IO};
/// Environment variable naming the config file when `-c` is not given.
pub const CONFIG_ENV: &str = "OPTGATE_CONFIG";
/// Config file tried when neither `-c` nor `$OPTGATE_CONFIG` is given.
pub const LOCAL_CONFIG: &str = "config/optgate.toml";
/// Config file used when nothing else names one and the local file is absent.
pub const SYSTEM_CONFIG: &str = "/etc/optgate/optgate.toml";

/// optgate: SMPP 3.4 consent gateway.
#[derive(Debug, Parser)]
#[command(name = "optgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Run(RunArgs),
    /// Validate the configuration and print a summary; exit 64 on errors.
    CheckConfig(ConfigArg),
    /// Test tools: a carrier simulator and a load generator.
    Sim(crate::sim::args::SimArgs),
    /// Show the consent log (Active / Pending / Refused).
    Logs(consent::LogsArgs),
    /// Show the audit trail of consent changes, blocks, holds and releases.
    Events(views::EventsArgs),
    /// Change, import or export consent.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Show held messages.
    Held(views::HeldArgs),
    /// Store administration: copy an SQLite installation into PostgreSQL.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

/// `optgate consent ...`.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Set one recipient's status (recorded as an event with source `cli`).
    Set(consent::SetArgs),
    /// Import a campaign's consent from CSV, all or nothing.
    ///
    /// The header line is required. `recipient` is the only required
    /// column; `status`, `sender`, `updated_at` and `source` are optional.
    /// Without a status column every row means refused (a carrier's opt-out
    /// list imports as is); under number scope a row without a sender
    /// applies to every number of the campaign. Any invalid row aborts the
    /// import with exit 65 and nothing is changed.
    Import(import::ImportArgs),
    /// Export a campaign's consent as CSV (recipient,status,sender,updated_at,source).
    Export(consent::ExportArgs),
    /// Turn a reviewed probable opt-out (an event id) into an opt-out (source `review`).
    Review(review::ReviewArgs),
}

/// `-c FILE`, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Config file [default: $OPTGATE_CONFIG, then config/optgate.toml, then /etc/optgate/optgate.toml]
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The config file to load: `-c`, then `$OPTGATE_CONFIG` (if not
    /// empty), then `config/optgate.toml` if it exists, then the system file.
    pub fn resolve(&self) -> PathBuf {
        let from_env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty());
        resolve_config_path(self.config.clone(), from_env.map(PathBuf::from), |p| {
            p.exists()
        })
    }
}

/// The `-c` default resolution as a pure function (testable without the
/// process environment): explicit, then env, then local if `exists`, then system.
pub fn resolve_config_path(
    explicit: Option<PathBuf>,
    from_env: Option<PathBuf>,
    exists: impl Fn(&Path) -> bool,
) -> PathBuf {
    explicit
        .or(from_env)
        .or_else(|| Some(PathBuf::from(LOCAL_CONFIG)).filter(|p| exists(p)))
        .unwrap_or_else(|| PathBuf::from(SYSTEM_CONFIG))
}

/// `optgate run` arguments.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The daemon could not start (store, listener).
    #[error("{0}")]
    Start(#[from] crate::daemon::StartError),
    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

impl DaemonError {
    /// The process exit code: 69 when the store is unreachable, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Start(crate::daemon::StartError::Store { source, .. })
                if source.is_unavailable() =>
            {
                EXIT_UNAVAILABLE
            }
            _ => EXIT_FAILURE,
        }
    }
}

/// Runs one parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run(&args),
        Command::CheckConfig(arg) => check_config(&arg.resolve()),
        Command::Sim(args) => crate::sim::args::main(args),
        Command::Store(cmd) => store::main(cmd),
        Command::Logs(a) => common::run_with(&a.config, |ctx| consent::logs(ctx, &a)),
        Command::Events(a) => common::run_with(&a.config, |ctx| views::events(ctx, &a)),
        Command::Held(a) => common::run_with(&a.config, |ctx| views::held(ctx, &a)),
        Command::Consent(ConsentCommand::Set(a)) => {
            common::run_with(&a.config, |ctx| consent::set(ctx, &a))
        }
        Command::Consent(ConsentCommand::Import(a)) => {
            common::run_with(&a.config, |ctx| import::import(ctx, &a))
        }
        Command::Consent(ConsentCommand::Export(a)) => {
            common::run_with(&a.config, |ctx| consent::export(ctx, &a))
        }
        Command::Consent(ConsentCommand::Review(a)) => {
            common::run_with(&a.config, |ctx| review::review(ctx, &a))
        }
    }
}

/// Loads and validates `path`; on problems prints each line to stderr.
fn load_or_report(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|errors: ConfigErrors| {
        eprintln!("{}: invalid configuration", path.display());
        for p in &errors.problems {
            eprintln!("{p}");
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

fn check_config(path: &Path) -> ExitCode {
    match load_or_report(path) {
        Ok(cfg) => {
            print!("{}", summary(path, &cfg));
            // A warning, not an error: the daemon still starts (and /readyz
            // stays 200), but an alert should fire weeks before expiry.
            for w in certificate_warnings(&cfg) {
                eprintln!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The short `check-config` summary of a valid configuration.
pub fn summary(path: &Path, cfg: &Config) -> String {
    let approved = cfg
        .campaigns
        .iter()
        .filter(|c| c.status == CampaignStatus::Approved)
        .count();
    let mut out = String::new();
    // Writing to a String can not fail.
    let _ = writeln!(out, "{}: OK", path.display());
    let plain = if cfg.server.listen.is_empty() {
        "(off)"
    } else {
        cfg.server.listen.as_str()
    };
    let _ = writeln!(out, "smpp listen:  {plain}");
    if cfg.server.tls.enabled() {
        let mutual = if cfg.server.tls.client_ca.is_empty() {
            ""
        } else {
            ", client certificates required"
        };
        let _ = writeln!(out, "tls listen:   {}{mutual}", cfg.server.tls.listen);
    }
    let _ = writeln!(out, "admin listen: {}", cfg.admin.listen);
    let _ = writeln!(out, "accounts:     {}", cfg.server.accounts.len());
    let _ = writeln!(
        out,
        "campaigns:    {} ({approved} approved)",
        cfg.campaigns.len()
    );
    let _ = writeln!(
        out,
        "upstream:     {} as {} ({} x{})",
        cfg.upstream.address, cfg.upstream.system_id, cfg.upstream.bind, cfg.upstream.binds
    );
    if cfg.upstream.tls.enabled {
        let _ = writeln!(out, "upstream tls: on");
    }
    let _ = writeln!(
        out,
        "store:        {} {} (durability {})",
        cfg.store.backend,
        crate::store::StoreOptions::from_config(cfg).describe(),
        cfg.store.durability
    );
    out
}

/// Certificates that expire within 14 days (or have expired).
pub fn certificate_warnings(cfg: &Config) -> Vec<String> {
    const SOON: i64 = 14 * 24 * 3600;
    let mut files = Vec::new();
    if cfg.server.tls.enabled() {
        files.push(("server.tls.cert", &cfg.server.tls.cert));
    }
    if cfg.upstream.tls.enabled && !cfg.upstream.tls.cert.is_empty() {
        files.push(("upstream.tls.cert", &cfg.upstream.tls.cert));
    }
    let mut out = Vec::new();
    for (key, path) in files {
        let Ok(certs) = crate::tls::load_certs(path) else {
            continue; // validate() already reported it
        };
        let Some(f) = certs.first().and_then(crate::tls::facts) else {
            continue;
        };
        let left = f.seconds_left();
        if left <= 0 {
            out.push(format!("{key} ({path}) has expired"));
        } else if left < SOON {
            out.push(format!(
                "{key} ({path}) expires in {} days {} hours",
                left / 86_400,
                left % 86_400 / 3600
            ));
        }
    }
    out
}

fn run(args: &RunArgs) -> ExitCode {
    let path = args.config.resolve();
    let cfg = match load_or_report(&path) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    init_tracing(args.log_format);
    tracing::info!(config = %path.display(), "configuration loaded");
    let result = daemon_runtime()
        .map_err(DaemonError::from)
        .and_then(|rt| rt.block_on(run_daemon(cfg, path.clone())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "optgate stopped");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The daemon's runtime: one worker per core, the LIFO slot off.
///
/// A task woken by a task on the same worker goes into that worker's LIFO
/// slot, which no other worker can steal from (tokio-rs/tokio#4941): when
/// the worker is then busy or preempted (a 2-core machine shared with the
/// platform or a load generator), the woken session or bind waits for it
/// while the other worker idles. With every message asking for a receipt
/// that wait was most of the p99 at 50,000 msg/s (1.1 ms against 0.6 ms
/// with the slot off, same CPU time; README, Performance). The switch is
/// behind `--cfg tokio_unstable`, which `.cargo/config.toml` sets; a build
/// without it (a `RUSTFLAGS` of its own replaces that flag) keeps the slot
/// and says so at start.
fn daemon_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    #[cfg(not(tokio_unstable))]
    tracing::warn!(
        "built without --cfg tokio_unstable (a RUSTFLAGS of its own?): the runtime's LIFO slot stays on, \
         which raises the latency tail under load; build with the repository's .cargo/config.toml"
    );
    builder.enable_all().build()
}

/// Installs the global tracing subscriber: `RUST_LOG` filter (default
/// `info`), text or JSON lines on stderr. Text is coloured only when stderr
/// is a terminal (and `NO_COLOR` is unset): in a file, a pipe or the journal
/// escape codes are noise. A second call is a no-op.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    // try_init fails only when a subscriber is already set; keep that one.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The daemon: starts it, tells systemd it is ready, then serves until a
/// signal. SIGTERM drains gracefully within `[server] shutdown_grace`;
/// SIGINT stops fast (the store still commits what it acknowledged); SIGHUP
/// reloads accounts and routes from `path`, keeping the old config if the
/// new one does not validate.
pub async fn run_daemon(cfg: Config, path: PathBuf) -> Result<(), DaemonError> {
    use tokio::signal::unix::{signal, SignalKind};
    let daemon = crate::daemon::Daemon::start(&cfg, None).await?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let watchdog = crate::sdnotify::watchdog_interval();
    let mut wd = tokio::time::interval(watchdog.unwrap_or(std::time::Duration::from_secs(3600)));
    crate::sdnotify::notify("READY=1");
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: draining");
                crate::sdnotify::notify("STOPPING=1");
                daemon.shutdown(cfg.server.shutdown_grace).await;
                return Ok(());
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: stopping fast");
                crate::sdnotify::notify("STOPPING=1");
                daemon.shutdown(std::time::Duration::from_millis(200)).await;
                return Ok(());
            }
            _ = hup.recv() => reload(&daemon, &cfg, &path),
            _ = wd.tick(), if watchdog.is_some() => crate::sdnotify::notify("WATCHDOG=1"),
        }
    }
}

fn reload(daemon: &crate::daemon::Daemon, running: &Config, path: &Path) {
    match Config::load(path) {
        Ok(new) => {
            if new.server.listen != running.server.listen || new.store.path != running.store.path {
                tracing::warn!(
                    "listen address and store path changes need a restart; kept the old ones"
                );
            }
            daemon.reload(&new);
        }
        Err(errors) => {
            tracing::warn!(
                problems = errors.problems.len(),
                "reload refused: the new config is invalid; keeping the old one"
            );
            for p in &errors.problems {
                tracing::warn!(problem = %p, "config problem");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The daemon's runtime has its LIFO slot off only in a build with
    /// `--cfg tokio_unstable` (.cargo/config.toml); a test build without it
    /// means the flag was lost (a RUSTFLAGS of its own) and so would the
    /// release build's latency tail.
    #[test]
    #[allow(clippy::assertions_on_constants)] // the constant is the build's flag
    fn built_with_tokio_unstable() {
        assert!(
            cfg!(tokio_unstable),
            "built without --cfg tokio_unstable: .cargo/config.toml not applied"
        );
    }

    #[test]
    fn daemon_runtime_runs_tasks_on_its_workers() {
        let rt = super::daemon_runtime().expect("runtime");
        let n = rt.block_on(async {
            let handles: Vec<_> = (0..8u64)
                .map(|i| tokio::spawn(async move { i * 2 }))
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("task");
            }
            sum
        });
        assert_eq!(n, 56);
    }
}
