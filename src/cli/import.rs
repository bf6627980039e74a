//! `optgate consent import`: a CSV of consent statuses into one campaign,
//! all or nothing.
//!
//! The file needs a header line naming its columns (any order, any case):
//! `recipient` is required; `status`, `sender`, `updated_at` and `source`
//! are optional. So a carrier's opt-out list can be imported as it is: with
//! no `status` column every row means `refused`. Under number scope a row
//! with no sender applies to every number of the campaign. Every row is
//! checked before anything is written; one bad row aborts the import.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::common::{CliError, Ctx};
use super::consent::FILE_COLUMNS;
use super::csv::{self, Record};
use super::output::parse_time;
use super::ConfigArg;
use crate::config::{CampaignConfig, ConsentScope};
use crate::policy::ConsentStatus;
use crate::store::consent::Key;
use crate::store::{StoreError, StoreTxn};

/// Invalid rows listed before the rest are only counted.
const MAX_LISTED: usize = 20;

/// `optgate consent import` arguments.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Campaign id (from the config).
    #[arg(long, value_name = "ID")]
    pub campaign: String,
    /// CSV file; `-` for stdin.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
}

/// One checked row: the keys it sets and how.
#[derive(Debug)]
struct Change {
    keys: Vec<Key>,
    status: ConsentStatus,
    updated_at: Option<i64>,
    source: String,
}

/// Column positions from the header.
#[derive(Debug, Default)]
struct Columns {
    recipient: usize,
    status: Option<usize>,
    sender: Option<usize>,
    updated_at: Option<usize>,
    source: Option<usize>,
    count: usize,
}

/// Imports the file in one transaction and prints the counts.
pub fn import(ctx: &mut Ctx, a: &ImportArgs) -> Result<(), CliError> {
    let name = a.file.display().to_string();
    let text = read_input(a)?;
    let campaign = ctx.campaign(&a.campaign)?.clone();
    let records = csv::parse(&text).map_err(|e| CliError::Data(format!("{name}: {e}")))?;
    let (header, rows) = records
        .split_first()
        .ok_or_else(|| CliError::Data(format!("{name}: empty file (a header line is needed)")))?;
    let cols = columns(header)
        .map_err(|e| CliError::Data(format!("{name}: line {}: {e}", header.line)))?;
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for r in rows {
        match check_row(ctx, &campaign, &cols, r) {
            Ok(c) => changes.push(c),
            Err(e) => problems.push(format!("{name}: line {}: {e}", r.line)),
        }
    }
    if !problems.is_empty() {
        let mut msg = problems
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        if problems.len() > MAX_LISTED {
            msg.push_str(&format!("\n... and {} more", problems.len() - MAX_LISTED));
        }
        msg.push_str(&format!(
            "\nimport aborted: {} invalid rows; nothing was changed",
            problems.len()
        ));
        return Err(CliError::Data(msg));
    }
    let (changed, unchanged) = ctx.db.write(|c| apply(c, &changes))?;
    println!(
        "{name}: {} rows into campaign {}: {changed} changed, {unchanged} unchanged, 0 invalid",
        rows.len(),
        campaign.id
    );
    Ok(())
}

fn read_input(a: &ImportArgs) -> Result<String, CliError> {
    let file_err = |source| CliError::File {
        path: a.file.display().to_string(),
        source,
    };
    let bytes = if a.file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map_err(file_err)?;
        b
    } else {
        std::fs::read(&a.file).map_err(file_err)?
    };
    String::from_utf8(bytes)
        .map_err(|_| CliError::Data(format!("{}: not UTF-8 text", a.file.display())))
}

fn columns(header: &Record) -> Result<Columns, String> {
    let mut cols = Columns {
        count: header.fields.len(),
        ..Columns::default()
    };
    let mut recipient = None;
    for (i, raw) in header.fields.iter().enumerate() {
        let name = raw.trim().to_lowercase();
        let slot = match name.as_str() {
            "recipient" => &mut recipient,
            "status" => &mut cols.status,
            "sender" => &mut cols.sender,
            "updated_at" => &mut cols.updated_at,
            "source" => &mut cols.source,
            _ => {
                return Err(format!(
                    "unknown column {raw:?} (columns: {})",
                    FILE_COLUMNS.join(", ")
                ))
            }
        };
        if slot.replace(i).is_some() {
            return Err(format!("column {name:?} appears twice"));
        }
    }
    cols.recipient = recipient.ok_or("a \"recipient\" column is required")?;
    Ok(cols)
}

fn check_row(
    ctx: &Ctx,
    campaign: &CampaignConfig,
    cols: &Columns,
    r: &Record,
) -> Result<Change, String> {
    if r.fields.len() != cols.count {
        return Err(format!(
            "{} fields, the header has {}",
            r.fields.len(),
            cols.count
        ));
    }
    let field = |i: Option<usize>| i.and_then(|i| r.fields.get(i)).map(|f| f.trim());
    let recipient = ctx.recipient(field(Some(cols.recipient)).unwrap_or(""))?;
    let status = match field(cols.status) {
        None => ConsentStatus::Refused,
        Some(s) => ConsentStatus::parse(&s.to_lowercase())
            .ok_or_else(|| format!("status {s:?} is not one of active, pending, refused, none"))?,
    };
    let updated_at = match field(cols.updated_at).filter(|s| !s.is_empty()) {
        None => None,
        Some(t) => Some(parse_time(t).ok_or_else(|| format!("updated_at {t:?} is not RFC 3339"))?),
    };
    let senders = match ctx.scope_sender(campaign, field(cols.sender))? {
        Some(s) => vec![s],
        None if campaign.consent_scope == ConsentScope::Campaign => vec![String::new()],
        None => ctx.senders(campaign),
    };
    let keys = senders
        .into_iter()
        .map(|sender| Key {
            campaign: campaign.id.clone(),
            sender,
            recipient: recipient.clone(),
        })
        .collect();
    let source = field(cols.source)
        .filter(|s| !s.is_empty())
        .unwrap_or("import")
        .to_owned();
    Ok(Change {
        keys,
        status,
        updated_at,
        source,
    })
}

/// Applies every change in file order (a later row for the same key wins);
/// returns (changed, unchanged) key counts.
fn apply(t: &mut dyn StoreTxn, changes: &[Change]) -> Result<(u64, u64), StoreError> {
    let (mut changed, mut unchanged) = (0, 0);
    for ch in changes {
        for key in &ch.keys {
            let old = t.set_status(key, ch.status, &ch.source, "")?;
            if old == ch.status {
                unchanged += 1;
                continue;
            }
            changed += 1;
            if let Some(at) = ch.updated_at {
                // Keep the date the file gives (e.g. when the carrier
                // recorded the opt-out); the event keeps the import time.
                t.set_updated_at(key, at)?;
            }
        }
    }
    Ok((changed, unchanged))
}
