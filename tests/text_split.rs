//! Splitting into SMS parts, and footer append.

use optgate::text::coding::{decode, encode, DefaultAlphabet};
use optgate::text::split::{append_footer, fits_single, split};
use optgate::text::udh;
use proptest::prelude::*;

const G: DefaultAlphabet = DefaultAlphabet::Gsm7;

/// Decodes each part on its own (as a handset would) and joins the texts;
/// `None` if a part has a bad UDH or does not decode.
fn try_rejoin(s: &optgate::text::split::Split) -> Option<String> {
    let mut out = String::new();
    for p in &s.parts {
        let start = if s.udhi { udh::parse(p).ok()?.1 } else { 0 };
        out.push_str(&decode(s.data_coding, p.get(start..)?, G)?);
    }
    Some(out)
}

fn rejoin(s: &optgate::text::split::Split) -> String {
    try_rejoin(s).unwrap_or_else(|| panic!("parts do not decode: {s:?}"))
}

/// Body lengths in octets, with each part's concat info checked.
fn bodies(s: &optgate::text::split::Split, reference: u8) -> Vec<usize> {
    let total = s.parts.len();
    s.parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            assert_eq!(&p[..6], &[5, 0, 3, reference, total as u8, i as u8 + 1]);
            p.len() - 6
        })
        .collect()
}

#[test]
fn gsm_exactly_160_is_single() {
    let text = "a".repeat(160);
    let s = split(&text, 7).unwrap();
    assert_eq!((s.data_coding, s.udhi, s.parts.len()), (0, false, 1));
    assert_eq!(s.parts[0], vec![b'a'; 160]);
    assert!(fits_single(&text));
}

#[test]
fn gsm_161_is_two_parts() {
    let text = "a".repeat(161);
    let s = split(&text, 0x1207).unwrap();
    assert!(s.udhi);
    assert_eq!(bodies(&s, 0x07), vec![153, 8]);
    assert_eq!(rejoin(&s), text);
    assert!(!fits_single(&text));
}

#[test]
fn gsm_153_times_2_and_one_more() {
    let s = split(&"b".repeat(306), 1).unwrap();
    assert_eq!(bodies(&s, 1), vec![153, 153]);
    let s = split(&"b".repeat(307), 1).unwrap();
    assert_eq!(bodies(&s, 1), vec![153, 153, 1]);
}

#[test]
fn extension_char_counts_two_and_is_never_split() {
    // 159 'a' + '€' = 161 septets: does not fit one message.
    let text = format!("{}€", "a".repeat(159));
    assert!(!fits_single(&text));
    assert!(fits_single(&format!("{}€", "a".repeat(158))));

    // 152 'a' then '€' at septets 153-154: the pair moves whole to part 2.
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
    let s = split(&text, 3).unwrap();
    assert_eq!(s.data_coding, 0);
    assert_eq!(bodies(&s, 3), vec![152, 12]);
    assert_eq!(&s.parts[1][6..8], &[0x1B, 0x65]);
    assert_eq!(rejoin(&s), text);
}

#[test]
fn ucs2_70_and_71() {
    let text = "ж".repeat(70);
    let s = split(&text, 9).unwrap();
    assert_eq!((s.data_coding, s.udhi, s.parts.len()), (8, false, 1));
    assert_eq!(s.parts[0].len(), 140);
    assert!(fits_single(&text));

    let text = "ж".repeat(71);
    let s = split(&text, 9).unwrap();
    assert_eq!(s.data_coding, 8);
    assert_eq!(bodies(&s, 9), vec![134, 8]);
    assert_eq!(rejoin(&s), text);
    assert!(!fits_single(&text));
}

#[test]
fn surrogate_pair_is_never_split() {
    // 66 units + a 2-unit emoji would be 68 > 67: the emoji moves whole.
    let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(5));
    let s = split(&text, 4).unwrap();
    assert_eq!(bodies(&s, 4), vec![132, 14]);
    assert_eq!(&s.parts[1][6..8], &[0xD8, 0x3D]);
    assert_eq!(rejoin(&s), text);
    // An emoji counts 2 units toward the single-message 70.
    assert!(fits_single(&"😀".repeat(35)));
    assert!(!fits_single(&format!("{}a", "😀".repeat(35))));
}

