//! The consent log page `GET /`: server-rendered HTML in the manner of a
//! carrier portal's SMS log view. A GET form searches by recipient or
//! sender and filters by campaign and status; the table pages with a
//! "Next" link; `?recipient=N&history=1` shows one recipient's audit trail.
//! No scripts and no external assets; every printed value is escaped.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::html::{html_escape as esc, link};
use super::query::{self, bad_request};
use super::{AdminState, ApiError};
use crate::consent::EngineConfig;
use crate::policy::ConsentStatus;
use crate::present::{rfc3339_seconds, status_title};
use crate::store::consent::{ConsentFilter, ConsentRow, EventRow};

/// Events shown on a history page (the oldest ones).
const HISTORY_LIMIT: u32 = 500;

/// The form's parameters; all optional, blanks mean "any".
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PageParams {
    pub(super) campaign: Option<String>,
    pub(super) sender: Option<String>,
    pub(super) recipient: Option<String>,
    pub(super) status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    history: Option<String>,
}

impl PageParams {
    fn get(v: &Option<String>) -> &str {
        query::present(v.as_deref()).unwrap_or("")
    }

    /// The filter as link parameters (for "Next" and "Back").
    fn filter_pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("recipient", Self::get(&self.recipient)),
            ("sender", Self::get(&self.sender)),
            ("campaign", Self::get(&self.campaign)),
            ("status", Self::get(&self.status)),
            ("limit", Self::get(&self.limit)),
        ]
    }
}

/// `GET /`: the consent log, or one recipient's history, with the name of
/// the instance that served it in the header (the log itself is the shared
/// database's, whichever instance serves it).
pub async fn consent_log(
    State(st): State<AdminState>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let instance = st.store.instance().to_string();
    let mut r = page(st, q).await;
    if !instance.is_empty() {
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let html = String::from_utf8_lossy(&bytes).replacen(
            "<b>optgate</b> · ",
            &format!(
                r#"<b>optgate</b> <span class="instance">{}</span> · "#,
                esc(&instance)
            ),
            1,
        );
        r = Response::from_parts(parts, axum::body::Body::from(html));
        r.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    }
    r
}

async fn page(st: AdminState, q: Result<Query<PageParams>, QueryRejection>) -> Response {
    let cfg = st.engine.config();
    let p = match q {
        Ok(Query(p)) => p,
        Err(e) => {
            let p = PageParams::default();
            let e = bad_request(format!("query: {}", e.body_text()));
            return error_page(&cfg, &p, &e);
        }
    };
    let history = PageParams::get(&p.history) == "1";
    let result = if history {
        history_view(&st, &cfg, &p).await
    } else {
        log_view(&st, &cfg, &p).await
    };
    match result {
        Ok(body) => Html(body).into_response(),
        Err(e) => error_page(&cfg, &p, &e),
    }
}

