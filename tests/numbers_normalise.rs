//! Number normal form, DESIGN.md §1.

use optgate::numbers::{is_known_country_code, normalise};

#[test]
fn international_markers_are_stripped() {
    assert_eq!(normalise("+14155550100", 1, "1"), "14155550100");
    assert_eq!(normalise("+14155550100", 0, "1"), "14155550100");
    assert_eq!(normalise("0014155550100", 0, "1"), "14155550100");
    assert_eq!(normalise("0014155550100", 2, "44"), "14155550100");
    assert_eq!(normalise("+44 7700 900123", 0, "1"), "447700900123");
}

#[test]
fn ton1_taken_as_is() {
    assert_eq!(normalise("14155550100", 1, "1"), "14155550100");
    // Even when it would also be a possible national number.
    assert_eq!(normalise("4155550100", 1, "1"), "4155550100");
}

#[test]
fn national_numbers_get_the_default_country_code() {
    assert_eq!(normalise("14155550100", 0, "1"), "14155550100");
    assert_eq!(normalise("4155550100", 2, "1"), "14155550100");
    assert_eq!(normalise("4155550100", 0, "1"), "14155550100");
    assert_eq!(normalise("15550000001", 2, "1"), "15550000001");
    assert_eq!(normalise("5550000001", 0, "1"), "15550000001");
    assert_eq!(normalise("(415) 555-0100", 0, "1"), "14155550100");
    // UK with trunk prefix 0, and with the country code in front.
    assert_eq!(normalise("07700900123", 2, "44"), "447700900123");
    assert_eq!(normalise("7700900123", 2, "44"), "447700900123");
    assert_eq!(normalise("447700900123", 2, "44"), "447700900123");
}

#[test]
fn international_digits_under_ton2_are_kept() {
    // Kannel sends full international digits as TON 2.
    assert_eq!(normalise("447700900123", 2, "1"), "447700900123");
    assert_eq!(normalise("447700900123", 0, "1"), "447700900123");
    assert_eq!(normalise("14155550100", 2, "44"), "14155550100");
}

#[test]
fn national_first_when_ambiguous() {
    // Ten digits are a possible UK national number, so with cc 44 a bare
    // 4155550100 becomes a UK number: the design's rule, national first.
    assert_eq!(normalise("4155550100", 2, "44"), "444155550100");
}

#[test]
fn impossible_numbers_keep_their_digits() {
    assert_eq!(normalise("12345", 0, "1"), "12345");
    assert_eq!(normalise("5550100", 2, "1"), "5550100");
    assert_eq!(normalise("", 0, "1"), "");
}

#[test]
fn other_tons_keep_digits() {
    // Network-specific, subscriber, abbreviated (short codes).
    assert_eq!(normalise("4155550100", 3, "1"), "4155550100");
    assert_eq!(normalise("4155550100", 4, "1"), "4155550100");
    assert_eq!(normalise("72345", 6, "1"), "72345");
}

#[test]
fn alphanumeric_is_case_folded() {
    assert_eq!(normalise("ACME", 5, "1"), "acme");
    assert_eq!(normalise("AcMe Inc", 5, "1"), "acme inc");
    // Letters make an address alphanumeric whatever its TON.
    assert_eq!(normalise("ACME", 0, "1"), "acme");
    assert_eq!(normalise("Info24", 1, "1"), "info24");
    // TON 5 with digits only: compared as given.
    assert_eq!(normalise("12345", 5, "1"), "12345");
}

#[test]
fn repeated_calls_agree() {
    // The second call is served from the cache.
    for _ in 0..3 {
        assert_eq!(normalise("4155550100", 2, "1"), "14155550100");
        assert_eq!(normalise("07700900123", 2, "44"), "447700900123");
        assert_eq!(normalise("447700900123", 2, "1"), "447700900123");
    }
}

#[test]
fn known_country_codes() {
    assert!(is_known_country_code("1"));
    assert!(is_known_country_code("44"));
    assert!(is_known_country_code("33"));
    assert!(!is_known_country_code("0"));
    assert!(!is_known_country_code(""));
    assert!(!is_known_country_code("+1"));
    assert!(!is_known_country_code("01"));
    assert!(!is_known_country_code("1234"));
}
