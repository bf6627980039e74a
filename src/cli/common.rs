//! What the store commands share: errors and their exit codes, opening the
//! config and the database, campaign and number checks, stdout.

use std::io::{self, BufWriter, StdoutLock};
use std::process::ExitCode;

use super::{load_or_report, ConfigArg, EXIT_CONFIG};
use crate::config::{CampaignConfig, Config};
use crate::consent::manual::{self, ManualCampaign};
use crate::store::{Database, StoreError};

/// Exit code for bad input data, e.g. an invalid import file (sysexits EX_DATAERR).
pub const EXIT_DATA: u8 = 65;
/// Exit code for store and file I/O errors (sysexits EX_IOERR).
pub const EXIT_IO: u8 = 74;

/// Why a store command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line contradicts the config (unknown campaign, ...): 64.
    #[error("{0}")]
    Usage(String),
    /// The input data is invalid; nothing was changed: 65.
    #[error("{0}")]
    Data(String),
    /// The database at `path` could not be opened or migrated: 74.
    #[error("cannot open the store {path}: {source}")]
    Open {
        /// `[store] path`.
        path: String,
        /// What failed.
        source: StoreError,
    },
    /// The database failed: 74.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A file could not be read or written: 74.
    #[error("{path}: {source}")]
    File {
        /// The file as given.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// Writing the output failed: 74 (a closed pipe is not an error).
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_CONFIG,
            CliError::Data(_) => EXIT_DATA,
            CliError::Open { source, .. } if source.is_unavailable() => super::EXIT_UNAVAILABLE,
            CliError::Open { .. }
            | CliError::Store(_)
            | CliError::File { .. }
            | CliError::Output(_) => EXIT_IO,
        }
    }
}

/// The loaded config and the open database a store command works on.
#[derive(Debug)]
pub struct Ctx {
    /// The validated configuration.
    pub cfg: Config,
    /// The database at `[store] path`, migrated.
    pub db: Database,
}

impl Ctx {
    /// `n` as typed by a person, in the normal form (TON 0, the config's
    /// default country code).
    pub fn number(&self, n: &str) -> String {
        manual::number(n, self.country_code())
    }

    /// `n` normalised, or why it can not be a recipient (digits only, at most 15).
    pub fn recipient(&self, n: &str) -> Result<String, String> {
        manual::recipient(n, self.country_code()).map_err(|e| e.to_string())
    }

    /// The campaign with this id, or a usage error listing the known ones.
    pub fn campaign(&self, id: &str) -> Result<&CampaignConfig, CliError> {
        self.cfg
            .campaigns
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| {
                let known = self.cfg.campaigns.iter().map(|c| c.id.as_str());
                CliError::Usage(manual::unknown_campaign(id, known).to_string())
            })
    }

    /// The campaign as manual changes see it (shared with the admin API).
    pub fn manual(&self, c: &CampaignConfig) -> ManualCampaign {
        ManualCampaign::from_config(c, self.country_code())
    }

    /// The campaign's sender numbers in normal form, in config order.
    pub fn senders(&self, c: &CampaignConfig) -> Vec<String> {
        self.manual(c).numbers
    }

    /// The stored sender for a sender typed as `given`: `''` under campaign
    /// scope (a given sender must still be one of the campaign's numbers);
    /// under number scope the normalised number, which must be the campaign's.
    pub fn scope_sender(
        &self,
        c: &CampaignConfig,
        given: Option<&str>,
    ) -> Result<Option<String>, String> {
        self.manual(c)
            .scope_sender(given, self.country_code())
            .map_err(|e| e.to_string())
    }

    fn country_code(&self) -> &str {
        &self.cfg.numbers.default_country_code
    }
}

/// Loads the config named by `arg`, opens its store and runs `f`; prints
/// any error to stderr and turns it into the exit code.
pub fn run_with(arg: &ConfigArg, f: impl FnOnce(&mut Ctx) -> Result<(), CliError>) -> ExitCode {
    let cfg = match load_or_report(&arg.resolve()) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    let result = Database::open_config(&cfg.store)
        .map_err(|source| CliError::Open {
            path: crate::store::StoreOptions::from_config(&cfg).describe(),
            source,
        })
        .and_then(|db| f(&mut Ctx { cfg, db }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `optgate logs | head` closes the pipe early: that is not a failure.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("optgate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Buffered, locked stdout.
pub fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::new(io::stdout().lock())
}