fn error_page(cfg: &EngineConfig, p: &PageParams, e: &ApiError) -> Response {
    let mut body = form(cfg, p);
    let _ = write!(body, r#"<p class="error">{}</p>"#, esc(&e.message));
    (e.status, Html(layout("Consent log", &body))).into_response()
}

async fn log_view(st: &AdminState, cfg: &EngineConfig, p: &PageParams) -> Result<String, ApiError> {
    let q = query::ConsentQuery {
        campaign: p.campaign.as_deref(),
        sender: p.sender.as_deref(),
        recipient: p.recipient.as_deref(),
        status: p.status.as_deref(),
        limit: p.limit.as_deref(),
        cursor: p.cursor.as_deref(),
    };
    let page = query::consent_page_for(&st.store, cfg, q).await?;
    // The campaign overview heads the unfiltered first page.
    let first_page = [&p.cursor, &p.recipient, &p.sender, &p.campaign, &p.status]
        .iter()
        .all(|v| query::present(v.as_deref()).is_none());
    let mut body = String::new();
    if first_page {
        let now = crate::store::consent::now_ms();
        let counts = super::overview::counts(&st.store, now).await?;
        body.push_str(&super::overview::render(cfg, &counts));
        let days = super::overview::daily(&st.store, now).await?;
        body.push_str(&super::overview::chart(&days, now));
        let held = query::held(&st.store, None).await?;
        body.push_str(&super::overview::held_table(&held, now, 50));
        body.push_str(&super::review::table(&super::review::to_review(st).await?));
        body.push_str("<h2>Consent log</h2>");
    }
    body.push_str(&form(cfg, p));
    body.push_str(&consent_table(&page.rows));
    body.push_str(r#"<p class="pager">"#);
    if query::present(p.cursor.as_deref()).is_some() {
        let _ = write!(
            body,
            r#"<a href="{}">First page</a> "#,
            esc(&link("/", &p.filter_pairs()))
        );
    }
    if let Some(next) = &page.next_cursor {
        let mut pairs = p.filter_pairs();
        pairs.push(("cursor", next));
        let _ = write!(
            body,
            r#"<a class="next" href="{}">Next &rarr;</a>"#,
            esc(&link("/", &pairs))
        );
    }
    let filter: Vec<(&str, &str)> = p
        .filter_pairs()
        .into_iter()
        .filter(|(k, _)| *k != "limit")
        .collect();
    let _ = write!(
        body,
        r#"<a class="download" href="{}">Download CSV</a>"#,
        esc(&link("/consent.csv", &filter))
    );
    body.push_str("</p>");
    Ok(layout("Consent log", &body))
}

async fn history_view(
    st: &AdminState,
    cfg: &EngineConfig,
    p: &PageParams,
) -> Result<String, ApiError> {
    let Some(recipient) = query::recipient(p.recipient.as_deref(), cfg)? else {
        return Err(bad_request("history: give a recipient number"));
    };
    let filter = ConsentFilter {
        recipient: Some(recipient.clone()),
        ..ConsentFilter::default()
    };
    let current = query::consent_page(&st.store, filter, None, query::MAX_LIMIT).await?;
    let events = query::events(&st.store, Some(recipient.clone()), None, HISTORY_LIMIT).await?;
    let mut body = form(cfg, p);
    let _ = write!(
        body,
        r#"<h2>History of {}</h2><p><a href="/">&larr; Back to the log</a></p><h3>Current status</h3>"#,
        esc(&recipient)
    );
    body.push_str(&consent_table(&current.rows));
    body.push_str("<h3>Events</h3>");
    body.push_str(&events_table(&events));
    Ok(layout("Consent history", &body))
}

fn form(cfg: &EngineConfig, p: &PageParams) -> String {
    let mut f = String::from(r#"<form method="get" action="/" class="filters">"#);
    let _ = write!(
        f,
        r#"<label>Recipient number<input name="recipient" value="{}" placeholder="e.g. 14155550123"></label>
<label>Sender number<input name="sender" value="{}"></label>"#,
        esc(PageParams::get(&p.recipient)),
        esc(PageParams::get(&p.sender))
    );
    let chosen = PageParams::get(&p.campaign);
    f.push_str(r#"<label>Campaign<select name="campaign"><option value="">All campaigns</option>"#);
    for c in cfg.campaigns.iter() {
        let sel = if c.id == chosen { " selected" } else { "" };
        let _ = write!(f, r#"<option value="{0}"{sel}>{0}</option>"#, esc(&c.id));
    }
    f.push_str(
        r#"</select></label><label>Status<select name="status"><option value="">All</option>"#,
    );
    let chosen = PageParams::get(&p.status);
    for s in [
        ConsentStatus::Active,
        ConsentStatus::Pending,
        ConsentStatus::Refused,
    ] {
        let sel = if s.as_str() == chosen {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            f,
            r#"<option value="{}"{sel}>{}</option>"#,
            s.as_str(),
            status_title(s)
        );
    }
    f.push_str(r#"</select></label><button type="submit">Search</button><a class="reset" href="/">Reset</a></form>"#);
    f
}

fn when(ms: i64) -> String {
    rfc3339_seconds(ms).replace('T', " ").replace('Z', " UTC")
}

fn badge(s: ConsentStatus) -> String {
    format!(
        r#"<span class="badge {}">{}</span>"#,
        s.as_str(),
        status_title(s)
    )
}

fn consent_table(rows: &[ConsentRow]) -> String {
    if rows.is_empty() {
        return r#"<p class="empty">No consent records match.</p>"#.to_owned();
    }
    let mut t = String::from(
        "<table><thead><tr><th>Campaign</th><th>Sender</th><th>Recipient</th>\
         <th>Opt-In/Out Verification</th><th>Changed</th><th>Source</th></tr></thead><tbody>",
    );
    for r in rows {
        let history = link("/", &[("recipient", &r.key.recipient), ("history", "1")]);
        let sender = if r.key.sender.is_empty() {
            "(all numbers)"
        } else {
            &r.key.sender
        };
        let _ = write!(
            t,
            r#"<tr><td>{}</td><td>{}</td><td><a class="recipient" href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&r.key.campaign),
            esc(sender),
            esc(&history),
            esc(&r.key.recipient),
            badge(r.status),
            esc(&when(r.updated_at)),
            esc(&r.source),
        );
    }
    t.push_str("</tbody></table>");
    t
}

fn events_table(rows: &[EventRow]) -> String {
    if rows.is_empty() {
        return r#"<p class="empty">No events for this recipient.</p>"#.to_owned();
    }
    let mut t = String::from(
        "<table><thead><tr><th>When</th><th>Campaign</th><th>Sender</th><th>Event</th>\
         <th>Status</th><th>Source</th><th>Message ids</th></tr></thead><tbody>",
    );
    for r in rows {
        let e = &r.event;
        let change = match (e.old_status, e.new_status) {
            (Some(o), Some(n)) => format!("{} &rarr; {}", badge(o), badge(n)),
            (None, Some(n)) => badge(n),
            _ => String::new(),
        };
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{change}</td><td>{}</td><td>{}</td></tr>",
            esc(&when(r.at)),
            esc(&e.key.campaign),
            esc(&e.key.sender),
            esc(&e.kind.replace('_', " ")),
            esc(&e.source),
            esc(&e.message_ids),
        );
    }
    t.push_str("</tbody></table>");
    t
}

const STYLE: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f3f5f8;color:#1f2933}\
header{background:#1d3557;color:#fff;padding:12px 24px;font-size:18px}header b{font-weight:600}\
main{padding:16px 24px}h2{font-size:17px;margin:16px 0 4px}h3{font-size:15px;margin:16px 0 6px}\
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-end;background:#fff;padding:12px;border:1px solid #d9dee5;border-radius:6px}\
.filters label{display:flex;flex-direction:column;font-size:12px;color:#52606d;gap:3px}\
input,select{font:inherit;padding:5px 7px;border:1px solid #bcc5d0;border-radius:4px;min-width:150px}\
button{font:inherit;padding:6px 16px;background:#1d3557;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.reset{align-self:center}table{border-collapse:collapse;width:100%;margin-top:12px;background:#fff;border:1px solid #d9dee5}\
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid #e4e7eb}th{background:#e9edf2;font-weight:600;font-size:13px}\
tr:nth-child(even) td{background:#fafbfc}a{color:#1c5ca8}\
.badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:12px;font-weight:600}\
.active{background:#e3f4e8;color:#17723a}.pending{background:#fff4d6;color:#9a6200}\
.refused{background:#fde7e6;color:#b3261e}.none{background:#eceff1;color:#52606d}\
.error{background:#fde7e6;color:#b3261e;padding:8px 12px;border-radius:4px}.empty{color:#52606d}.pager a{margin-right:16px}";

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{t} · optgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}{}</style></head>
<body><header><b>optgate</b> · {t}</header><main>{body}</main></body></html>"#,
        super::overview::STYLE,
        t = esc(title)
    )
}
