//! `[keywords]`: the MO keyword lists (DESIGN.md §2).

use serde::{Deserialize, Serialize};

use super::enums::PhraseOptOut;

pub use crate::policy::keywords::{DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT};

/// `[keywords]`. Lists set here replace the defaults, but STOP, START and
/// HELP are always present (see [`KeywordsConfig::ensure_mandatory`]).
/// Keywords are kept as written; matching normalises them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeywordsConfig {
    /// Whether a multi-word MO containing an opt-out word refuses.
    pub phrase_opt_out: PhraseOptOut,
    /// Deliver keyword MOs to the platform too.
    pub forward_keywords: bool,
    /// Whole-message opt-out keywords.
    pub opt_out: Vec<String>,
    /// Whole-message opt-in keywords.
    pub opt_in: Vec<String>,
    /// Whole-message help keywords.
    pub help: Vec<String>,
}

impl Default for KeywordsConfig {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            phrase_opt_out: PhraseOptOut::Flag,
            forward_keywords: true,
            opt_out: owned(DEFAULT_OPT_OUT),
            opt_in: owned(DEFAULT_OPT_IN),
            help: owned(DEFAULT_HELP),
        }
    }
}

impl KeywordsConfig {
    /// Puts STOP, START and HELP first in their lists when a configured list
    /// left them out: they can not be removed (carrier rules require them).
    pub fn ensure_mandatory(&mut self) {
        ensure(&mut self.opt_out, "STOP");
        ensure(&mut self.opt_in, "START");
        ensure(&mut self.help, "HELP");
    }
}

fn ensure(list: &mut Vec<String>, word: &str) {
    if !list.iter().any(|k| fold(k) == word) {
        list.insert(0, word.to_owned());
    }
}

/// A coarse keyword form for config checks only (case, surrounding space,
/// inner runs of space `-` `_`): enough to catch a word listed twice. The
/// message matcher uses the full normalisation of the `text` module.
pub fn fold(word: &str) -> String {
    word.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}
