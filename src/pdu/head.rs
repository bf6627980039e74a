//! [`SubmitHead`]: what a submit_sm that passes unchanged is checked on,
//! and [`SubmitRespHead`]: what a carrier's submit_sm_resp is routed on,
//! each read off its frame without building the PDU.
//!
//! A submit_sm that no campaign applies to goes to the carrier as its own
//! bytes; optgate only needs its sender (the account's sender check) and
//! whether it asks for a receipt. Decoding the whole body for that (every
//! C-string copied, the short message and each TLV given a reference to
//! the frame, the body boxed) was the largest share of a pass-through
//! message's work in optgate. The frame is still walked to its end, so a
//! head is only read from a frame that [`Pdu::decode`](super::Pdu::decode)
//! accepts as well.

use bytes::Bytes;

use super::command::{SUBMIT_SM, SUBMIT_SM_RESP};
use super::decode::Reader;
use super::error::DecodeErrorKind;
use super::header::{peek_header, HEADER_LEN};
use super::{Address, Text};

/// The fields of a submit_sm that decide whether it may pass as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitHead {
    /// From the header.
    pub sequence_number: u32,
    /// `source_addr_ton`, `source_addr_npi`, `source_addr`.
    pub source: Address,
    /// Receipt / acknowledgement request bits.
    pub registered_delivery: u8,
}

impl SubmitHead {
    /// The head of `frame`, a whole PDU (header included). `None` when it
    /// is not a submit_sm, or not one [`Pdu::decode`](super::Pdu::decode)
    /// accepts: the caller decodes it then, and the decoder names the error.
    pub fn read(frame: &Bytes) -> Option<SubmitHead> {
        let h = peek_header(frame)?;
        if h.command_id != SUBMIT_SM || h.command_length as usize != frame.len() {
            return None;
        }
        let body = frame.get(HEADER_LEN..)?;
        let mut r = Reader::new(frame, body);
        Self::walk(h.sequence_number, &mut r).ok()
    }

    // Field for field as `Sm` in bodies.rs (wire order, SMPP34.md §2).
    fn walk(sequence_number: u32, r: &mut Reader<'_>) -> Result<SubmitHead, DecodeErrorKind> {
        r.skip_cstr("service_type")?;
        let ton = r.u8("source_addr_ton")?;
        let npi = r.u8("source_addr_npi")?;
        let addr = r.cstr("source_addr")?;
        r.u8("dest_addr_ton")?;
        r.u8("dest_addr_npi")?;
        r.skip_cstr("destination_addr")?;
        r.u8("esm_class")?;
        r.u8("protocol_id")?;
        r.u8("priority_flag")?;
        r.skip_cstr("schedule_delivery_time")?;
        r.skip_cstr("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        r.u8("replace_if_present_flag")?;
        r.u8("data_coding")?;
        r.u8("sm_default_msg_id")?;
        r.sm_slice()?;
        while r.next_tlv()?.is_some() {}
        Ok(SubmitHead {
            sequence_number,
            source: Address { ton, npi, addr },
            registered_delivery,
        })
    }
}

/// The fields of a submit_sm_resp that optgate acts on; the platform
/// gets the carrier's frame itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRespHead {
    /// From the header.
    pub command_status: u32,
    /// From the header.
    pub sequence_number: u32,
    /// The carrier's message id; `None` when absent or empty.
    pub message_id: Option<Text>,
}

