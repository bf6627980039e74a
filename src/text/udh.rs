//! User Data Header (3GPP 23.040 §9.2.3.24) at the start of a short_message
//! whose esm_class has UDHI (0x40), and the concatenation info it carries.
//!
//! Wire form: `UDHL` (octets that follow), then information elements, each
//! `IEI IEDL data[IEDL]`. Unknown IEs are kept so a re-encoded header is the
//! same header.

use thiserror::Error;

/// IE 0x00: concatenated message, 8-bit reference.
pub const IE_CONCAT_8: u8 = 0x00;
/// IE 0x08: concatenated message, 16-bit reference.
pub const IE_CONCAT_16: u8 = 0x08;

/// Why a UDH could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UdhError {
    /// UDHI was set but the message has no octets.
    #[error("UDH missing: short_message is empty")]
    Empty,
    /// UDHL claims more octets than the message holds.
    #[error("UDHL {udhl} overruns the {available} octets after it")]
    LengthOverrun {
        /// The UDHL value read.
        udhl: usize,
        /// Octets present after the UDHL octet.
        available: usize,
    },
    /// An IE's length runs past the end of the header.
    #[error("IE {id:#04x} length {len} overruns the header")]
    IeOverrun {
        /// The IE identifier.
        id: u8,
        /// The IEDL value read.
        len: usize,
    },
    /// On encode: an IE or the whole header is over 255 octets.
    #[error("UDH too long to encode")]
    TooLong,
}

/// One information element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ie {
    /// IEI.
    pub id: u8,
    /// The IE data (IEDL octets).
    pub data: Vec<u8>,
}

/// A parsed User Data Header: its IEs in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Udh {
    /// Information elements in wire order, unknown ones included.
    pub ies: Vec<Ie>,
}

/// Multipart (concatenation) info from a UDH IE or from the SAR TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by all parts (an 8-bit reference is widened).
    pub reference: u16,
    /// Number of parts; valid messages have 1..=255.
    pub total: u8,
    /// This part's number, starting at 1.
    pub seq: u8,
    /// Whether the reference is 16-bit (IE 0x08 or SAR) rather than 8-bit.
    pub ref16: bool,
}

impl Concat {
    /// From the SAR TLVs: `sar_msg_ref_num` (0x020C), `sar_total_segments`
    /// (0x020E), `sar_segment_seqnum` (0x020F). The reference is 16-bit.
    pub fn from_sar(ref_num: u16, total: u8, seq: u8) -> Self {
        Concat {
            reference: ref_num,
            total,
            seq,
            ref16: true,
        }
    }

    /// The IE for this info: 0x08 when `ref16`, else 0x00 (reference
    /// truncated to its low 8 bits).
    pub fn to_ie(self) -> Ie {
        let [hi, lo] = self.reference.to_be_bytes();
        if self.ref16 {
            Ie {
                id: IE_CONCAT_16,
                data: vec![hi, lo, self.total, self.seq],
            }
        } else {
            Ie {
                id: IE_CONCAT_8,
                data: vec![lo, self.total, self.seq],
            }
        }
    }
}

/// Parses the UDH at the start of `sm`. Returns the header and the number of
/// octets it takes including the UDHL octet, i.e. where the text starts.
/// Never panics: any overrun is a [`UdhError`].
pub fn parse(sm: &[u8]) -> Result<(Udh, usize), UdhError> {
    let (&udhl, rest) = sm.split_first().ok_or(UdhError::Empty)?;
    let udhl = usize::from(udhl);
    let mut body = rest.get(..udhl).ok_or(UdhError::LengthOverrun {
        udhl,
        available: rest.len(),
    })?;
    let mut ies = Vec::new();
    while let Some((&id, after_id)) = body.split_first() {
        let (&len, after_len) = after_id
            .split_first()
            .ok_or(UdhError::IeOverrun { id, len: 0 })?;
        let len = usize::from(len);
        let (data, next) = after_len
            .split_at_checked(len)
            .ok_or(UdhError::IeOverrun { id, len })?;
        ies.push(Ie {
            id,
            data: data.to_vec(),
        });
        body = next;
    }
    Ok((Udh { ies }, udhl + 1))
}

impl Udh {
    /// A header holding only a concatenation IE.
    pub fn with_concat(concat: Concat) -> Self {
        Udh {
            ies: vec![concat.to_ie()],
        }
    }

    /// Wire form, UDHL included.
    pub fn encode(&self) -> Result<Vec<u8>, UdhError> {
        let mut out = vec![0u8];
        for ie in &self.ies {
            let len = u8::try_from(ie.data.len()).map_err(|_| UdhError::TooLong)?;
            out.push(ie.id);
            out.push(len);
            out.extend_from_slice(&ie.data);
        }
        let udhl = u8::try_from(out.len() - 1).map_err(|_| UdhError::TooLong)?;
        out[0] = udhl;
        Ok(out)
    }

    /// Length of [`Udh::encode`]'s output (UDHL included), without encoding.
    pub fn encoded_len(&self) -> usize {
        1 + self.ies.iter().map(|ie| 2 + ie.data.len()).sum::<usize>()
    }

    /// Concatenation info from the first well-formed IE 0x00 (IEDL 3) or
    /// 0x08 (IEDL 4). Malformed concat IEs are skipped. `total`/`seq` are not
    /// range-checked here; the reassembler rejects 0 and seq > total.
    pub fn concat(&self) -> Option<Concat> {
        self.ies
            .iter()
            .find_map(|ie| match (ie.id, ie.data.as_slice()) {
                (IE_CONCAT_8, &[r, total, seq]) => Some(Concat {
                    reference: u16::from(r),
                    total,
                    seq,
                    ref16: false,
                }),
                (IE_CONCAT_16, &[hi, lo, total, seq]) => Some(Concat {
                    reference: u16::from_be_bytes([hi, lo]),
                    total,
                    seq,
                    ref16: true,
                }),
                _ => None,
            })
    }

    /// Replaces any concatenation IEs with `concat`, keeping the others in
    /// place (the new IE goes first).
    pub fn set_concat(&mut self, concat: Concat) {
        self.ies
            .retain(|ie| ie.id != IE_CONCAT_8 && ie.id != IE_CONCAT_16);
        self.ies.insert(0, concat.to_ie());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overruns_are_errors() {
        assert_eq!(parse(&[]), Err(UdhError::Empty));
        assert_eq!(
            parse(&[5, 0, 3, 1]),
            Err(UdhError::LengthOverrun {
                udhl: 5,
                available: 3
            })
        );
        assert_eq!(
            parse(&[3, 0, 3, 1]),
            Err(UdhError::IeOverrun { id: 0, len: 3 })
        );
        assert_eq!(parse(&[1, 0]), Err(UdhError::IeOverrun { id: 0, len: 0 }));
    }

    #[test]
    fn empty_header_is_fine() {
        assert_eq!(parse(&[0, 0x41]), Ok((Udh::default(), 1)));
    }
}
