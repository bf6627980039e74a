//! Keyword normalisation, DESIGN.md §2 MO handling.

use optgate::text::keywords::{contains_phrase, normalise, words};

const OPT_OUT: [&str; 11] = [
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
const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];
const HELP: [&str; 3] = ["HELP", "INFO", "AIDE"];

fn case_variants(k: &str) -> Vec<String> {
    let mut title = k.to_lowercase();
    if let Some(first) = title.get(..1) {
        title = first.to_uppercase() + &title[1..];
    }
    let alternating: String = k
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect();
    vec![k.to_owned(), k.to_lowercase(), title, alternating]
}

#[test]
fn every_default_keyword_in_any_case_and_padding() {
    for k in OPT_OUT.iter().chain(&OPT_IN).chain(&HELP) {
        let want = k.to_lowercase();
        for v in case_variants(k) {
            for wrapped in [
                v.clone(),
                format!("  {v}  "),
                format!("\n{v}\r\n"),
                format!("\u{00A0}{v}\u{00A0}"),
                format!("\u{200B}{v}\u{FEFF}"),
                format!("\t{v}\u{2060}\u{200D}"),
                format!("{v}."),
                format!("{v}!!"),
                format!("\"{v}\""),
                format!("🛑 {v} 🛑"),
            ] {
                assert_eq!(normalise(&wrapped), want, "{wrapped:?}");
            }
        }
    }
}

#[test]
fn brief_examples() {
    assert_eq!(normalise("Stop."), "stop");
    assert_eq!(normalise("STOP!!"), "stop");
    assert_eq!(normalise("ＳＴＯＰ"), "stop");
    assert_eq!(normalise("ARRÊT"), "arret");
    assert_eq!(normalise("Arrêt"), "arret");
    assert_eq!(normalise("opt-out"), "opt out");
    assert_eq!(normalise("opt_out"), "opt out");
    assert_eq!(normalise("OPT  OUT"), "opt out");
    assert_eq!(normalise("OPT\u{00A0}-\u{200B}OUT"), "opt out");
    assert_eq!(normalise("🛑 STOP 🛑"), "stop");
    assert_eq!(normalise("STOP 🛑🛑🛑"), "stop");
    assert_eq!(normalise("STOPWATCH"), "stopwatch");
    assert_ne!(normalise("STOPWATCH"), "stop");
    assert_eq!(normalise("  stop\n\nall "), "stop all");
}

#[test]
fn decomposed_accents_and_compat_forms() {
    // 'E' + combining circumflex.
    assert_eq!(normalise("ARRE\u{0302}T"), "arret");
    // Full-width with ideographic space; ligature ﬁ.
    assert_eq!(normalise("ＯＰＴ\u{3000}ＯＵＴ"), "opt out");
    assert_eq!(normalise("ﬁn"), "fin");
    assert_eq!(normalise("ÉTÉ"), "ete");
}

#[test]
fn inner_punctuation_other_than_space_dash_underscore_stays() {
    assert_eq!(normalise("Stop. Thank you"), "stop. thank you");
    assert_eq!(normalise("don't"), "don't");
    assert_eq!(normalise("..."), "");
    assert_eq!(normalise(""), "");
}

#[test]
fn words_split_on_space_and_punctuation() {
    let n = normalise("Stop. Thank you!");
    assert_eq!(words(&n).collect::<Vec<_>>(), vec!["stop", "thank", "you"]);
    let n = normalise("please STOP texting me");
    assert!(contains_phrase(&n, &normalise("STOP")));
    assert!(contains_phrase(
        &normalise("I want to opt-out now"),
        &normalise("OPT OUT")
    ));
    assert!(!contains_phrase(&normalise("STOPWATCH for sale"), "stop"));
    assert!(!contains_phrase(&normalise("my friend"), "end"));
}
