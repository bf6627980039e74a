//! The campaign overview at the top of the consent page: per configured
//! campaign, its consent counts (Active / Pending / Refused), its held
//! messages, the opt-outs and opt-ins of today (UTC) and of the last 7
//! days, and its settings as loaded. Server-rendered like the rest of the
//! page; every value is escaped.

use std::collections::HashMap;
use std::fmt::Write;

use rusqlite::params;

use super::html::html_escape as esc;
use super::query::store_error;
use super::ApiError;
use crate::consent::EngineConfig;
use crate::policy::{InboundUnknown, OutboundUnknown, Scope};
use crate::store::{Durable, Store, StoreError};

const DAY_MS: i64 = 86_400_000;

/// Counts of one campaign.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CampaignCounts {
    pub active: u64,
    pub pending: u64,
    pub refused: u64,
    pub held: u64,
    pub opt_outs_today: u64,
    pub opt_ins_today: u64,
    pub opt_outs_7d: u64,
    pub opt_ins_7d: u64,
}

/// The counts of every campaign with rows, as of `now_ms`.
pub async fn counts(
    store: &Store,
    now_ms: i64,
) -> Result<HashMap<String, CampaignCounts>, ApiError> {
    store
        .transact(move |env| Ok((read_counts(env.conn(), now_ms)?, Durable::Now)))
        .await
        .map_err(store_error)
}

fn read_counts(
    conn: &rusqlite::Connection,
    now_ms: i64,
) -> Result<HashMap<String, CampaignCounts>, StoreError> {
    let mut by: HashMap<String, CampaignCounts> = HashMap::new();
    // Covered by the (status, campaign) index: no table rows are read.
    let mut st = conn.prepare_cached(
        "SELECT campaign, status, count(*) FROM consent \
         WHERE status IN ('active','pending','refused') GROUP BY campaign, status",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let c = by.entry(r.get::<_, String>(0)?).or_default();
        let n: i64 = r.get(2)?;
        let n = u64::try_from(n).unwrap_or(0);
        match r.get::<_, String>(1)?.as_str() {
            "active" => c.active = n,
            "pending" => c.pending = n,
            _ => c.refused = n,
        }
    }
    let mut st = conn.prepare_cached("SELECT campaign, count(*) FROM held GROUP BY campaign")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(1)?;
        by.entry(r.get(0)?).or_default().held = u64::try_from(n).unwrap_or(0);
    }
    // Events are in time order by id, so the scan starts at the first id of
    // the window (found walking back from the newest) and reads only the
    // last 7 days, however long the history.
    let week = now_ms - 7 * DAY_MS;
    let today = now_ms - now_ms.rem_euclid(DAY_MS);
    let first: i64 = conn.query_row(
        "SELECT coalesce((SELECT id FROM events WHERE at < ?1 ORDER BY id DESC LIMIT 1), 0)",
        params![week],
        |r| r.get(0),
    )?;
    let mut st = conn.prepare_cached(
        "SELECT campaign, new_status, at >= ?2, count(*) FROM events \
         WHERE id > ?1 AND at >= ?3 AND kind = 'consent_change' \
         AND new_status IN ('active','refused') GROUP BY 1, 2, 3",
    )?;
    let mut rows = st.query(params![first, today, week])?;
    while let Some(r) = rows.next()? {
        let c = by.entry(r.get(0)?).or_default();
        let opt_out = r.get::<_, String>(1)? == "refused";
        let is_today: bool = r.get(2)?;
        let n = u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0);
        if opt_out {
            c.opt_outs_7d += n;
            if is_today {
                c.opt_outs_today += n;
            }
        } else {
            c.opt_ins_7d += n;
            if is_today {
                c.opt_ins_today += n;
            }
        }
    }
    Ok(by)
}

/// The overview's HTML: one card per configured campaign.
pub fn render(cfg: &EngineConfig, counts: &HashMap<String, CampaignCounts>) -> String {
    let mut h = String::from(r#"<section class="overview"><h2>Campaigns</h2><div class="cards">"#);
    let none = CampaignCounts::default();
    for c in cfg.campaigns.iter() {
        let n = counts.get(&c.id).unwrap_or(&none);
        let scope = match c.scope {
            Scope::Number => "number",
            Scope::Campaign => "campaign",
        };
        let outbound = match c.outbound_unknown {
            OutboundUnknown::Allow => "allow",
            OutboundUnknown::RequireOptIn => "require_opt_in",
            OutboundUnknown::Prevent => "prevent",
        };
        let inbound = match c.inbound_unknown {
            InboundUnknown::Allow => "allow",
            InboundUnknown::AutoOptIn => "auto_opt_in",
        };
        let _ = write!(
            h,
            r#"<div class="card" data-campaign="{id}"><h3>{id} <small>{brand} · {approved}</small></h3>
<table class="counts"><tr><th>Active</th><th>Pending</th><th>Refused</th><th>Held</th><th>Opt-outs today / 7 days</th><th>Opt-ins today / 7 days</th></tr>
<tr><td class="n-active">{a}</td><td class="n-pending">{p}</td><td class="n-refused">{r}</td><td class="n-held">{held}</td><td class="n-optouts">{ot} / {o7}</td><td class="n-optins">{it} / {i7}</td></tr></table>
<dl><dt>Numbers</dt><dd>{numbers}</dd><dt>Consent scope</dt><dd>{scope}</dd><dt>Unknown recipient (MT)</dt><dd>{outbound}</dd><dt>Unknown sender (MO)</dt><dd>{inbound}</dd><dt>Start word</dt><dd>{start}</dd><dt>Hold</dt><dd>{ttl} · at most {maxheld} per recipient</dd><dt>Opt-in request</dt><dd>{optin}</dd><dt>Help response</dt><dd>{help}</dd><dt>Footer</dt><dd>{footer}</dd></dl></div>"#,
            id = esc(&c.id),
            brand = esc(&c.brand),
            approved = if c.approved {
                "approved"
            } else {
                "pending (pass-through)"
            },
            a = n.active,
            p = n.pending,
            r = n.refused,
            held = n.held,
            ot = n.opt_outs_today,
            o7 = n.opt_outs_7d,
            it = n.opt_ins_today,
            i7 = n.opt_ins_7d,
            numbers = esc(&c.numbers.join(", ")),
            start = esc(&c.start_word),
            ttl = esc(&humantime::format_duration(c.hold_ttl).to_string()),
            maxheld = c.max_held_per_recipient,
            optin = esc(&c.opt_in_message),
            help = esc(&c.help_response),
            footer = if c.attachment_first_message {
                esc(&c.footer)
            } else {
                "(none)".into()
            },
        );
    }
    h.push_str("</div></section>");
    h
}

/// Styles of the overview, appended to the page's.
pub const STYLE: &str = ".overview .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}\
.card{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:8px 14px}.card h3{margin:6px 0}\
.card small{font-weight:400;color:#52606d}.card table.counts{margin-top:4px}.card td{font-size:18px;font-weight:600}\
.card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12px;margin:10px 0 4px}\
.card dt{color:#52606d}.card dd{margin:0}";
