//! The receipt hot path: a delivery receipt written straight from the
//! submit_sm frame into the output buffer, byte for byte what
//! [`super::make::receipt`] encodes, without decoding the submit or
//! allocating. A submit whose text is not in `short_message` (a
//! `message_payload` TLV) is left to the decoding path.

use bytes::{BufMut, BytesMut};

use crate::pdu::{command as c, tags, ESM_CLASS_RECEIPT, HEADER_LEN};
use crate::sim::wire::put_header;

/// The submit_sm fields a receipt is made from, borrowed from the frame.
struct SubmitView<'a> {
    src: (u8, u8, &'a [u8]),
    dst: (u8, u8, &'a [u8]),
    udhi: bool,
    text: &'a [u8],
}

fn cstr<'a>(frame: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = frame.get(*pos..)?;
    let n = rest.iter().position(|&b| b == 0)?;
    *pos += n + 1;
    rest.get(..n)
}

fn octet(frame: &[u8], pos: &mut usize) -> Option<u8> {
    let b = *frame.get(*pos)?;
    *pos += 1;
    Some(b)
}

fn view(frame: &[u8]) -> Option<SubmitView<'_>> {
    let mut p = HEADER_LEN;
    cstr(frame, &mut p)?; // service_type
    let src = (
        octet(frame, &mut p)?,
        octet(frame, &mut p)?,
        cstr(frame, &mut p)?,
    );
    let dst = (
        octet(frame, &mut p)?,
        octet(frame, &mut p)?,
        cstr(frame, &mut p)?,
    );
    let esm_class = octet(frame, &mut p)?;
    p += 2; // protocol_id, priority_flag
    cstr(frame, &mut p)?; // schedule_delivery_time
    cstr(frame, &mut p)?; // validity_period
    p += 4; // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    let len = usize::from(octet(frame, &mut p)?);
    let text = frame.get(p..p + len)?;
    Some(SubmitView {
        src,
        dst,
        udhi: esm_class & 0x40 != 0,
        text,
    })
}

/// The first up-to-20 printable ASCII characters after any UDH.
fn excerpt<'a>(v: &SubmitView<'a>) -> impl Iterator<Item = u8> + 'a {
    let skip = if v.udhi {
        v.text.first().map_or(0, |&l| usize::from(l) + 1)
    } else {
        0
    };
    v.text
        .iter()
        .skip(skip)
        .copied()
        .filter(|b| (0x20..0x7F).contains(b))
        .take(20)
}

/// Appends a DELIVRD receipt (sequence number `seq`) for the submit_sm in
/// `frame`, reporting `id` at `date` (YYMMDDhhmm). False, with nothing
/// written, when the submit's text is not in `short_message`.
pub(super) fn put_receipt(
    out: &mut BytesMut,
    frame: &[u8],
    id: &[u8; 16],
    date: &[u8; 10],
    seq: u32,
) -> bool {
    let Some(v) = view(frame) else { return false };
    if v.text.is_empty() {
        return false;
    }
    let text_len = excerpt(&v).count();
    // "id:" id " sub:001 dlvrd:001 submit date:" date " done date:" date
    // " stat:DELIVRD err:000 text:" excerpt
    const A: &[u8] = b" sub:001 dlvrd:001 submit date:";
    const B: &[u8] = b" done date:";
    const C: &[u8] = b" stat:DELIVRD err:000 text:";
    let sm_len = 3 + id.len() + A.len() + 10 + B.len() + 10 + C.len() + text_len;
    let body_len = 1 // service_type
        + 2 + v.dst.2.len() + 1
        + 2 + v.src.2.len() + 1
        + 3 // esm_class, protocol_id, priority_flag
        + 2 // schedule_delivery_time, validity_period
        + 4 // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        + 1 + sm_len
        + 4 + id.len() + 1 // receipted_message_id
        + 4 + 1; // message_state
    out.reserve(HEADER_LEN + body_len);
    put_header(out, body_len, c::DELIVER_SM, 0, seq);
    out.put_u8(0);
    for (ton, npi, addr) in [v.dst, v.src] {
        out.put_u8(ton);
        out.put_u8(npi);
        out.put_slice(addr);
        out.put_u8(0);
    }
    out.put_slice(&[ESM_CLASS_RECEIPT, 0, 0, 0, 0, 0, 0, 0, 0]);
    // sm_length is at most 3 + 16 + 31 + 10 + 11 + 10 + 27 + 20 = 128.
    out.put_u8(u8::try_from(sm_len).unwrap_or(u8::MAX));
    out.put_slice(b"id:");
    out.put_slice(id);
    out.put_slice(A);
    out.put_slice(date);
    out.put_slice(B);
    out.put_slice(date);
    out.put_slice(C);
    for b in excerpt(&v) {
        out.put_u8(b);
    }
    out.put_u16(tags::RECEIPTED_MESSAGE_ID);
    out.put_u16(u16::try_from(id.len() + 1).unwrap_or(0));
    out.put_slice(id);
    out.put_u8(0);
    out.put_u16(tags::MESSAGE_STATE);
    out.put_u16(1);
    out.put_u8(2); // DELIVERED
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Body, Pdu, Sm};
    use crate::sim::wire::receipt_date;
    use bytes::Bytes;

    fn same_as_decoding_path(sm: Sm) {
        let frame = Pdu::new(9, Body::SubmitSm(Box::new(sm.clone()))).to_bytes();
        let id = *b"00000000000000ab";
        let secs = 1_709_214_300;
        let mut fast = BytesMut::new();
        assert!(put_receipt(&mut fast, &frame, &id, &receipt_date(secs), 77));
        let slow = super::super::make::receipt(&sm, &id, secs, 77).to_bytes();
        assert_eq!(&fast[..], &slow[..], "fast receipt differs for {sm:?}");
    }

    #[test]
    fn fast_receipt_is_the_decoded_one() {
        same_as_decoding_path(Sm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: "14155550100".into(),
            dest_addr_ton: 2,
            dest_addr_npi: 8,
            destination_addr: "15550001".into(),
            registered_delivery: 1,
            short_message: "Your code is 1234, thanks".into(),
            ..Sm::default()
        });
        // UDH skipped, control characters dropped, short text.
        same_as_decoding_path(Sm {
            source_addr: "ACME".into(),
            destination_addr: "15550002".into(),
            service_type: "CMT".into(),
            validity_period: "000001000000000R".into(),
            esm_class: 0x40,
            short_message: Bytes::from_static(b"\x05\x00\x03\x01\x02\x01hi\r\nthere"),
            ..Sm::default()
        });
    }

    #[test]
    fn payload_and_short_frames_take_the_decoding_path() {
        let mut out = BytesMut::new();
        let sm = Sm {
            source_addr: "1".into(),
            destination_addr: "2".into(),
            ..Sm::default()
        };
        let frame = Pdu::new(9, Body::SubmitSm(Box::new(sm))).to_bytes();
        assert!(!put_receipt(
            &mut out,
            &frame,
            &[b'0'; 16],
            b"2402291345",
            1
        ));
        assert!(!put_receipt(
            &mut out,
            &frame[..20],
            &[b'0'; 16],
            b"2402291345",
            1
        ));
        assert!(out.is_empty());
    }
}
