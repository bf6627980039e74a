//! GSM 03.38 both ways, table-driven from SMPP34.md §7.

use optgate::text::gsm7::{decode, encode, pack, septet_len, unpack, ESC};
use proptest::prelude::*;

/// SMPP34.md §7, row by row (high nibble), as printed there. Named cells are
/// spelled out: LF, CR, ESC, SP.
const TABLE: [[&str; 16]; 8] = [
    [
        "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "LF", "Ø", "ø", "CR", "Å", "å",
    ],
    [
        "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "ESC", "Æ", "æ", "ß", "É",
    ],
    [
        "SP", "!", "\"", "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
    ],
    [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
    ],
    [
        "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
    ],
    [
        "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
    ],
    [
        "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    ],
    [
        "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
    ],
];

const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{000C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

fn cell(name: &str) -> Option<char> {
    match name {
        "LF" => Some('\n'),
        "CR" => Some('\r'),
        "SP" => Some(' '),
        "ESC" => None,
        s => s.chars().next(),
    }
}

#[test]
fn every_default_alphabet_char_both_ways() {
    let mut seen = 0;
    for (hi, row) in TABLE.iter().enumerate() {
        for (lo, name) in row.iter().enumerate() {
            let septet = u8::try_from(hi * 16 + lo).unwrap();
            let Some(c) = cell(name) else { continue };
            assert_eq!(decode(&[septet]), c.to_string(), "decode {septet:#04x}");
            assert_eq!(encode(&c.to_string()), Some(vec![septet]), "encode {c:?}");
            assert_eq!(septet_len(&c.to_string()), Some(1));
            seen += 1;
        }
    }
    assert_eq!(seen, 127);
}

#[test]
fn extension_table_both_ways() {
    for (code, c) in EXTENSION {
        assert_eq!(decode(&[ESC, code]), c.to_string(), "decode 1B {code:#04x}");
        assert_eq!(
            encode(&c.to_string()),
            Some(vec![ESC, code]),
            "encode {c:?}"
        );
        assert_eq!(septet_len(&c.to_string()), Some(2));
    }
}

#[test]
fn unknown_escape_falls_back_to_base_char() {
    assert_eq!(decode(&[ESC, 0x41, 0x42]), "AB");
    assert_eq!(decode(&[ESC, 0x00]), "@");
    assert_eq!(decode(&[0x48, 0x69, ESC]), "Hi ");
}

#[test]
fn unrepresentable_chars() {
    for s in ["`", "ç", "é\u{301}", "😀", "Ж", "\t"] {
        assert_eq!(encode(s), None, "{s:?}");
        assert_eq!(septet_len(s), None, "{s:?}");
    }
}

#[test]
fn mixed_text() {
    let text = "Price: 5€ [net] @home";
    let bytes = encode(text).unwrap();
    assert_eq!(bytes.len(), septet_len(text).unwrap());
    assert_eq!(septet_len(text), Some(text.chars().count() + 3));
    assert_eq!(decode(&bytes), text);
}

fn gsm_char() -> impl Strategy<Value = char> {
    let mut chars: Vec<char> = TABLE.iter().flatten().filter_map(|n| cell(n)).collect();
    chars.extend(EXTENSION.iter().map(|(_, c)| *c));
    proptest::sample::select(chars)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let s = decode(&bytes);
        prop_assert!(s.chars().count() <= bytes.len());
    }

    #[test]
    fn encode_then_decode_is_identity(chars in proptest::collection::vec(gsm_char(), 0..300)) {
        let text: String = chars.into_iter().collect();
        let bytes = encode(&text).unwrap();
        prop_assert_eq!(Some(bytes.len()), septet_len(&text));
        prop_assert_eq!(decode(&bytes), text);
    }

    #[test]
    fn pack_unpack_roundtrip(septets in proptest::collection::vec(0u8..0x80, 0..200), fill in 0u8..7) {
        let packed = pack(&septets, fill);
        prop_assert_eq!(packed.len(), (usize::from(fill) + septets.len() * 7).div_ceil(8));
        prop_assert_eq!(unpack(&packed, septets.len(), fill), septets);
    }
}
