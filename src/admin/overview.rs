//! The campaign overview at the top of the consent page: per configured
//! campaign, its consent counts (Active / Pending / Refused), its held
//! messages, the opt-outs and opt-ins of today (UTC) and of the last 7
//! days, and its settings as loaded. Server-rendered like the rest of the
//! page; every value is escaped.

use std::collections::HashMap;
use std::fmt::Write;

use super::html::html_escape as esc;
use super::query::store_error;
use super::ApiError;
use crate::consent::EngineConfig;
use crate::policy::{render_template, ConsentStatus, InboundUnknown, OutboundUnknown, Scope};
use crate::store::Store;

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

/// Days shown in the opt-in / opt-out chart, today included.
pub const CHART_DAYS: usize = 14;

/// Opt-ins and opt-outs (all campaigns) per UTC day, oldest first, the
/// last entry today.
pub async fn daily(store: &Store, now_ms: i64) -> Result<Vec<(u64, u64)>, ApiError> {
    let today = now_ms.div_euclid(DAY_MS);
    let from_day = today - (CHART_DAYS as i64 - 1);
    let changes = store
        .read(move |t| t.consent_changes_since(from_day * DAY_MS))
        .await
        .map_err(store_error)?;
    let mut days = vec![(0u64, 0u64); CHART_DAYS];
    for c in changes {
        let Some(slot) = usize::try_from(c.day - from_day)
            .ok()
            .and_then(|i| days.get_mut(i))
        else {
            continue;
        };
        if c.to == ConsentStatus::Refused {
            slot.1 += c.count;
        } else {
            slot.0 += c.count;
        }
    }
    Ok(days)
}

/// The counts of every campaign with rows, as of `now_ms`. "Today" is the
/// UTC day of `now_ms`; "7 days" are today and the six UTC days before it.
pub async fn counts(
    store: &Store,
    now_ms: i64,
) -> Result<HashMap<String, CampaignCounts>, ApiError> {
    let today = now_ms.div_euclid(DAY_MS);
    let (consent, held, changes) = store
        .read(move |t| {
            let consent = t.consent_counts()?;
            let held = t.held_counts()?;
            let changes = t.consent_changes_since((today - 6) * DAY_MS)?;
            Ok((consent, held, changes))
        })
        .await
        .map_err(store_error)?;
    let mut by: HashMap<String, CampaignCounts> = HashMap::new();
    for (campaign, status, n) in consent {
        let c = by.entry(campaign).or_default();
        match status {
            ConsentStatus::Active => c.active = n,
            ConsentStatus::Pending => c.pending = n,
            _ => c.refused = n,
        }
    }
    for (campaign, n) in held {
        by.entry(campaign).or_default().held = n;
    }
    for ch in changes {
        let c = by.entry(ch.campaign).or_default();
        let is_today = ch.day == today;
        if ch.to == ConsentStatus::Refused {
            c.opt_outs_7d += ch.count;
            if is_today {
                c.opt_outs_today += ch.count;
            }
        } else {
            c.opt_ins_7d += ch.count;
            if is_today {
                c.opt_ins_today += ch.count;
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
            // As the recipient reads them: {brand} and {start_word} filled.
            optin = esc(&render_template(&c.opt_in_message, c)),
            help = esc(&render_template(&c.help_response, c)),
            footer = if c.attachment_first_message {
                esc(&render_template(&c.footer, c))
            } else {
                "(none)".into()
            },
        );
    }
    h.push_str("</div></section>");
    h
}

/// A bar chart of opt-ins (green) and opt-outs (red) per day as inline
/// SVG: no script, no external asset. `days` oldest first, ending `today`.
pub fn chart(days: &[(u64, u64)], today_ms: i64) -> String {
    let (w, h, pad, label_h) = (700.0_f64, 160.0_f64, 28.0_f64, 18.0_f64);
    let max = days
        .iter()
        .map(|&(i, o)| i.max(o))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = (w - pad) / days.len().max(1) as f64;
    let bar = (slot / 2.0 - 3.0).max(1.0);
    let plot = h - label_h - 6.0;
    let mut svg = format!(
        r##"<svg class="chart" role="img" aria-label="Opt-ins and opt-outs per day" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">
<text x="0" y="12" class="axis">{max}</text><line x1="{pad}" y1="{plot}" x2="{w}" y2="{plot}" stroke="#bcc5d0"/>"##
    );
    let first_day = today_ms.div_euclid(DAY_MS) - (days.len() as i64 - 1);
    for (k, &(ins, outs)) in days.iter().enumerate() {
        let x = pad + slot * k as f64 + 2.0;
        for (j, (n, class)) in [(ins, "in"), (outs, "out")].into_iter().enumerate() {
            let bh = plot * n as f64 / max;
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}"><title>{n}</title></rect>"#,
                x + j as f64 * (bar + 2.0),
                plot - bh,
            );
        }
        let day = crate::present::rfc3339_seconds((first_day + k as i64) * DAY_MS);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="axis">{}</text>"#,
            x,
            h - 4.0,
            esc(day.get(5..10).unwrap_or(""))
        );
    }
    svg.push_str("</svg>");
    let total: (u64, u64) = days.iter().fold((0, 0), |a, &(i, o)| (a.0 + i, a.1 + o));
    format!(
        r#"<section class="trend"><h2>Opt-ins and opt-outs per day <small>(last {} days, UTC; <span class="key in">opt-ins {}</span> <span class="key out">opt-outs {}</span>)</small></h2>{svg}</section>"#,
        days.len(),
        total.0,
        total.1
    )
}

