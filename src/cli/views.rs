//! `optgate events` (the audit trail) and `optgate held` (held messages).

use clap::Args;

use super::common::{stdout, CliError, Ctx};
use super::output::{Cell, Format, Output};
use super::ConfigArg;
use crate::present::{group, parse_time};

/// The columns of `optgate events`.
pub const EVENT_COLUMNS: &[&str] = &[
    "id",
    "at",
    "campaign",
    "sender",
    "recipient",
    "kind",
    "old_status",
    "new_status",
    "source",
    "message_ids",
];

/// The columns of `optgate held`.
pub const HELD_COLUMNS: &[&str] = &[
    "id",
    "campaign",
    "sender",
    "recipient",
    "account",
    "held_at",
    "expires_at",
    "parts",
];

/// `optgate events` arguments.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this recipient number.
    #[arg(long, value_name = "N")]
    pub recipient: Option<String>,
    /// Only events at or after this time (RFC 3339 UTC, or YYYY-MM-DD).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// At most this many events (the oldest matching ones).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Only events of this kind (e.g. probable_opt_out, consent_change, missed).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
}

/// Prints the audit trail, oldest first.
pub fn events(ctx: &mut Ctx, a: &EventsArgs) -> Result<(), CliError> {
    let since = match a.since.as_deref() {
        None => None,
        Some(s) => Some(parse_time(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--since {s:?}: expected an RFC 3339 UTC time such as 2024-05-01T12:00:00Z"
            ))
        })?),
    };
    let recipient = a.recipient.as_deref().map(|n| ctx.number(n));
    let limit = a.limit.unwrap_or(u32::MAX);
    let rows = match a.kind.as_deref() {
        None => ctx
            .db
            .read(|t| t.list_events(recipient.as_deref(), since, limit))?,
        Some(kind) => ctx.db.read(|t| {
            crate::consent::review::events_of_kind(t, kind, recipient.as_deref(), since, limit)
        })?,
    };
    let mut out = Output::new(a.format, EVENT_COLUMNS, stdout())?;
    for r in &rows {
        let e = &r.event;
        let status = |s: Option<_>| s.map_or(Cell::Null, Cell::Status);
        out.row(&[
            Cell::Int(r.id),
            Cell::Time(r.at),
            Cell::Text(e.key.campaign.clone()),
            Cell::Text(e.key.sender.clone()),
            Cell::Text(e.key.recipient.clone()),
            Cell::Text(e.kind.clone()),
            status(e.old_status),
            status(e.new_status),
            Cell::Text(e.source.clone()),
            Cell::Text(e.message_ids.clone()),
        ])?;
    }
    Ok(out.finish()?)
}

/// `optgate held` arguments.
#[derive(Debug, Clone, Args)]
pub struct HeldArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Only this recipient number.
    #[arg(long, value_name = "N")]
    pub recipient: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// At most this many messages.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

/// Prints held messages (one row per message, its parts counted), oldest first.
/// `id` is the optgate message id the platform was given.
pub fn held(ctx: &mut Ctx, a: &HeldArgs) -> Result<(), CliError> {
    let recipient = a.recipient.as_deref().map(|n| ctx.number(n));
    let pdus = ctx
        .db
        .read(|t| t.list_held(recipient.as_deref(), u32::MAX))?;
    let mut out = Output::new(a.format, HELD_COLUMNS, stdout())?;
    let limit = a.limit.map_or(usize::MAX, |l| l as usize);
    for (first, parts) in group(&pdus).into_iter().take(limit) {
        out.row(&[
            Cell::Int(first.group_id),
            Cell::Text(first.key.campaign.clone()),
            Cell::Text(first.key.sender.clone()),
            Cell::Text(first.key.recipient.clone()),
            Cell::Text(first.account.clone()),
            Cell::Time(first.held_at),
            Cell::Time(first.expires_at),
            Cell::Int(parts),
        ])?;
    }
    Ok(out.finish()?)
}
