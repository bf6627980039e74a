//! `optgate consent review`: a probable opt-out, read by an operator as a
//! revocation, turned into an opt-out (source `review`). The same rule as
//! the admin API's `POST /api/v1/events/{id}/review`
//! ([`crate::consent::review`]).

use std::io::Write;

use clap::Args;

use super::common::{stdout, CliError, Ctx};
use super::ConfigArg;
use crate::consent::review::{self, ReviewError};
use crate::consent::EngineConfig;

/// `optgate consent review` arguments.
#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    /// Config file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// Id of the probable_opt_out event (`optgate events --kind probable_opt_out`).
    #[arg(long, value_name = "ID")]
    pub event: i64,
    /// Why (recorded as the source `review: REASON`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Refuses the event's scope key (and what its campaign's
/// `opt_out_scope` reaches) and prints what changed.
pub fn review(ctx: &mut Ctx, a: &ReviewArgs) -> Result<(), CliError> {
    let cfg = EngineConfig::from_config(&ctx.cfg).map_err(CliError::Usage)?;
    let done = ctx
        .db
        .write(|t| review::opt_out(t, &cfg, a.event, a.reason.as_deref()))
        .map_err(|e| match e {
            ReviewError::Store(s) => CliError::Store(s),
            e => CliError::Usage(e.to_string()),
        })?;
    let k = &done.event.event.key;
    let who = if k.sender.is_empty() {
        format!("{} {}", k.campaign, k.recipient)
    } else {
        format!("{} {} {}", k.campaign, k.sender, k.recipient)
    };
    let mut out = stdout();
    writeln!(
        out,
        "event {}: {who}: {} → refused ({}); {} more keys refused by opt_out_scope",
        a.event,
        done.old.as_str(),
        done.source,
        done.revoked
    )?;
    Ok(out.flush()?)
}