impl SubmitRespHead {
    /// The head of `frame`, a whole PDU. `None` when it is not a
    /// submit_sm_resp [`Pdu::decode`](super::Pdu::decode) accepts.
    pub fn read(frame: &Bytes) -> Option<SubmitRespHead> {
        let h = peek_header(frame)?;
        if h.command_id != SUBMIT_SM_RESP || h.command_length as usize != frame.len() {
            return None;
        }
        let body = frame.get(HEADER_LEN..)?;
        let mut r = Reader::new(frame, body);
        // As `MessageIdResp`: a header-only response, or message_id and TLVs.
        let message_id = if r.is_empty() {
            None
        } else {
            let id = r.cstr("message_id").ok()?;
            while r.next_tlv().ok()?.is_some() {}
            Some(id).filter(|m| !m.is_empty())
        };
        Some(SubmitRespHead {
            command_status: h.command_status,
            sequence_number: h.sequence_number,
            message_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Body, MessageIdResp, Pdu, Sm, Tlv, Tlvs};
    use proptest::prelude::*;

    #[test]
    fn reads_a_submit_resp_as_the_decoder_does() {
        let with_id = |id: Option<&str>, tlvs: Vec<Tlv>| {
            Pdu {
                command_status: 0x58,
                sequence_number: 9,
                body: Body::SubmitSmResp(MessageIdResp {
                    message_id: id.map(Text::from),
                    tlvs: Tlvs(tlvs),
                }),
            }
            .to_bytes()
        };
        let tlv = Tlv {
            tag: 0x0425,
            value: Bytes::from_static(&[1]),
        };
        let head = SubmitRespHead::read(&with_id(Some("abc123"), vec![tlv])).unwrap();
        assert_eq!(
            head,
            SubmitRespHead {
                command_status: 0x58,
                sequence_number: 9,
                message_id: Some(Text::from("abc123")),
            }
        );
        assert_eq!(
            SubmitRespHead::read(&with_id(None, vec![]))
                .unwrap()
                .message_id,
            None
        );
        assert_eq!(
            SubmitRespHead::read(&with_id(Some(""), vec![]))
                .unwrap()
                .message_id,
            None
        );
        // An id without its NUL, and a TLV cut short: the decoder's to answer.
        let bad = Bytes::from_static(&[
            0, 0, 0, 19, 0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, b'a', b'b', b'c',
        ]);
        assert!(Pdu::decode(bad.clone()).is_err());
        assert_eq!(SubmitRespHead::read(&bad), None);
        let cut = with_id(
            Some("x"),
            vec![Tlv {
                tag: 1,
                value: Bytes::from_static(&[1, 2]),
            }],
        );
        let mut cut = cut[..cut.len() - 1].to_vec();
        cut[3] -= 1;
        let cut = Bytes::from(cut);
        assert!(Pdu::decode(cut.clone()).is_err());
        assert_eq!(SubmitRespHead::read(&cut), None);
        assert_eq!(SubmitRespHead::read(&submit(Sm::default())), None);
    }

    fn submit(sm: Sm) -> Bytes {
        Pdu::new(7, Body::SubmitSm(Box::new(sm))).to_bytes()
    }

    #[test]
    fn reads_the_sender_and_the_receipt_request() {
        let frame = submit(Sm {
            service_type: "CMT".into(),
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: "14155550100".into(),
            destination_addr: "15550001234".into(),
            registered_delivery: 1,
            short_message: Bytes::from_static(b"hello"),
            tlvs: Tlvs(vec![Tlv {
                tag: 0x0204,
                value: Bytes::from_static(&[0, 1]),
            }]),
            ..Sm::default()
        });
        let head = SubmitHead::read(&frame).unwrap();
        assert_eq!(head.sequence_number, 7);
        assert_eq!(head.source, Address::new(1, 1, "14155550100"));
        assert_eq!(head.registered_delivery, 1);
    }

    #[test]
    fn leaves_other_commands_and_broken_frames_to_the_decoder() {
        let frame = submit(Sm::default());
        assert!(SubmitHead::read(&frame).is_some());
        let deliver = Pdu::new(7, Body::DeliverSm(Box::default())).to_bytes();
        assert_eq!(SubmitHead::read(&deliver), None);
        // One octet short: short_message or a TLV runs past the end.
        let cut = frame.slice(..frame.len() - 1);
        assert_eq!(SubmitHead::read(&cut), None);
        // A trailing octet after the body.
        let mut long = frame.to_vec();
        long.push(0);
        let n = long.len() as u32;
        long[..4].copy_from_slice(&n.to_be_bytes());
        let long = Bytes::from(long);
        assert!(Pdu::decode(long.clone()).is_err());
        assert_eq!(SubmitHead::read(&long), None);
    }

    proptest! {
        // A head is read exactly from the frames the decoder accepts as a
        // submit_sm (or submit_sm_resp), and it agrees with the decoded PDU.
        #[test]
        fn agrees_with_the_decoder(
            resp in any::<bool>(),
            seq in any::<u32>(),
            body in proptest::collection::vec(any::<u8>(), 0..120),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut frame = Vec::with_capacity(16 + body.len());
            frame.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
            let id = if resp { SUBMIT_SM_RESP } else { SUBMIT_SM };
            frame.extend_from_slice(&id.to_be_bytes());
            frame.extend_from_slice(&0u32.to_be_bytes());
            frame.extend_from_slice(&seq.to_be_bytes());
            // Mostly NULs and small values, so that many bodies decode.
            frame.extend(body.iter().map(|b| if b % 3 == 0 { 0 } else { b % 8 }));
            let frame = Bytes::from(frame);
            check(&frame)?;
            // And every truncation of it.
            let at = HEADER_LEN + cut.index(body.len() + 1);
            let mut short = frame.slice(..at).to_vec();
            short[..4].copy_from_slice(&(at as u32).to_be_bytes());
            check(&Bytes::from(short))?;
        }
    }

    fn check(frame: &Bytes) -> Result<(), TestCaseError> {
        let decoded = Pdu::decode(frame.clone());
        let resp_head = SubmitRespHead::read(frame);
        match (SubmitHead::read(frame), &decoded) {
            (Some(head), Ok(pdu)) => {
                let Body::SubmitSm(sm) = &pdu.body else {
                    return Err(TestCaseError::fail("not a submit_sm"));
                };
                prop_assert_eq!(head.sequence_number, pdu.sequence_number);
                prop_assert_eq!(&head.source, &sm.source());
                prop_assert_eq!(head.registered_delivery, sm.registered_delivery);
            }
            (None, Ok(pdu)) => prop_assert!(!matches!(pdu.body, Body::SubmitSm(_))),
            (Some(head), Err(e)) => {
                return Err(TestCaseError::fail(format!("head {head:?} but {e}")))
            }
            (None, Err(_)) => {}
        }
        match (resp_head, &decoded) {
            (Some(head), Ok(pdu)) => {
                let Body::SubmitSmResp(r) = &pdu.body else {
                    return Err(TestCaseError::fail("not a submit_sm_resp"));
                };
                prop_assert_eq!(head.sequence_number, pdu.sequence_number);
                prop_assert_eq!(head.command_status, pdu.command_status);
                let id = r.message_id.clone().filter(|m| !m.is_empty());
                prop_assert_eq!(head.message_id, id);
            }
            (None, Ok(pdu)) => prop_assert!(!matches!(pdu.body, Body::SubmitSmResp(_))),
            (Some(head), Err(e)) => {
                return Err(TestCaseError::fail(format!("head {head:?} but {e}")))
            }
            (None, Err(_)) => {}
        }
        Ok(())
    }
}
