//! Config problems: one line each, `key: value: why`.

use std::fmt;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `server.listen` or `campaigns[0].numbers[1]`.
    pub key: String,
    /// The offending value as written (strings quoted), or empty when unknown.
    pub value: String,
    /// Why it is wrong.
    pub why: String,
}

impl Problem {
    /// A problem with a string value (shown quoted).
    pub fn text(key: impl Into<String>, value: &str, why: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: format!("{value:?}"),
            why: why.into(),
        }
    }

    /// A problem with a value shown as is (numbers, durations).
    pub fn raw(key: impl Into<String>, value: impl fmt::Display, why: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.to_string(),
            why: why.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}: {}", self.key, self.why)
        } else {
            write!(f, "{}: {}: {}", self.key, self.value, self.why)
        }
    }
}

/// Every problem found in a configuration; displays one line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, in the order found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl From<Problem> for ConfigErrors {
    fn from(p: Problem) -> Self {
        Self { problems: vec![p] }
    }
}

/// Turns a `config` crate error into one line naming the key where the crate
/// knows it. Multi-line parser messages (TOML snippets) are folded onto one line.
pub(crate) fn from_config_error(err: config::ConfigError, file: &str) -> Problem {
    use config::ConfigError as E;
    match err {
        E::At {
            error,
            key: Some(key),
            ..
        } => keyed_message(&key, &error.to_string()),
        E::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => Problem::raw(key, unexpected, format!("expected {expected}")),
        E::NotFound(key) => Problem::raw(key, "", "missing"),
        E::FileParse { cause, .. } => Problem::raw(file, "", one_line(&cause.to_string())),
        E::Message(msg) => keyed_message("", &msg),
        other => Problem::raw(file, "", one_line(&other.to_string())),
    }
}

/// serde reports an unknown key at its parent; name the key itself.
fn keyed_message(parent: &str, msg: &str) -> Problem {
    let unknown = msg
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'));
    match unknown {
        Some((field, expected)) => {
            let key = if parent.is_empty() {
                field.to_owned()
            } else {
                format!("{parent}.{field}")
            };
            let expected = expected.trim_start_matches(", ");
            Problem::raw(key, "", format!("unknown key ({expected})"))
        }
        None if parent.is_empty() => Problem::raw("config", "", one_line(msg)),
        None => Problem::raw(parent, "", one_line(msg)),
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        // Drop the source snippet lines (`1 | [server`, `|   ^`) of parser errors.
        .filter(|l| !l.is_empty() && !l.contains(" | ") && !l.starts_with('|'))
        .collect::<Vec<_>>()
        .join(" ")
}
