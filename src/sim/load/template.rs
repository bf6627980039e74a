//! Pre-encoded submit_sm templates. Each submit is one `extend_from_slice`
//! of a template plus two in-place patches (sequence number and recipient
//! digits): no PDU is built or encoded on the hot path.

use bytes::BytesMut;

use crate::pdu::{Body, Pdu, Sm, ESM_CLASS_UDHI};
use crate::text::split::{split, SplitError};

/// Recipients are numbered from here up; all have 11 digits.
const RECIPIENT_BASE: u64 = 15_550_000_000;
/// Most distinct recipients (keeps the numbers at 11 digits).
pub const MAX_RECIPIENTS: u64 = 1_000_000_000;

const GSM7_TEXT: &str = "Your optgate load-test code is 123456. Reply STOP to opt out.";
const UCS2_TEXT: &str = "Ваш код 123456 ✓ Ответьте STOP для отказа.";
const LONG_TEXT: &str = "This is a long optgate load-test message that needs more than one \
    part: it goes out as several submit_sm PDUs, each carrying a concatenation UDH, and each \
    one is answered by its own submit_sm_resp. The platform counts them separately, as a \
    carrier bills them separately. Reply STOP to opt out, HELP for help.";

/// The kinds of message a load run mixes, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MixKind {
    /// One GSM 03.38 part.
    Gsm7,
    /// One UCS-2 part.
    Ucs2,
    /// A GSM 03.38 text split in several parts with a concat UDH.
    Multipart,
}

impl std::str::FromStr for MixKind {
    type Err = String;
    fn from_str(s: &str) -> Result<MixKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gsm7" => Ok(MixKind::Gsm7),
            "ucs2" => Ok(MixKind::Ucs2),
            "multipart" => Ok(MixKind::Multipart),
            other => Err(format!(
                "unknown mix kind {other:?} (gsm7, ucs2, multipart)"
            )),
        }
    }
}

struct Template {
    bytes: Vec<u8>,
    dest_off: usize,
    /// A new message starts here (the next recipient is used).
    first_part: bool,
}

/// The cycle of templates a bind sends, and where it is in it.
pub struct Templates {
    list: Vec<Template>,
    next: usize,
    recipients: u64,
    recipient: u64,
}

fn templates_for(
    kind: MixKind,
    sender: &str,
    registered_delivery: u8,
) -> Result<Vec<Template>, SplitError> {
    let text = match kind {
        MixKind::Gsm7 => GSM7_TEXT,
        MixKind::Ucs2 => UCS2_TEXT,
        MixKind::Multipart => LONG_TEXT,
    };
    let s = split(text, 0x2A)?;
    let mut out = Vec::with_capacity(s.parts.len());
    for (i, part) in s.parts.into_iter().enumerate() {
        let sm = Sm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: bytes::Bytes::copy_from_slice(sender.as_bytes()).into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: RECIPIENT_BASE.to_string().into(),
            esm_class: if s.udhi { ESM_CLASS_UDHI } else { 0 },
            registered_delivery,
            data_coding: s.data_coding,
            short_message: part.into(),
            ..Sm::default()
        };
        let bytes = Pdu::new(1, Body::SubmitSm(Box::new(sm)))
            .to_bytes()
            .to_vec();
        // header, service_type NUL, ton, npi, source_addr NUL, ton, npi.
        let dest_off = 16 + 1 + 2 + sender.len() + 1 + 2;
        out.push(Template {
            bytes,
            dest_off,
            first_part: i == 0,
        });
    }
    Ok(out)
}

impl Templates {
    /// Templates for `mix` (in that order, cycling) from `sender` to
    /// `recipients` distinct numbers (clamped to 1..=[`MAX_RECIPIENTS`]).
    pub fn new(
        mix: &[MixKind],
        sender: &str,
        recipients: u64,
        registered_delivery: bool,
    ) -> Result<Templates, SplitError> {
        let mut list = Vec::new();
        for &kind in mix {
            list.extend(templates_for(kind, sender, u8::from(registered_delivery))?);
        }
        if list.is_empty() {
            list = templates_for(MixKind::Gsm7, sender, u8::from(registered_delivery))?;
        }
        Ok(Templates {
            list,
            next: 0,
            recipients: recipients.clamp(1, MAX_RECIPIENTS),
            recipient: 0,
        })
    }

    /// Appends the next submit_sm with sequence number `seq` to `out`.
    pub fn put_next(&mut self, out: &mut BytesMut, seq: u32) {
        let Some(t) = self.list.get(self.next) else {
            return;
        };
        self.next = (self.next + 1) % self.list.len();
        if t.first_part {
            self.recipient = (self.recipient + 1) % self.recipients;
        }
        let start = out.len();
        out.extend_from_slice(&t.bytes);
        if let Some(s) = out.get_mut(start + 12..start + 16) {
            s.copy_from_slice(&seq.to_be_bytes());
        }
        if self.recipients > 1 {
            let mut n = RECIPIENT_BASE + self.recipient;
            if let Some(digits) = out.get_mut(start + t.dest_off..start + t.dest_off + 11) {
                for d in digits.iter_mut().rev() {
                    *d = b'0' + (n % 10) as u8;
                    n /= 10;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_patch_seq_and_recipient() {
        let mix = [MixKind::Gsm7, MixKind::Ucs2, MixKind::Multipart];
        let mut t = Templates::new(&mix, "14155550100", 3, true).unwrap();
        let mut out = BytesMut::new();
        let mut pdus = vec![];
        for seq in 1..=8u32 {
            let start = out.len();
            t.put_next(&mut out, seq);
            pdus.push(Pdu::decode(out.split_off(start).freeze()).unwrap());
        }
        let parts = t.list.len();
        assert!(parts >= 4, "multipart text makes at least 2 parts");
        for (i, p) in pdus.iter().enumerate() {
            assert_eq!(p.sequence_number, i as u32 + 1);
            let Body::SubmitSm(sm) = &p.body else {
                panic!("not a submit_sm")
            };
            assert_eq!(&sm.source_addr[..], b"14155550100");
            assert_eq!(sm.registered_delivery, 1);
            assert_eq!(sm.destination_addr.len(), 11);
        }
        let dest = |i: usize| match &pdus[i].body {
            Body::SubmitSm(sm) => (sm.destination_addr.clone(), sm.data_coding, sm.udhi()),
            _ => unreachable!(),
        };
        assert_eq!(&dest(0).0[..], b"15550000001");
        assert_eq!(&dest(1).0[..], b"15550000002");
        assert_eq!(dest(1).1, 8, "ucs2");
        // Both parts of the multipart message go to the same recipient.
        assert_eq!(&dest(2).0[..], b"15550000000");
        assert_eq!(dest(3).0, dest(2).0);
        assert!(dest(2).2 && dest(3).2);
    }
}
