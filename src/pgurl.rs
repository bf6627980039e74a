//! PostgreSQL connection strings, below both [`config`](crate::config)
//! (which checks `store.url`) and [`store`](crate::store) (which connects
//! with it): parsing a libpq URL or `key=value` string and blanking out its
//! password for messages and logs. No connection is made here.

use std::str::FromStr;

use postgres::Config;

/// Parses `store.url`; the error names what is wrong (never the password).
pub fn parse_url(url: &str) -> Result<Config, String> {
    if url.trim().is_empty() {
        return Err("empty; set a postgres:// URL or libpq key=value string".into());
    }
    let cfg = Config::from_str(url).map_err(|e| e.to_string())?;
    if cfg.get_user().is_none() && std::env::var_os("PGUSER").is_none() {
        return Err("names no user (add user@ to the URL, user=..., or set PGUSER)".into());
    }
    Ok(cfg)
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let scheme = &url[..url.len() - rest.len()];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            let userinfo = &rest[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!("{scheme}{}:***{}", &userinfo[..colon], &rest[at..]);
            }
        }
        return url.to_string();
    }
    // key=value form: blank out the value of password=...
    let mut out = Vec::new();
    for part in url.split_whitespace() {
        if part.starts_with("password=") {
            out.push("password=***".to_string());
        } else {
            out.push(part.to_string());
        }
    }
    out.join(" ")
}
