//! MO keyword classification (DESIGN.md §2, "MO handling").
//!
//! A message is a keyword only when its whole normal form
//! ([`crate::text::keywords::normalise`]) equals a keyword. A longer message
//! that contains an opt-out keyword as whole words is a *probable* opt-out.
//! Substrings never match: `STOPWATCH`, `FRIEND` (contains `end`) and
//! `Backend` are ordinary messages.
//!
//! Decisions for the grey cases:
//! - `"Don't stop the music"` is a probable opt-out. Recognising negation
//!   reliably is not possible, and a revocation "by any reasonable means"
//!   must not be missed; with the default `phrase_opt_out = "flag"` it is
//!   only an event for a human to review.
//! - A message made only of opt-out keywords (`"STOP STOP"`, `"stop, quit"`)
//!   is an opt-out, not a probable one: nothing else is said.
//! - An iMessage reaction to one of our texts (`Liked “…Reply STOP to opt
//!   out…”`) quotes our words back; it is never a keyword of any class.
//! - Text shaped like a delivery receipt (`id:… stat:…`) is never scanned.
//!   Receipts are recognised from the PDU before text gets here; this is a
//!   second guard for carriers that deliver receipts as plain MOs.

use super::campaign::Campaign;
use crate::text::keywords::{contains_phrase, normalise, words};

/// Default opt-out keywords (DESIGN.md §2).
pub const DEFAULT_OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT OUT",
    "ARRET",
];
/// Default opt-in keywords; each campaign's `start_word` is added to these.
pub const DEFAULT_OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
/// Default help keywords.
pub const DEFAULT_HELP: &[&str] = &["HELP", "INFO", "AIDE"];

/// Keyword lists in normal form. STOP, START and HELP are always present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
    help: Vec<String>,
}

impl Default for Keywords {
    /// The default lists of DESIGN.md §2.
    fn default() -> Self {
        Keywords::new(DEFAULT_OPT_OUT, DEFAULT_OPT_IN, DEFAULT_HELP)
    }
}

impl Keywords {
    /// Builds the lists from configured words (any case, any spacing). The
    /// configured lists replace the defaults, except that STOP, START and
    /// HELP are always kept. Words that normalise to nothing are dropped.
    pub fn new<S: AsRef<str>>(opt_out: &[S], opt_in: &[S], help: &[S]) -> Self {
        Keywords {
            opt_out: build(opt_out, "stop"),
            opt_in: build(opt_in, "start"),
            help: build(help, "help"),
        }
    }

    /// The opt-out keywords, normalised.
    pub fn opt_out(&self) -> &[String] {
        &self.opt_out
    }

    /// The opt-in keywords, normalised (without campaign start words).
    pub fn opt_in(&self) -> &[String] {
        &self.opt_in
    }

    /// The help keywords, normalised.
    pub fn help(&self) -> &[String] {
        &self.help
    }
}

fn build<S: AsRef<str>>(words: &[S], mandatory: &str) -> Vec<String> {
    let mut out = vec![mandatory.to_owned()];
    for w in words {
        let n = normalise(w.as_ref());
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The class of an MO text. The carried word is the matched keyword in
/// normal form (for the event log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The whole message is an opt-out keyword.
    OptOut(String),
    /// The whole message is an opt-in keyword or the campaign start word.
    OptIn(String),
    /// The whole message is a help keyword.
    Help(String),
    /// A longer message containing this opt-out keyword as whole words.
    ProbableOptOut(String),
    /// Anything else.
    Other,
}

/// Classifies an MO `text` (already decoded and reassembled) for
/// `campaign`. When a word is in two lists, opt-out wins over opt-in and
/// opt-in over help: refusing by mistake is the cheaper error.
pub fn classify(text: &str, keywords: &Keywords, campaign: &Campaign) -> Class {
    if is_reaction(text) || looks_like_receipt(text) {
        return Class::Other;
    }
    let n = normalise(text);
    if n.is_empty() {
        return Class::Other;
    }
    if let Some(k) = keywords.opt_out.iter().find(|k| **k == n) {
        return Class::OptOut(k.clone());
    }
    let start = normalise(&campaign.start_word);
    if let Some(k) = keywords.opt_in.iter().find(|k| **k == n) {
        return Class::OptIn(k.clone());
    }
    if !start.is_empty() && start == n {
        return Class::OptIn(start);
    }
    if let Some(k) = keywords.help.iter().find(|k| **k == n) {
        return Class::Help(k.clone());
    }
    // Longest keyword first so "stop all texts" reports "stop all".
    let mut found: Vec<&String> = keywords
        .opt_out
        .iter()
        .filter(|k| contains_phrase(&n, k))
        .collect();
    found.sort_by_key(|k| std::cmp::Reverse(k.len()));
    let Some(first) = found.first() else {
        return Class::Other;
    };
    if words(&n).all(|w| keywords.opt_out.iter().any(|k| k == w)) {
        return Class::OptOut((*first).clone());
    }
    Class::ProbableOptOut((*first).clone())
}

/// iMessage / RCS reaction verbs, as sent to non-Apple phones.
const REACTIONS: &[&str] = &[
    "liked",
    "loved",
    "laughed at",
    "emphasized",
    "emphasised",
    "disliked",
    "questioned",
    "removed a like from",
    "removed a heart from",
    "removed a dislike from",
    "removed a laugh from",
    "removed an exclamation from",
    "removed a question mark from",
];

const OPEN_QUOTES: &[char] = &['"', '“', '”', '„', '«', '\'', '‘', '’'];
const CLOSE_QUOTES: &[char] = &['"', '“', '”', '»', '\'', '‘', '’', '…'];

/// `Liked “…”`-style reactions: a reaction verb, then the quoted message
/// reacted to, and nothing after the closing quote. `Reacted 👍 to “…”`
/// (iOS 18) is recognised too.
fn is_reaction(text: &str) -> bool {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{200B}' || c == '\u{FEFF}');
    if !t.ends_with(CLOSE_QUOTES) {
        return false;
    }
    let lower = t.to_lowercase();
    let rest = REACTIONS
        .iter()
        .find_map(|verb| lower.strip_prefix(verb))
        .or_else(|| reacted_with(&lower));
    let Some(rest) = rest else {
        return false;
    };
    let quoted = rest.trim_start();
    // Whitespace is required between the verb and the quote.
    quoted.len() < rest.len() && quoted.starts_with(OPEN_QUOTES) && quoted.chars().count() >= 2
}

/// `reacted <emoji> to` → what follows it.
fn reacted_with(lower: &str) -> Option<&str> {
    let rest = lower.strip_prefix("reacted ")?;
    let at = rest.find(" to ")?;
    // The reaction is one emoji (maybe with modifiers): short, no letters.
    let emoji = &rest[..at];
    (emoji.chars().count() <= 8 && !emoji.chars().any(char::is_alphanumeric))
        .then(|| &rest[at + " to".len()..])
}

/// SMPP appendix B receipt text: starts `id:` and carries `stat:`.
fn looks_like_receipt(text: &str) -> bool {
    let lower = text.trim_start().to_lowercase();
    lower.starts_with("id:") && lower.contains(" stat:")
}
