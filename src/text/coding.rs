//! `data_coding` → text and back.
//!
//! Covers the SMPP 3.4 values optgate must read for keywords and write for its
//! own messages: 0 (SMSC default alphabet), 1 (IA5/ASCII), 3 (Latin-1),
//! 8 (UCS-2), and the GSM 03.38 DCS groups that say GSM7 or UCS-2. Binary and
//! national codings give `None`: such messages are passed on untouched.

use super::gsm7;

/// What `data_coding` 0 ("SMSC default alphabet") means on a link. The SMSC
/// decides, so this is configuration; GSM 03.38 is by far the most common.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultAlphabet {
    /// GSM 03.38, unpacked (one septet per octet).
    #[default]
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / US-ASCII.
    Ascii,
}

/// The text alphabet a `data_coding` value selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// GSM 03.38 septets, unpacked.
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / US-ASCII.
    Ascii,
    /// UCS-2 read and written as UTF-16BE.
    Ucs2,
}

impl From<DefaultAlphabet> for Alphabet {
    fn from(d: DefaultAlphabet) -> Self {
        match d {
            DefaultAlphabet::Gsm7 => Alphabet::Gsm7,
            DefaultAlphabet::Latin1 => Alphabet::Latin1,
            DefaultAlphabet::Ascii => Alphabet::Ascii,
        }
    }
}

/// The alphabet of `data_coding`, or `None` for binary, national (JIS,
/// Cyrillic, Hebrew, …), compressed and reserved values.
///
/// 0x10–0x1B are reserved in SMPP 3.4 but some SMSCs pass the GSM "general data
/// coding" byte through unchanged; its uncompressed alphabet bits are honoured
/// (0x10–0x13 GSM7, 0x18–0x1B UCS-2). 0xF0–0xFF follow bit 2 (0 GSM7, 1 8-bit),
/// so the reserved-bit-3 values 0xF8–0xFB also read as GSM7.
pub fn alphabet(data_coding: u8, default: DefaultAlphabet) -> Option<Alphabet> {
    match data_coding {
        0x00 => Some(default.into()),
        0x01 => Some(Alphabet::Ascii),
        0x03 => Some(Alphabet::Latin1),
        0x08 => Some(Alphabet::Ucs2),
        0x10..=0x13 => Some(Alphabet::Gsm7),
        0x18..=0x1B => Some(Alphabet::Ucs2),
        0xC0..=0xDF => Some(Alphabet::Gsm7),
        0xE0..=0xEF => Some(Alphabet::Ucs2),
        0xF0..=0xFF if data_coding & 0x04 == 0 => Some(Alphabet::Gsm7),
        _ => None,
    }
}

/// Decodes `bytes` (a short_message body without UDH, or a `message_payload`)
/// as text, or `None` when `data_coding` is not a text coding. Total for text
/// codings: bytes the coding cannot carry become U+FFFD, never an error.
pub fn decode(data_coding: u8, bytes: &[u8], default: DefaultAlphabet) -> Option<String> {
    alphabet(data_coding, default).map(|a| decode_as(a, bytes))
}

/// Decodes `bytes` in a known alphabet. Total.
pub fn decode_as(alphabet: Alphabet, bytes: &[u8]) -> String {
    match alphabet {
        Alphabet::Gsm7 => gsm7::decode(bytes),
        Alphabet::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        Alphabet::Ascii => bytes
            .iter()
            .map(|&b| {
                if b.is_ascii() {
                    char::from(b)
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            })
            .collect(),
        Alphabet::Ucs2 => decode_utf16be(bytes),
    }
}

/// UCS-2 is read as UTF-16BE: senders put emoji in as surrogate pairs.
/// Unpaired surrogates and an odd trailing byte become U+FFFD.
fn decode_utf16be(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]));
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if bytes.len() % 2 == 1 {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// Encodes `text` for `data_coding`, or `None` when the coding is not a text
/// coding or cannot represent some char of `text`.
pub fn encode(text: &str, data_coding: u8, default: DefaultAlphabet) -> Option<Vec<u8>> {
    encode_as(alphabet(data_coding, default)?, text)
}

/// Encodes `text` in a known alphabet, or `None` when a char does not fit.
pub fn encode_as(alphabet: Alphabet, text: &str) -> Option<Vec<u8>> {
    match alphabet {
        Alphabet::Gsm7 => gsm7::encode(text),
        Alphabet::Latin1 => text.chars().map(|c| u8::try_from(c).ok()).collect(),
        Alphabet::Ascii => text
            .chars()
            .map(|c| u8::try_from(c).ok().filter(u8::is_ascii))
            .collect(),
        Alphabet::Ucs2 => Some(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let d = DefaultAlphabet::Gsm7;
        for dc in [
            0x02, 0x04, 0x05, 0x06, 0x07, 0x09, 0xF4, 0xF7, 0x14, 0x20, 0xBF,
        ] {
            assert_eq!(decode(dc, b"abc", d), None, "dc {dc:#x}");
        }
        assert_eq!(decode(0xF1, &[0x41, 0x00], d).as_deref(), Some("A@"));
        assert_eq!(decode(0xC3, &[0x41], d).as_deref(), Some("A"));
        assert_eq!(decode(0xE2, &[0x00, 0x41], d).as_deref(), Some("A"));
        assert_eq!(
            decode(0, &[0x40], DefaultAlphabet::Latin1).as_deref(),
            Some("@")
        );
        assert_eq!(decode(0, &[0x40], d).as_deref(), Some("¡"));
    }

    #[test]
    fn odd_ucs2_and_lone_surrogate() {
        assert_eq!(
            decode(8, &[0x00, 0x41, 0x00], DefaultAlphabet::Gsm7).as_deref(),
            Some("A\u{FFFD}")
        );
        assert_eq!(
            decode(8, &[0xD8, 0x3D, 0x00, 0x41], DefaultAlphabet::Gsm7).as_deref(),
            Some("\u{FFFD}A")
        );
    }
}
