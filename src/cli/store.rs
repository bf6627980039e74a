//! `optgate store copy`: move an SQLite installation into PostgreSQL.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{EXIT_CONFIG, EXIT_DATA, EXIT_IO, EXIT_UNAVAILABLE};
use crate::store::postgres::conn::redact;
use crate::store::postgres::copy::{sqlite_to_postgres, CopyError};

/// `optgate store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy an SQLite database's whole state into PostgreSQL (stop the
    /// daemon first). The target is migrated, must be empty unless
    /// --overwrite, and the copy is committed only when every table's row
    /// count matches.
    Copy(CopyArgs),
}

/// `optgate store copy` arguments.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: sqlite:PATH (the daemon's [store] path).
    #[arg(long, value_name = "sqlite:PATH")]
    pub from: String,
    /// Target: postgres:URL (a libpq URL or key=value string; the password
    /// may come from PGPASSWORD or a passfile).
    #[arg(long, value_name = "postgres:URL")]
    pub to: String,
    /// Empty a non-empty target first instead of refusing.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `optgate store ...`.
pub fn main(cmd: StoreCommand) -> ExitCode {
    match cmd {
        StoreCommand::Copy(a) => copy(&a),
    }
}

fn copy(a: &CopyArgs) -> ExitCode {
    let Some(from) = a.from.strip_prefix("sqlite:") else {
        eprintln!("optgate: --from must be sqlite:PATH, got {:?}", a.from);
        return ExitCode::from(EXIT_CONFIG);
    };
    let to =
        a.to.strip_prefix("postgres:")
            .filter(|rest| !rest.starts_with("//"))
            .unwrap_or(&a.to);
    if !(a.to.starts_with("postgres:") || a.to.starts_with("postgresql:")) {
        eprintln!(
            "optgate: --to must be postgres:URL, got {:?}",
            redact(&a.to)
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let from = PathBuf::from(from);
    if !from.is_file() {
        eprintln!("optgate: {}: no such database file", from.display());
        return ExitCode::from(EXIT_IO);
    }
    match sqlite_to_postgres(&from, to, a.overwrite, Duration::from_secs(10)) {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "copied {} to {}", from.display(), redact(to));
            for (table, rows) in &report.tables {
                let _ = writeln!(out, "{table:<12} {rows:>10} rows (verified)");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("optgate: store copy: {e}");
            ExitCode::from(match &e {
                CopyError::NotEmpty { .. } => EXIT_DATA,
                CopyError::Store(s) if s.is_unavailable() => EXIT_UNAVAILABLE,
                _ => EXIT_IO,
            })
        }
    }
}
