//! Splitting optgate's own messages into SMS parts, and appending a footer to
//! a platform's message in its own encoding.

use thiserror::Error;

use super::coding::{self, Alphabet, DefaultAlphabet};
use super::gsm7;
use super::udh::IE_CONCAT_8;

/// GSM 7-bit septets in a single-part message.
pub const GSM7_SINGLE: usize = 160;
/// GSM 7-bit septets per part behind an 8-bit-reference concat UDH.
pub const GSM7_MULTI: usize = 153;
/// UCS-2 code units in a single-part message.
pub const UCS2_SINGLE: usize = 70;
/// UCS-2 code units per part behind an 8-bit-reference concat UDH.
pub const UCS2_MULTI: usize = 67;
/// Octets of user data in one SMS.
pub const OCTETS: usize = 140;

/// `data_coding` of GSM 03.38 text (SMSC default, assumed GSM 7-bit).
pub const DC_GSM7: u8 = 0x00;
/// `data_coding` of UCS-2.
pub const DC_UCS2: u8 = 0x08;

/// A text cut into ready-to-send `short_message` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// 0 (GSM 03.38) when the whole text fits that alphabet, else 8 (UCS-2).
    pub data_coding: u8,
    /// Each part's full short_message, UDH included when there is more than
    /// one part.
    pub parts: Vec<Vec<u8>>,
    /// Whether the parts start with a UDH (set esm_class UDHI, 0x40).
    pub udhi: bool,
}

/// Why a text could not be split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SplitError {
    /// More than 255 parts would be needed.
    #[error("text needs {0} parts; at most 255 fit a concat UDH")]
    TooLong(usize),
}

/// Each char's encoded bytes, in order: the units that may not be separated.
fn char_groups(text: &str) -> (u8, Vec<Vec<u8>>) {
    if gsm7::is_representable(text) {
        let groups = text
            .chars()
            .filter_map(gsm7::encode_char)
            .map(|s| match s {
                gsm7::Septets::Basic(b) => vec![b],
                gsm7::Septets::Extended(b) => vec![gsm7::ESC, b],
            })
            .collect();
        (DC_GSM7, groups)
    } else {
        let groups = text
            .chars()
            .map(|c| {
                let mut buf = [0u16; 2];
                c.encode_utf16(&mut buf)
                    .iter()
                    .flat_map(|u| u.to_be_bytes())
                    .collect()
            })
            .collect();
        (DC_UCS2, groups)
    }
}

/// Greedy packing of whole groups into chunks of at most `budget` bytes.
fn chunk(groups: &[Vec<u8>], budget: usize) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut cur: Vec<u8> = Vec::with_capacity(budget);
    for g in groups {
        if !cur.is_empty() && cur.len() + g.len() > budget {
            chunks.push(std::mem::take(&mut cur));
        }
        cur.extend_from_slice(g);
    }
    if !cur.is_empty() || chunks.is_empty() {
        chunks.push(cur);
    }
    chunks
}

/// Cuts `text` into SMS parts. GSM 03.38 (data_coding 0) when every char fits
/// it, else UCS-2 (data_coding 8). One part up to 160 septets / 70 UCS-2 units;
/// beyond that, parts of 153 septets / 67 units behind the UDH
/// `05 00 03 ref total seq` with `ref` the low 8 bits of `reference`.
/// An escape pair or a surrogate pair is never cut. An empty text is one empty
/// part.
pub fn split(text: &str, reference: u16) -> Result<Split, SplitError> {
    let (data_coding, groups) = char_groups(text);
    let (single, multi) = match data_coding {
        DC_GSM7 => (GSM7_SINGLE, GSM7_MULTI),
        _ => (UCS2_SINGLE * 2, UCS2_MULTI * 2),
    };
    let len: usize = groups.iter().map(Vec::len).sum();
    if len <= single {
        return Ok(Split {
            data_coding,
            parts: vec![groups.concat()],
            udhi: false,
        });
    }
    let chunks = chunk(&groups, multi);
    let total = u8::try_from(chunks.len()).map_err(|_| SplitError::TooLong(chunks.len()))?;
    let mut parts = Vec::with_capacity(chunks.len());
    for (seq, body) in (1..=total).zip(chunks) {
        let [_, ref8] = reference.to_be_bytes();
        let mut sm = vec![0x05, IE_CONCAT_8, 0x03, ref8, total, seq];
        sm.extend_from_slice(&body);
        parts.push(sm);
    }
    Ok(Split {
        data_coding,
        parts,
        udhi: true,
    })
}

/// Whether `text` goes as a single SMS (160 GSM septets or 70 UCS-2 units).
pub fn fits_single(text: &str) -> bool {
    match gsm7::septet_len(text) {
        Some(n) => n <= GSM7_SINGLE,
        None => text.encode_utf16().count() <= UCS2_SINGLE,
    }
}

/// Text capacity in bytes of a short_message body behind `udh_len` UDH octets.
fn capacity(alphabet: Alphabet, udh_len: usize) -> usize {
    match alphabet {
        // The UDH is padded to a septet boundary on the air.
        Alphabet::Gsm7 => GSM7_SINGLE.saturating_sub((udh_len * 8).div_ceil(7)),
        Alphabet::Ucs2 => OCTETS.saturating_sub(udh_len) & !1,
        // Conservative: some SMSCs carry these as GSM 7-bit (160 chars), but
        // 140 octets is what fits when they are sent as 8-bit.
        Alphabet::Latin1 | Alphabet::Ascii => OCTETS.saturating_sub(udh_len),
    }
}

/// Appends `footer` to a short_message in its own coding, keeping the first
/// `udh_len` octets (the UDH, 0 when none) untouched. A newline goes between
/// text and footer unless the text is empty or already ends in whitespace.
///
/// Returns `None` when the coding is not text, the footer is not
/// representable in it, `udh_len` exceeds the message, or the result would
/// not fit one part (GSM 7-bit: 160 septets less the UDH's; UCS-2, Latin-1,
/// IA5: 140 octets less the UDH). The caller then sends the footer on its own.
pub fn append_footer(
    data_coding: u8,
    short_message: &[u8],
    udh_len: usize,
    footer: &str,
    default: DefaultAlphabet,
) -> Option<Vec<u8>> {
    let alphabet = coding::alphabet(data_coding, default)?;
    let body = short_message.get(udh_len..)?;
    let text = coding::decode_as(alphabet, body);
    let sep = match text.chars().last() {
        Some(c) if !c.is_whitespace() => "\n",
        _ => "",
    };
    let addition = coding::encode_as(alphabet, &format!("{sep}{footer}"))?;
    if body.len() + addition.len() > capacity(alphabet, udh_len) {
        return None;
    }
    let mut out = Vec::with_capacity(short_message.len() + addition.len());
    out.extend_from_slice(short_message);
    out.extend_from_slice(&addition);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities() {
        assert_eq!(capacity(Alphabet::Gsm7, 0), 160);
        assert_eq!(capacity(Alphabet::Gsm7, 6), 153);
        assert_eq!(capacity(Alphabet::Gsm7, 7), 152);
        assert_eq!(capacity(Alphabet::Ucs2, 6), 134);
        assert_eq!(capacity(Alphabet::Ucs2, 7), 132);
        assert_eq!(capacity(Alphabet::Latin1, 6), 134);
    }

    #[test]
    fn chunk_never_splits_group() {
        let groups = vec![vec![1], vec![0x1B, 2], vec![3]];
        assert_eq!(chunk(&groups, 2), vec![vec![1], vec![0x1B, 2], vec![3]]);
    }
}
