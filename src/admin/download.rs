//! `GET /consent.csv`: the consent log under the page's current filter as a
//! CSV download, the same columns as `optgate logs --format csv`. Streamed
//! page by page (1,000 rows per store read), so a million rows never sit in
//! memory at once.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::page::PageParams;
use super::query::{self, bad_request};
use super::AdminState;
use crate::present::{rfc3339_millis, write_csv_record, LOG_COLUMNS};

/// Rows per store read.
const CHUNK: &str = "1000";

/// Where the stream stands: the cursor of the next page, or done.
enum Next {
    Start,
    After(String),
    Done,
}

/// `GET /consent.csv?campaign=&sender=&recipient=&status=`.
pub async fn consent_csv(
    State(st): State<AdminState>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let p = match q {
        Ok(Query(p)) => p,
        Err(e) => return bad_request(format!("query: {}", e.body_text())).into_response(),
    };
    let cfg = st.engine.config();
    // Check the filter once before answering 200, so a bad number is a 400.
    let first = query::ConsentQuery {
        campaign: p.campaign.as_deref(),
        sender: p.sender.as_deref(),
        recipient: p.recipient.as_deref(),
        status: p.status.as_deref(),
        limit: Some("1"),
        cursor: None,
    };
    if let Err(e) = query::consent_page_for(&st.store, &cfg, first).await {
        return e.into_response();
    }
    let mut header_line = Vec::new();
    let cols: Vec<String> = LOG_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let _ = write_csv_record(&mut header_line, &cols);
    let head = stream::once(async move { Ok::<_, std::io::Error>(header_line) });
    let rows = stream::unfold(Next::Start, move |next| {
        let (st, cfg, p) = (st.clone(), cfg.clone(), p.clone());
        async move {
            let cursor = match next {
                Next::Done => return None,
                Next::Start => None,
                Next::After(c) => Some(c),
            };
            let q = query::ConsentQuery {
                campaign: p.campaign.as_deref(),
                sender: p.sender.as_deref(),
                recipient: p.recipient.as_deref(),
                status: p.status.as_deref(),
                limit: Some(CHUNK),
                cursor: cursor.as_deref(),
            };
            match query::consent_page_for(&st.store, &cfg, q).await {
                Ok(page) => {
                    let mut out = Vec::with_capacity(page.rows.len() * 80);
                    for r in &page.rows {
                        let _ = write_csv_record(
                            &mut out,
                            &[
                                r.key.campaign.clone(),
                                r.key.sender.clone(),
                                r.key.recipient.clone(),
                                r.status.as_str().to_owned(),
                                rfc3339_millis(r.updated_at),
                                r.source.clone(),
                            ],
                        );
                    }
                    let next = page.next_cursor.map_or(Next::Done, Next::After);
                    Some((Ok(out), next))
                }
                // The download breaks off; the client sees a short file.
                Err(e) => Some((Err(std::io::Error::other(e.message)), Next::Done)),
            }
        }
    });
    use futures_util::StreamExt;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"consent.csv\"",
            ),
        ],
        Body::from_stream(head.chain(rows)),
    )
        .into_response()
}
