//! `optgate logs`, `optgate consent set` and `optgate consent export`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{stdout, CliError, Ctx};
use super::output::{Cell, Format, Output};
use super::ConfigArg;
use crate::consent::manual;
use crate::policy::ConsentStatus;
use crate::store::consent::{ConsentFilter, ConsentRow, Key};

/// Rows fetched per query while listing; keeps memory flat for big logs.
const PAGE: u32 = 500;

/// The columns of `optgate logs` (also its JSON keys and CSV header).
pub const LOG_COLUMNS: &[&str] = &[
    "campaign",
    "sender",
    "recipient",
    "status",
    "updated_at",
    "source",
];

/// The columns of `consent export` / `consent import` files.
pub const FILE_COLUMNS: &[&str] = &["recipient", "status", "sender", "updated_at", "source"];

/// A status as the log shows it (there is no row for "none").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogStatus {
    /// Opted in.
    Active,
    /// Opt-in request sent, no answer yet.
    Pending,
    /// Opted out.
    Refused,
}

impl From<LogStatus> for ConsentStatus {
    fn from(s: LogStatus) -> Self {
        match s {
            LogStatus::Active => ConsentStatus::Active,
            LogStatus::Pending => ConsentStatus::Pending,
            LogStatus::Refused => ConsentStatus::Refused,
        }
    }
}

/// A status the command line may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SetStatus {
    /// Opted in: held messages are released.
    Active,
    /// Opted out: held messages are dropped.
    Refused,
    /// Forget the consent: the next message is treated as a first contact.
    None,
}

impl From<SetStatus> for ConsentStatus {
    fn from(s: SetStatus) -> Self {
        match s {
            SetStatus::Active => ConsentStatus::Active,
            SetStatus::Refused => ConsentStatus::Refused,
            SetStatus::None => ConsentStatus::None,
        }
    }
}

/// `optgate logs` arguments.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this status.
    #[arg(long, value_enum)]
    pub status: Option<LogStatus>,
    /// Only this campaign id.
    #[arg(long, value_name = "ID")]
    pub campaign: Option<String>,
    /// Only this sender number (campaign-scope rows have no sender).
    #[arg(long, value_name = "N")]
    pub sender: Option<String>,
    /// Only this recipient number.
    #[arg(long, value_name = "N")]
    pub recipient: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// At most this many rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

/// Prints the consent log, ordered by campaign, sender, recipient.
pub fn logs(ctx: &mut Ctx, a: &LogsArgs) -> Result<(), CliError> {
    let filter = ConsentFilter {
        campaign: a.campaign.clone(),
        sender: a.sender.as_deref().map(|n| ctx.number(n)),
        recipient: a.recipient.as_deref().map(|n| ctx.number(n)),
        status: a.status.map(ConsentStatus::from),
    };
    let mut out = Output::new(a.format, LOG_COLUMNS, stdout())?;
    for_each_row(ctx, &filter, a.limit, |r| {
        out.row(&[
            Cell::Text(r.key.campaign.clone()),
            Cell::Text(r.key.sender.clone()),
            Cell::Text(r.key.recipient.clone()),
            Cell::Status(r.status),
            Cell::Time(r.updated_at),
            Cell::Text(r.source.clone()),
        ])
    })?;
    Ok(out.finish()?)
}

/// Calls `f` on each matching row, at most `limit`, fetching page by page.
fn for_each_row(
    ctx: &Ctx,
    filter: &ConsentFilter,
    limit: Option<u32>,
    mut f: impl FnMut(&ConsentRow) -> std::io::Result<()>,
) -> Result<u64, CliError> {
    let mut left = limit.unwrap_or(u32::MAX);
    let mut after: Option<Key> = None;
    let mut n = 0u64;
    while left > 0 {
        let page = PAGE.min(left);
        let rows = ctx
            .db
            .read(|t| t.list_consent(filter, after.as_ref(), page))?;
        for r in &rows {
            f(r)?;
        }
        n += rows.len() as u64;
        left -= u32::try_from(rows.len()).unwrap_or(page);
        match rows.last() {
            Some(last) if rows.len() as u64 == u64::from(page) => after = Some(last.key.clone()),
            _ => break,
        }
    }
    Ok(n)
}

/// `optgate consent set` arguments.
#[derive(Debug, Clone, Args)]
pub struct SetArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Campaign id (from the config).
    #[arg(long, value_name = "ID")]
    pub campaign: String,
    /// Sender number; required when the campaign's consent_scope is "number".
    #[arg(long, value_name = "N")]
    pub sender: Option<String>,
    /// Recipient number.
    #[arg(long, value_name = "N")]
    pub recipient: String,
    /// New status.
    #[arg(long, value_enum)]
    pub status: SetStatus,
    /// Why (recorded as the source `cli: REASON`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Sets one scope key's status (recording the event) and prints old → new.
pub fn set(ctx: &mut Ctx, a: &SetArgs) -> Result<(), CliError> {
    let campaign = ctx.campaign(&a.campaign)?;
    let cc = ctx.cfg.numbers.default_country_code.clone();
    let key = ctx
        .manual(campaign)
        .key(a.sender.as_deref(), &a.recipient, &cc)
        .map_err(|e| match e {
            // Name the flag on the command line; the API says "sender".
            manual::ManualError::SenderRequired { campaign, numbers } => CliError::Usage(format!(
                "campaign {campaign:?} keeps consent per sender number: give --sender (one of {numbers})"
            )),
            e => CliError::Usage(e.to_string()),
        })?;
    let source =
        manual::source("cli", a.reason.as_deref()).map_err(|e| CliError::Usage(e.to_string()))?;
    let new = ConsentStatus::from(a.status);
    let old = ctx.db.write(|t| t.set_status(&key, new, &source, ""))?;
    let who = if key.sender.is_empty() {
        format!("{} {}", key.campaign, key.recipient)
    } else {
        format!("{} {} {}", key.campaign, key.sender, key.recipient)
    };
    let mut out = stdout();
    if old == new {
        writeln!(out, "{who}: {} (unchanged)", new.as_str())?;
    } else {
        writeln!(out, "{who}: {} → {}", old.as_str(), new.as_str())?;
    }
    Ok(out.flush()?)
}

/// `optgate consent export` arguments.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Campaign id (rows of campaigns no longer in the config can be exported too).
    #[arg(long, value_name = "ID")]
    pub campaign: String,
    /// Output CSV file; `-` for stdout.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
}

/// Writes the campaign's consent rows (status none excluded) as CSV with
/// the columns recipient,status,sender,updated_at,source.
pub fn export(ctx: &mut Ctx, a: &ExportArgs) -> Result<(), CliError> {
    let filter = ConsentFilter {
        campaign: Some(a.campaign.clone()),
        ..ConsentFilter::default()
    };
    let dest: Box<dyn Write> = if a.file.as_os_str() == "-" {
        Box::new(stdout())
    } else {
        let f = File::create(&a.file).map_err(|source| CliError::File {
            path: a.file.display().to_string(),
            source,
        })?;
        Box::new(BufWriter::new(f))
    };
    let mut out = Output::new(Format::Csv, FILE_COLUMNS, dest)?;
    let n = for_each_row(ctx, &filter, None, |r| {
        out.row(&[
            Cell::Text(r.key.recipient.clone()),
            Cell::Status(r.status),
            Cell::Text(r.key.sender.clone()),
            Cell::Time(r.updated_at),
            Cell::Text(r.source.clone()),
        ])
    })?;
    out.finish()?;
    eprintln!("exported {n} rows of campaign {}", a.campaign);
    Ok(())
}
