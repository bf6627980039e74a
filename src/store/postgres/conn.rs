//! Connecting: the connection string, where the password comes from, and a
//! connect bounded in time.
//!
//! `postgres::Config` parses libpq URLs and `key=value` strings but, unlike
//! libpq, reads no environment: the password fallbacks libpq users expect
//! (`PGPASSWORD`, then the passfile `PGPASSFILE` or `~/.pgpass`) are
//! applied here, so a password never has to be written in optgate's config.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::store::StoreError;

pub use crate::pgurl::{parse_url, redact};

/// A complete connection configuration: the parsed URL with the defaults
/// libpq would apply (user from `PGUSER`, host, password fallbacks) and
/// `timeout` as the socket connect timeout.
pub fn resolve(url: &str, timeout: Duration) -> Result<Config, StoreError> {
    let mut cfg = parse_url(url).map_err(|why| StoreError::Connect {
        target: redact(url),
        why,
    })?;
    if cfg.get_user().is_none() {
        if let Ok(user) = std::env::var("PGUSER") {
            cfg.user(&user);
        }
    }
    if cfg.get_hosts().is_empty() {
        // libpq's default: the local socket directory when there is one.
        let dir = Path::new("/var/run/postgresql");
        if dir.is_dir() {
            cfg.host_path(dir);
        } else {
            cfg.host("localhost");
        }
    }
    if cfg.get_password().is_none() {
        if let Some(pw) = std::env::var_os("PGPASSWORD") {
            cfg.password(pw.as_encoded_bytes());
        } else if let Some(pw) = passfile_password(&cfg) {
            cfg.password(pw);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(timeout);
    }
    Ok(cfg)
}

/// Opens one connection, bounded by `timeout` as a whole: the driver's own
/// timeout covers only the socket connect, not a server that accepts and
/// then never answers the start-up. The blocking client runs its own
/// runtime, so connecting happens on a short-lived plain thread; it is safe
/// to call from anywhere, including a tokio worker.
pub fn connect(url: &str, timeout: Duration) -> Result<Client, StoreError> {
    let cfg = resolve(url, timeout)?;
    let target = redact(url);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("optgate-pg-connect".into())
        .spawn(move || {
            // The receiver may have given up; nothing to do then.
            let _ = tx.send(cfg.connect(NoTls));
        })
        .map_err(|e| StoreError::Thread(Arc::new(e)))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(StoreError::Connect {
            target,
            why: connect_reason(&e),
        }),
        // The abandoned attempt's thread ends when the driver gives up
        // (its socket connect is bounded by the same timeout; a server that
        // accepted and went silent holds it until the socket fails).
        Err(_) => Err(StoreError::Connect {
            target,
            why: format!("no answer within {}", humantime::format_duration(timeout)),
        }),
    }
}

/// One line: the driver's message plus its cause (e.g. "connection refused").
fn connect_reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// The password for `cfg` from the passfile (`PGPASSFILE`, else
/// `~/.pgpass`), as libpq reads it: `host:port:database:user:password`,
/// `*` matches anything, `\` escapes `:` and `\`, the first match wins, and
/// a file readable by group or others is ignored.
fn passfile_password(cfg: &Config) -> Option<Vec<u8>> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "passfile ignored: readable by group or others (chmod 0600)");
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let user = cfg.get_user().unwrap_or_default();
    let db = cfg.get_dbname().unwrap_or(user);
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        // libpq matches a socket in the default directory as "localhost".
        Some(Host::Unix(_)) | None => "localhost".to_string(),
    };
    passfile_lookup(&text, &host, &port, db, user).map(String::into_bytes)
}

/// The first passfile line matching the four fields.
pub(crate) fn passfile_lookup(
    text: &str,
    host: &str,
    port: &str,
    db: &str,
    user: &str,
) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_passfile_line(line);
        if fields.len() < 5 {
            continue;
        }
        let want = [host, port, db, user];
        if fields[..4]
            .iter()
            .zip(want)
            .all(|(f, w)| f == "*" || f == w)
        {
            // A ':' inside the password was escaped; rejoin any extra fields.
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(n);
                }
            }
            ':' => fields.push(String::new()),
            _ => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("host=h user=u password=secret dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
    }

    #[test]
    fn passfile_matches_like_libpq() {
        let text = "# comment\nother:5432:*:u:no\nh:5432:db:u:pa\\:ss\n*:*:*:*:fallback\n";
        assert_eq!(
            passfile_lookup(text, "h", "5432", "db", "u").as_deref(),
            Some("pa:ss")
        );
        assert_eq!(
            passfile_lookup(text, "x", "1", "d", "v").as_deref(),
            Some("fallback")
        );
        assert_eq!(passfile_lookup("h:1:d:u:p\n", "h", "2", "d", "u"), None);
    }

    #[test]
    fn bad_urls_are_named() {
        assert!(parse_url("").is_err());
        assert!(parse_url("postgres://u@h:notaport/db").is_err());
        assert!(parse_url("host=h user=u").is_ok());
    }
}
