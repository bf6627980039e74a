//! GSM 03.38 (3GPP 23.038) default alphabet and its extension table.
//!
//! SMPP carries GSM 7-bit text **unpacked**: one septet per octet, high bit
//! clear. [`decode`] / [`encode`] work on that form; [`pack`] / [`unpack`] convert
//! to and from the packed air-interface form for SMSCs configured to pack.

/// The escape septet that selects the extension table for the next septet.
pub const ESC: u8 = 0x1B;

/// Default alphabet, indexed by septet. 0x1B (escape) decodes as a space when it
/// cannot be paired, see [`decode`].
pub(crate) const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// Extension table: (septet after ESC, char).
pub(crate) const EXTENSION: [(u8, char); 10] = [
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

/// How one char is written in GSM 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    /// A single septet of the default alphabet.
    Basic(u8),
    /// `ESC` followed by this septet (costs two septets).
    Extended(u8),
}

impl Septets {
    /// Number of septets this char costs (1 or 2).
    pub fn cost(self) -> usize {
        match self {
            Septets::Basic(_) => 1,
            Septets::Extended(_) => 2,
        }
    }
}

/// The GSM 7-bit form of `c`, or `None` when the alphabet cannot represent it.
pub fn encode_char(c: char) -> Option<Septets> {
    // ASCII letters, digits and most punctuation sit at their ASCII code.
    match c {
        ' '..='#' | '%'..='?' | 'A'..='Z' | 'a'..='z' => return Some(Septets::Basic(c as u8)),
        '\n' => return Some(Septets::Basic(0x0A)),
        '\r' => return Some(Septets::Basic(0x0D)),
        _ => {}
    }
    if let Some(&(code, _)) = EXTENSION.iter().find(|(_, ch)| *ch == c) {
        return Some(Septets::Extended(code));
    }
    BASIC
        .iter()
        .position(|&ch| ch == c)
        // 0x1B is the escape, not a space: a space is 0x20 (found above).
        .filter(|&pos| pos != usize::from(ESC))
        .and_then(|pos| u8::try_from(pos).ok())
        .map(Septets::Basic)
}

fn extension_char(code: u8) -> Option<char> {
    EXTENSION
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, ch)| *ch)
}

fn basic_char(septet: u8) -> char {
    // Octets with the high bit set are not septets; show them as replaced
    // rather than guess what the sender meant.
    BASIC
        .get(usize::from(septet))
        .copied()
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Decodes unpacked GSM 7-bit text (one septet per octet). Total: never fails.
///
/// - `1B xx` with `xx` in the extension table gives the extension char.
/// - `1B xx` with any other `xx` gives the base char of `xx` (23.038's advice
///   for receivers), except `1B 1B`, reserved for a further extension table,
///   which gives a single space.
/// - A lone trailing `1B` gives a space (ASCII 0x20).
/// - Octets >= 0x80 give U+FFFD.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().copied();
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(basic_char(s));
            continue;
        }
        match iter.next() {
            None | Some(ESC) => out.push(' '),
            Some(next) => out.push(extension_char(next).unwrap_or_else(|| basic_char(next))),
        }
    }
    out
}

/// Encodes `text` as unpacked GSM 7-bit septets, or `None` when any char is not
/// representable. `decode(&encode(s)?) == s` for every representable `s`.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match encode_char(c)? {
            Septets::Basic(s) => out.push(s),
            Septets::Extended(s) => out.extend_from_slice(&[ESC, s]),
        }
    }
    Some(out)
}

/// Number of septets `text` needs (extension chars count 2), or `None` when
/// it is not representable.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars()
        .try_fold(0usize, |n, c| encode_char(c).map(|s| n + s.cost()))
}

/// Whether every char of `text` is representable in GSM 7-bit.
pub fn is_representable(text: &str) -> bool {
    text.chars().all(|c| encode_char(c).is_some())
}

/// Packs septets (low 7 bits of each octet) into the 7-bit air form, LSB
/// first, starting `fill_bits` (0..=6) bits into the first octet — the padding
/// used after a UDH so that text starts on a septet boundary. Filler bits are
/// zero; `fill_bits` above 6 is taken modulo 7.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits % 7);
    let total_bits = fill + septets.len() * 7;
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    for (i, &s) in septets.iter().enumerate() {
        let bit = fill + i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let v = u16::from(s & 0x7F) << shift;
        // `byte` < out.len() by construction; `get_mut` keeps this panic-free.
        if let Some(b) = out.get_mut(byte) {
            *b |= (v & 0xFF) as u8;
        }
        if let Some(b) = out.get_mut(byte + 1) {
            *b |= (v >> 8) as u8;
        }
    }
    out
}

/// Unpacks up to `count` septets from the 7-bit air form, skipping the first
/// `fill_bits` (taken modulo 7). Stops early when `packed` runs out, so the
/// result may be shorter than `count`.
///
/// `count` is needed because 7 trailing zero bits are ambiguous: they may be
/// padding or an `@` (septet 0).
pub fn unpack(packed: &[u8], count: usize, fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits % 7);
    let available = (packed.len() * 8).saturating_sub(fill) / 7;
    let n = count.min(available);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let bit = fill + i * 7;
        let (byte, shift) = (bit / 8, bit % 8);
        let lo = u16::from(packed.get(byte).copied().unwrap_or(0));
        let hi = u16::from(packed.get(byte + 1).copied().unwrap_or(0));
        out.push((((hi << 8 | lo) >> shift) & 0x7F) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_rules() {
        assert_eq!(decode(&[0x41, ESC]), "A ");
        assert_eq!(decode(&[ESC, ESC, 0x41]), " A");
        assert_eq!(decode(&[ESC, 0x41]), "A");
        assert_eq!(decode(&[ESC, 0x65]), "€");
        assert_eq!(decode(&[0x80, 0xFF]), "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn septet_counts() {
        assert_eq!(septet_len("a€["), Some(5));
        assert_eq!(septet_len("a`"), None);
        assert_eq!(encode("@"), Some(vec![0]));
        assert_eq!(encode("\u{1B}"), None);
    }

    #[test]
    fn pack_known_vector() {
        // "hellohello" packs to the well-known E8 32 9B FD 46 97 D9 EC 37.
        let septets = encode("hellohello").unwrap();
        let packed = pack(&septets, 0);
        assert_eq!(
            packed,
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(unpack(&packed, septets.len(), 0), septets);
    }

    #[test]
    fn pack_with_fill_roundtrips() {
        let septets = encode("Hi there {x}").unwrap();
        for fill in 0..7 {
            let packed = pack(&septets, fill);
            assert_eq!(unpack(&packed, septets.len(), fill), septets, "fill {fill}");
        }
        assert_eq!(unpack(&[0x41], 5, 0), vec![0x41]);
    }
}
