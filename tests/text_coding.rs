//! data_coding → text and back.

use optgate::text::coding::{alphabet, decode, encode, Alphabet, DefaultAlphabet};
use proptest::prelude::*;

const G: DefaultAlphabet = DefaultAlphabet::Gsm7;

#[test]
fn ucs2_emoji_uses_surrogate_pairs() {
    let text = "Hi 😀!";
    let bytes = encode(text, 8, G).unwrap();
    assert_eq!(
        bytes,
        [0x00, 0x48, 0x00, 0x69, 0x00, 0x20, 0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x21]
    );
    assert_eq!(decode(8, &bytes, G).as_deref(), Some(text));
}

#[test]
fn ucs2_unpaired_surrogates_are_replaced() {
    // High surrogate then a plain char; a lone low surrogate at the end.
    let bytes = [0xD8, 0x3D, 0x00, 0x41, 0xDE, 0x00];
    assert_eq!(decode(8, &bytes, G).as_deref(), Some("\u{FFFD}A\u{FFFD}"));
}

#[test]
fn latin1_both_ways() {
    let text = "Café ÿ £5 ©";
    let bytes = encode(text, 3, G).unwrap();
    assert_eq!(
        bytes,
        [0x43, 0x61, 0x66, 0xE9, 0x20, 0xFF, 0x20, 0xA3, 0x35, 0x20, 0xA9]
    );
    assert_eq!(decode(3, &bytes, G).as_deref(), Some(text));
    assert_eq!(encode("€", 3, G), None);
    let all: Vec<u8> = (0..=255).collect();
    let s = decode(3, &all, G).unwrap();
    assert_eq!(
        s.chars().map(u32::from).collect::<Vec<_>>(),
        (0..=255).collect::<Vec<u32>>()
    );
}

#[test]
fn ia5_is_ascii_only() {
    assert_eq!(decode(1, b"STOP", G).as_deref(), Some("STOP"));
    assert_eq!(decode(1, &[0x41, 0xE9], G).as_deref(), Some("A\u{FFFD}"));
    assert_eq!(encode("é", 1, G), None);
    assert_eq!(encode("a`{", 1, G), Some(b"a`{".to_vec()));
}

#[test]
fn default_alphabet_is_configurable() {
    // 0x00 is '@' in GSM 03.38 and NUL in Latin-1; 0xE9 is 'é' in Latin-1.
    assert_eq!(decode(0, &[0x00], G).as_deref(), Some("@"));
    assert_eq!(
        decode(0, &[0xE9], DefaultAlphabet::Latin1).as_deref(),
        Some("é")
    );
    assert_eq!(
        decode(0, &[0xE9], DefaultAlphabet::Ascii).as_deref(),
        Some("\u{FFFD}")
    );
    assert_eq!(encode("€", 0, G), Some(vec![0x1B, 0x65]));
    assert_eq!(encode("€", 0, DefaultAlphabet::Latin1), None);
    assert_eq!(DefaultAlphabet::default(), DefaultAlphabet::Gsm7);
}

#[test]
fn gsm_dcs_groups() {
    for dc in (0xC0..=0xDF).chain(0xF0..=0xF3) {
        assert_eq!(
            alphabet(dc, DefaultAlphabet::Latin1),
            Some(Alphabet::Gsm7),
            "{dc:#x}"
        );
        assert_eq!(decode(dc, &[0x1B, 0x65], G).as_deref(), Some("€"));
    }
    for dc in 0xE0..=0xEF {
        assert_eq!(alphabet(dc, G), Some(Alphabet::Ucs2), "{dc:#x}");
    }
}

#[test]
fn binary_and_national_codings_are_left_alone() {
    for dc in [
        0x02, 0x04, 0x05, 0x06, 0x07, 0x09, 0x0A, 0x0D, 0x0E, 0xF4, 0xF5, 0xF6, 0xF7,
    ] {
        assert_eq!(decode(dc, b"STOP", G), None, "{dc:#x}");
        assert_eq!(encode("STOP", dc, G), None, "{dc:#x}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn decode_never_panics(dc in any::<u8>(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(dc, &bytes, G);
        let _ = decode(dc, &bytes, DefaultAlphabet::Latin1);
    }

    #[test]
    fn ucs2_roundtrips_any_text(text in "\\PC{0,80}") {
        let bytes = encode(&text, 8, G).unwrap();
        prop_assert_eq!(decode(8, &bytes, G), Some(text));
    }
}