#[test]
fn one_non_gsm_char_switches_to_ucs2() {
    let s = split("Hello ✓", 0).unwrap();
    assert_eq!(s.data_coding, 8);
    assert_eq!(rejoin(&s), "Hello ✓");
    assert_eq!(split("", 0).unwrap().parts, vec![Vec::<u8>::new()]);
}

#[test]
fn footer_appended_in_gsm() {
    let sm = encode("Hello", 0, G).unwrap();
    let out = append_footer(0, &sm, 0, "Reply STOP to opt out.", G).unwrap();
    assert_eq!(decode(0, &out, G).unwrap(), "Hello\nReply STOP to opt out.");
    // No extra newline after trailing whitespace.
    let sm = encode("Hello\n", 0, G).unwrap();
    let out = append_footer(0, &sm, 0, "Bye", G).unwrap();
    assert_eq!(decode(0, &out, G).unwrap(), "Hello\nBye");
}

#[test]
fn footer_fits_exactly_or_not() {
    // 150 + '\n' + 9 = 160 fits; one more char does not.
    let sm = vec![b'a'; 150];
    assert_eq!(
        append_footer(0, &sm, 0, "123456789", G).map(|v| v.len()),
        Some(160)
    );
    assert_eq!(append_footer(0, &sm, 0, "1234567890", G), None);
    // Extension chars in the footer count 2.
    assert_eq!(
        append_footer(0, &sm, 0, "1234567€", G).map(|v| v.len()),
        Some(160)
    );
    assert_eq!(append_footer(0, &sm, 0, "12345678€", G), None);
}

#[test]
fn footer_keeps_udh_and_part_limit() {
    let mut sm = vec![5, 0, 3, 1, 2, 2];
    sm.extend(vec![b'x'; 140]);
    let out = append_footer(0, &sm, 6, "STOP=out", G).unwrap();
    assert_eq!(&out[..6], &[5, 0, 3, 1, 2, 2]);
    assert_eq!(out.len() - 6, 149);
    // 140 + 1 + 13 = 154 > 153.
    assert_eq!(append_footer(0, &sm, 6, "Reply STOP ok", G), None);
}

#[test]
fn footer_in_ucs2_and_latin1() {
    let sm = encode("Привет", 8, G).unwrap();
    let out = append_footer(8, &sm, 0, "STOP", G).unwrap();
    assert_eq!(decode(8, &out, G).unwrap(), "Привет\nSTOP");
    let long = encode(&"ж".repeat(66), 8, G).unwrap();
    // 66 + newline + 4 = 71 units > 70; with "OK" 69 fits.
    assert_eq!(append_footer(8, &long, 0, "STOP", G), None);
    assert!(append_footer(8, &long, 0, "OK", G).is_some());

    let sm = encode("Café", 3, G).unwrap();
    let out = append_footer(3, &sm, 0, "Arrêt: STOP", G).unwrap();
    assert_eq!(decode(3, &out, G).unwrap(), "Café\nArrêt: STOP");
}

#[test]
fn footer_refused_when_not_representable_or_binary() {
    let sm = encode("Hello", 0, G).unwrap();
    assert_eq!(append_footer(0, &sm, 0, "Stop ✋", G), None);
    assert_eq!(append_footer(4, b"\x01\x02", 0, "STOP", G), None);
    assert_eq!(append_footer(0, &sm, 9, "STOP", G), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parts_rejoin_to_input(text in "[a-z€\\[ ]{0,400}|\\PC{0,200}", reference in any::<u16>()) {
        let s = split(&text, reference).unwrap();
        prop_assert_eq!(rejoin(&s), text.clone());
        let (single, multi) = if s.data_coding == 0 { (160, 153) } else { (140, 134) };
        if s.udhi {
            prop_assert!(s.parts.len() > 1);
            for p in &s.parts {
                prop_assert!(p.len() - 6 <= multi);
            }
        } else {
            prop_assert_eq!(s.parts.len(), 1);
            prop_assert!(s.parts[0].len() <= single);
        }
        prop_assert_eq!(s.parts.len() == 1, fits_single(&text));
    }
}
