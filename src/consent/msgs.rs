//! Building and reading the PDUs the consent engine deals with: message
//! text, multipart facts, optgate's own submits, synthetic receipts, and
//! receipts rewritten to optgate message ids. Pure.

use bytes::Bytes;

use crate::pdu::{tags, Address, Body, Pdu, Sm};
use crate::text::coding::{self, DefaultAlphabet};
use crate::text::split;
use crate::text::udh::{self, Concat};

/// optgate message ids (given for held messages) are this base plus the
/// held row id: 16 decimal digits, so platforms that parse ids as decimal
/// or as hex both cope, and they never collide with short carrier ids.
pub const OPTGATE_ID_BASE: i64 = 7_000_000_000_000_000;

/// The optgate message id of held group `group_id`.
pub fn optgate_id(group_id: i64) -> String {
    (OPTGATE_ID_BASE + group_id).to_string()
}

/// The held group id behind an optgate message id, if it is one.
pub fn group_of(message_id: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(message_id).ok()?;
    let n: i64 = s.parse().ok()?;
    (s.len() == 16 && n > OPTGATE_ID_BASE).then_some(n - OPTGATE_ID_BASE)
}

/// The addressing and content fields the engine reads from an MT or MO.
#[derive(Debug, Clone)]
pub struct Facts {
    pub source: Address,
    pub dest: Address,
    pub data_coding: u8,
    pub registered_delivery: u8,
    /// The user data without its UDH.
    pub payload: Bytes,
    /// Multipart position, from the UDH or the SAR TLVs.
    pub concat: Option<Concat>,
}

/// Reads [`Facts`] from a submit_sm, deliver_sm or data_sm.
pub fn facts(pdu: &Pdu) -> Option<Facts> {
    let (source, dest, esm, dc, rd, tlvs, msg) = match &pdu.body {
        Body::SubmitSm(s) | Body::DeliverSm(s) => (
            s.source(),
            s.destination(),
            s.esm_class,
            s.data_coding,
            s.registered_delivery,
            &s.tlvs,
            s.message_bytes(),
        ),
        Body::DataSm(d) => (
            d.source(),
            d.destination(),
            d.esm_class,
            d.data_coding,
            d.registered_delivery,
            &d.tlvs,
            d.message_bytes(),
        ),
        _ => return None,
    };
    let mut payload = msg.clone();
    let mut concat = None;
    if esm & 0x40 != 0 {
        if let Ok((h, len)) = udh::parse(msg) {
            concat = h.concat();
            payload = msg.slice(len.min(msg.len())..);
        }
    }
    if concat.is_none() {
        if let (Some(r), Some(t), Some(q)) = (
            tlvs.sar_msg_ref_num(),
            tlvs.sar_total_segments(),
            tlvs.sar_segment_seqnum(),
        ) {
            concat = Some(Concat::from_sar(r, t, q));
        }
    }
    Some(Facts {
        source,
        dest,
        data_coding: dc,
        registered_delivery: rd,
        payload,
        concat: concat.filter(|c| c.total > 1),
    })
}

/// The text of `payload` in `data_coding`, `None` for binary data.
pub fn text(f: &Facts, alphabet: DefaultAlphabet) -> Option<String> {
    coding::decode(f.data_coding, &f.payload, alphabet)
}

/// optgate's own message `text` from `from` to `to` (addresses as the
/// triggering PDU carried them), split into as many submit_sm as needed.
pub fn own_submits(text: &str, from: &Address, to: &Address, reference: u16) -> Vec<Pdu> {
    let Ok(parts) = split::split(text, reference) else {
        return Vec::new();
    };
    parts
        .parts
        .into_iter()
        .map(|part| {
            let mut sm = Sm {
                esm_class: if parts.udhi { 0x40 } else { 0 },
                data_coding: parts.data_coding,
                short_message: Bytes::from(part),
                ..Default::default()
            };
            sm.set_source(from.clone());
            sm.set_destination(to.clone());
            Pdu::new(0, Body::SubmitSm(Box::new(sm)))
        })
        .collect()
}

/// A delivery receipt optgate makes itself for a held message it dropped
/// (`stat` REJECTD, state 8) or let expire (EXPIRED, state 3), addressed
/// like a carrier receipt: from the recipient to the sender number.
pub fn synthetic_receipt(
    held: &Pdu,
    optgate_id: &str,
    stat: &str,
    state: u8,
    now: &str,
) -> Option<Pdu> {
    let f = facts(held)?;
    let sample: String = text(&f, DefaultAlphabet::Gsm7)
        .unwrap_or_default()
        .chars()
        .take(20)
        .collect();
    let body = format!("id:{optgate_id} sub:001 dlvrd:000 submit date:{now} done date:{now} stat:{stat} err:000 text:{sample}");
    // From the recipient back to the sender.
    let mut sm = Sm {
        esm_class: 0x04,
        short_message: Bytes::from(body.into_bytes()),
        ..Default::default()
    };
    sm.set_source(f.dest);
    sm.set_destination(f.source);
    sm.tlvs
        .set_cstring(tags::RECEIPTED_MESSAGE_ID, optgate_id.as_bytes());
    sm.tlvs.set_u8(tags::MESSAGE_STATE, state);
    Some(Pdu::new(0, Body::DeliverSm(Box::new(sm))))
}

/// `YYMMDDhhmm` in UTC for receipt texts.
pub fn receipt_time(unix_ms: i64) -> String {
    let secs = u64::try_from(unix_ms.div_euclid(1000)).unwrap_or(0);
    String::from_utf8_lossy(&crate::pdu::receipt::receipt_date(secs)).into_owned()
}

/// Appends `footer` to a single-part text MT in its own encoding; `None`
/// when it does not fit or the message is binary or multipart.
pub fn with_footer(pdu: &Pdu, footer: &str, alphabet: DefaultAlphabet) -> Option<Pdu> {
    let mut out = pdu.clone();
    let Body::SubmitSm(sm) = &mut out.body else {
        return None;
    };
    if sm.esm_class & 0x40 != 0
        || !sm.short_message.is_empty() && sm.tlvs.message_payload().is_some()
    {
        return None;
    }
    let new = split::append_footer(sm.data_coding, &sm.short_message, 0, footer, alphabet)?;
    sm.short_message = Bytes::from(new);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optgate_ids_are_16_digits_and_invert() {
        let id = optgate_id(42);
        assert_eq!(id.len(), 16);
        assert_eq!(group_of(id.as_bytes()), Some(42));
        assert_eq!(group_of(b"c1"), None);
        assert_eq!(group_of(b"12345"), None);
    }

    #[test]
    fn receipt_time_is_utc_yymmddhhmm() {
        // 2026-11-27 06:30:00 UTC
        assert_eq!(receipt_time(1_795_761_000_000), "2611270630");
        assert_eq!(receipt_time(0), "7001010000");
    }
}
