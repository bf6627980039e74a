//! Bearer-token guard for the admin write API (`[admin] token`).
//!
//! An empty configured token turns the write API off: every guarded request
//! gets 403. Otherwise a request needs `Authorization: Bearer <token>`;
//! a missing, malformed or wrong header gets 401.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::error::ApiError;

/// Wraps every route of `routes` in the bearer-token check against
/// `token` (the `[admin] token` value). Routes merged in later are not
/// guarded, so wrap the write routes alone and merge them into the rest.
pub fn require_token<S>(routes: Router<S>, token: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let token: Arc<str> = Arc::from(token);
    routes.layer(middleware::from_fn_with_state(token, guard))
}

async fn guard(State(token): State<Arc<str>>, req: Request, next: Next) -> Response {
    match check_bearer(&token, req.headers().get(header::AUTHORIZATION)) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// The decision of the guard: `configured` is `[admin] token`, `header` the
/// request's `Authorization` value.
pub fn check_bearer(configured: &str, header: Option<&HeaderValue>) -> Result<(), ApiError> {
    if configured.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the write API is off: set [admin] token to enable it",
        ));
    }
    let Some(value) = header else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing Authorization: Bearer token",
        ));
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        // The scheme name is case-insensitive (RFC 7235).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match presented {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "malformed Authorization header: expected Bearer token",
        )),
        Some(t) if same_bytes(t.as_bytes(), configured.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid token")),
    }
}

/// Compares without stopping at the first difference, so response timing
/// does not reveal how much of a guess was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn status_of(r: Result<(), ApiError>) -> Option<StatusCode> {
        r.err().map(|e| e.status)
    }

    #[test]
    fn empty_token_turns_the_write_api_off() {
        let r = check_bearer("", Some(&hv("Bearer anything")));
        assert_eq!(status_of(r.clone()), Some(StatusCode::FORBIDDEN));
        assert!(r.err().is_some_and(|e| e.message.contains("[admin] token")));
        assert_eq!(
            status_of(check_bearer("", None)),
            Some(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn missing_or_malformed_header_is_unauthorized() {
        for h in [
            None,
            Some(hv("s3cret")),
            Some(hv("Basic s3cret")),
            Some(hv("")),
        ] {
            assert_eq!(
                status_of(check_bearer("s3cret", h.as_ref())),
                Some(StatusCode::UNAUTHORIZED),
                "{h:?}"
            );
        }
    }

    #[test]
    fn wrong_token_is_unauthorized() {
        for t in ["Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Bearer "] {
            assert_eq!(
                status_of(check_bearer("s3cret", Some(&hv(t)))),
                Some(StatusCode::UNAUTHORIZED),
                "{t}"
            );
        }
    }

    #[test]
    fn right_token_passes_with_any_scheme_case() {
        for t in ["Bearer s3cret", "bearer s3cret", "BEARER s3cret"] {
            assert_eq!(check_bearer("s3cret", Some(&hv(t))), Ok(()), "{t}");
        }
    }

    #[test]
    fn same_bytes_compares_whole_values() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
        assert!(same_bytes(b"", b""));
    }
}
