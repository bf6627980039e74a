//! Keyword normalisation for MO messages (DESIGN.md §2, MO handling).
//!
//! Both the message text and every keyword list entry go through
//! [`normalise`]; a keyword matches when the two normal forms are equal
//! (whole message), or, for phrase detection, when the keyword's words occur
//! as consecutive [`words`] of the message.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Invisible or zero-width chars that phones and keyboards slip into text.
/// They are not `char::is_whitespace`, so they are listed.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

fn is_space_like(c: char) -> bool {
    c.is_whitespace() || is_invisible(c)
}

/// Normal form for keyword matching:
///
/// 1. NFKC (full-width `ＳＴＯＰ` → `STOP`, ligatures and compatibility forms
///    unfolded, NBSP → space);
/// 2. lowercase (`char::to_lowercase`; not full Unicode case folding, so `ß`
///    stays `ß` — enough for the Latin, Greek and Cyrillic keywords we match);
/// 3. accents stripped (NFD, combining marks dropped, NFC again so scripts
///    that decompose without marks, such as Hangul, come back whole);
/// 4. whitespace, NBSP and zero-width chars (U+200B–U+200D, U+2060, U+FEFF)
///    become spaces;
/// 5. everything that is not a letter or digit — punctuation, symbols, emoji,
///    spaces — trimmed from both ends;
/// 6. inner runs of spaces, `-` and `_` folded to one space.
///
/// So `"  STOP!! "`, `"🛑 Stop 🛑"`, `"ARRÊT"`, `"OPT_OUT"` give `"stop"`,
/// `"stop"`, `"arret"`, `"opt out"`; `"STOPWATCH"` gives `"stopwatch"`.
pub fn normalise(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let stripped: String = folded
        .nfd()
        .filter(|&c| !is_combining_mark(c))
        .nfc()
        .map(|c| if is_space_like(c) { ' ' } else { c })
        .collect();
    let trimmed = stripped.trim_matches(|c: char| !c.is_alphanumeric());
    let mut out = String::with_capacity(trimmed.len());
    let mut in_gap = false;
    for c in trimmed.chars() {
        if c == ' ' || c == '-' || c == '_' {
            in_gap = true;
            continue;
        }
        if in_gap {
            out.push(' ');
            in_gap = false;
        }
        out.push(c);
    }
    out
}

/// The words of a normalised text: maximal runs of letters and digits, so
/// punctuation and emoji between words separate them (`"stop. thank you"` →
/// `stop`, `thank`, `you`).
pub fn words(normalised: &str) -> impl Iterator<Item = &str> {
    normalised
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Whether the words of `phrase` (a normalised keyword, e.g. `"opt out"`)
/// occur consecutively among the words of `normalised`. Whole words only:
/// `"stop"` is not found in `"stopwatch"`.
pub fn contains_phrase(normalised: &str, phrase: &str) -> bool {
    let needle: Vec<&str> = words(phrase).collect();
    if needle.is_empty() {
        return false;
    }
    let hay: Vec<&str> = words(normalised).collect();
    hay.windows(needle.len()).any(|w| w == needle.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_gaps_fold() {
        assert_eq!(normalise("stop \u{200B} all"), "stop all");
        assert_eq!(normalise("a - _ b"), "a b");
        assert_eq!(normalise("___"), "");
    }

    #[test]
    fn phrases() {
        assert!(contains_phrase("please opt out now", "opt out"));
        assert!(contains_phrase("stop. thank you", "stop"));
        assert!(!contains_phrase("stopwatch", "stop"));
        assert!(!contains_phrase("out opt", "opt out"));
        assert!(!contains_phrase("anything", ""));
    }
}
