//! The deliver_sm PDUs the carrier originates: delivery receipts and MOs.

use bytes::Bytes;

use crate::pdu::{tags, Body, Pdu, Sm, Text, Tlvs, ESM_CLASS_RECEIPT};
use crate::sim::wire::receipt_date;

/// message_state DELIVERED.
const STATE_DELIVERED: u8 = 2;
/// Built-in MO texts when none are configured.
const DEFAULT_TEXTS: [&str; 3] = ["Hello", "What time do you open?", "Yes please"];

/// The first up-to-20 printable ASCII characters of a submitted message
/// (after any UDH), for the receipt's `text:` field.
fn text_excerpt(sm: &Sm) -> String {
    let msg = sm.message_bytes();
    let skip = if sm.udhi() {
        msg.first().map_or(0, |&l| usize::from(l) + 1)
    } else {
        0
    };
    msg.iter()
        .skip(skip)
        .filter(|b| (0x20..0x7F).contains(*b))
        .take(20)
        .map(|&b| char::from(b))
        .collect()
}

/// A delivery receipt for `submit` (a submit_sm), reporting DELIVRD for
/// `message_id`, from the recipient back to the sender.
pub fn receipt(submit: &Sm, message_id: &[u8], unix_secs: u64, seq: u32) -> Pdu {
    let date = receipt_date(unix_secs);
    let date = String::from_utf8_lossy(&date);
    let id = String::from_utf8_lossy(message_id);
    let text = format!(
        "id:{id} sub:001 dlvrd:001 submit date:{date} done date:{date} stat:DELIVRD err:000 text:{}",
        text_excerpt(submit)
    );
    let mut tlvs = Tlvs::new();
    tlvs.set_cstring(tags::RECEIPTED_MESSAGE_ID, message_id);
    tlvs.set_u8(tags::MESSAGE_STATE, STATE_DELIVERED);
    let sm = Sm {
        source_addr_ton: submit.dest_addr_ton,
        source_addr_npi: submit.dest_addr_npi,
        source_addr: submit.destination_addr.clone(),
        dest_addr_ton: submit.source_addr_ton,
        dest_addr_npi: submit.source_addr_npi,
        destination_addr: submit.source_addr.clone(),
        esm_class: ESM_CLASS_RECEIPT,
        short_message: Bytes::from(text),
        tlvs,
        ..Sm::default()
    };
    Pdu::new(seq, Body::DeliverSm(Box::new(sm)))
}

/// An MO (mobile-originated deliver_sm) from `from` to `to`: "STOP" when
/// `stop`, else the `n`th of `texts` (cycling; built-in texts if empty).
pub fn mo(from: u64, to: &str, texts: &[String], n: u64, stop: bool, seq: u32) -> Pdu {
    let text: &str = if stop {
        "STOP"
    } else if texts.is_empty() {
        DEFAULT_TEXTS[(n % DEFAULT_TEXTS.len() as u64) as usize]
    } else {
        &texts[(n % texts.len() as u64) as usize]
    };
    let sm = Sm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: Text::from(from.to_string()),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: Text::copy_from_slice(to.as_bytes()),
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Sm::default()
    };
    Pdu::new(seq, Body::DeliverSm(Box::new(sm)))
}

/// A one-shot MO with a given text: GSM 03.38 (data_coding 0) when it
/// fits, else UCS-2 (data_coding 8).
pub fn mo_text(from: &str, to: &str, text: &str, seq: u32) -> Pdu {
    use crate::text::coding::{encode_as, Alphabet};
    let (data_coding, bytes) = match crate::text::gsm7::encode(text) {
        Some(b) => (0, b),
        None => (8, encode_as(Alphabet::Ucs2, text).unwrap_or_default()),
    };
    let sm = Sm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: Text::copy_from_slice(from.as_bytes()),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: Text::copy_from_slice(to.as_bytes()),
        data_coding,
        short_message: Bytes::from(bytes),
        ..Sm::default()
    };
    Pdu::new(seq, Body::DeliverSm(Box::new(sm)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_has_text_and_tlvs() {
        let submit = Sm {
            source_addr: "14155550100".into(),
            destination_addr: "15550001".into(),
            short_message: "Your code is 1234, thanks".into(),
            ..Sm::default()
        };
        let p = receipt(&submit, b"00000000000000ab", 1_709_214_300, 8);
        let Body::DeliverSm(sm) = &p.body else {
            panic!("not a deliver_sm")
        };
        assert!(sm.is_receipt());
        assert_eq!(&sm.source_addr[..], b"15550001");
        assert_eq!(&sm.destination_addr[..], b"14155550100");
        assert_eq!(
            &sm.short_message[..],
            &b"id:00000000000000ab sub:001 dlvrd:001 submit date:2402291345 \
               done date:2402291345 stat:DELIVRD err:000 text:Your code is 1234, t"[..]
        );
        assert_eq!(
            sm.tlvs.receipted_message_id().as_deref(),
            Some(&b"00000000000000ab"[..])
        );
        assert_eq!(sm.tlvs.message_state(), Some(STATE_DELIVERED));
    }

    #[test]
    fn mo_texts_cycle_and_stop() {
        let texts = vec!["a".to_owned(), "b".to_owned()];
        let text = |p: &Pdu| match &p.body {
            Body::DeliverSm(sm) => sm.short_message.clone(),
            _ => Bytes::new(),
        };
        assert_eq!(&text(&mo(1, "2", &texts, 3, false, 1))[..], b"b");
        assert_eq!(&text(&mo(1, "2", &texts, 3, true, 1))[..], b"STOP");
        assert_eq!(&text(&mo(1, "2", &[], 0, false, 1))[..], b"Hello");
    }
}