/// Held messages, oldest first: one row per message (its parts together),
/// with its age and expiry.
pub fn held_table(rows: &[crate::store::consent::HeldRow], now_ms: i64, limit: usize) -> String {
    let mut groups: Vec<(&crate::store::consent::HeldRow, usize)> = Vec::new();
    for r in rows {
        match groups.last_mut() {
            Some((first, n)) if first.group_id == r.group_id => *n += 1,
            _ => groups.push((r, 1)),
        }
    }
    let mut t = format!(
        r#"<section class="held"><h2>Held messages <small>({} waiting for opt-in)</small></h2>"#,
        groups.len()
    );
    if groups.is_empty() {
        t.push_str(r#"<p class="empty">No message is held.</p></section>"#);
        return t;
    }
    t.push_str(
        "<table><thead><tr><th>Message id</th><th>Campaign</th><th>Sender</th><th>Recipient</th>\
         <th>Account</th><th>Parts</th><th>Held for</th><th>Expires in</th></tr></thead><tbody>",
    );
    let span = |ms: i64| {
        let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
        humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
    };
    for (r, parts) in groups.iter().take(limit) {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{parts}</td><td>{}</td><td>{}</td></tr>",
            r.group_id,
            esc(&r.key.campaign),
            esc(&r.key.sender),
            esc(&r.key.recipient),
            esc(&r.account),
            esc(&span(now_ms - r.held_at)),
            esc(&span(r.expires_at - now_ms)),
        );
    }
    t.push_str("</tbody></table>");
    if groups.len() > limit {
        let _ = write!(
            t,
            r#"<p class="empty">The oldest {limit} are shown; <code>optgate held</code> or <code>/api/v1/held</code> list them all.</p>"#
        );
    }
    t.push_str("</section>");
    t
}

/// Styles of the overview, appended to the page's.
pub const STYLE: &str = ".overview .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}\
.card{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:8px 14px}.card h3{margin:6px 0}\
.card small{font-weight:400;color:#52606d}.card table.counts{margin-top:4px}.card td{font-size:18px;font-weight:600}\
.card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12px;margin:10px 0 4px}\
.card dt{color:#52606d}.card dd{margin:0}\
.chart{background:#fff;border:1px solid #d9dee5;border-radius:6px;max-width:100%;height:auto}\
.chart .in,.key.in{fill:#2f9e5a;color:#17723a}.chart .out,.key.out{fill:#d64541;color:#b3261e}\
.chart .axis{font-size:10px;fill:#52606d}h2 small{font-weight:400;color:#52606d;font-size:12px}";
