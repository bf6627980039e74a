//! Semantic checks that the decoder deliberately leaves out (SMPP34.md §2
//! "Decoder policy"): C-string maximum lengths, time field sizes,
//! sm_length <= 254, destination counts and the lengths of the TLVs optgate
//! interprets. Each failure names the command_status to answer with.

use bytes::Bytes;

use super::status as st;
use super::tlv::{tags, Tlvs};
use super::Pdu;

/// A PDU that decodes but breaks an SMPP 3.4 limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason} (command_status {status:#x})")]
pub struct ValidationError {
    /// Offending field or TLV name.
    pub field: &'static str,
    /// Short reason.
    pub reason: &'static str,
    /// The command_status to answer with (e.g. ESME_RINVSRCADR).
    pub status: u32,
}

/// A body (or a group inside one) whose fields have SMPP 3.4 limits
/// (generated for every body by `body!` in `layout.rs`).
pub(crate) trait Check {
    /// The first broken limit, in wire order.
    fn check(&self) -> Result<(), ValidationError>;
}

type Checked = Result<(), ValidationError>;

pub(super) fn fail(field: &'static str, reason: &'static str, status: u32) -> Checked {
    Err(ValidationError {
        field,
        reason,
        status,
    })
}

/// `max` counts the NUL, as in the spec's `C(n)`.
pub(super) fn cstr(field: &'static str, v: &[u8], max: usize, status: u32) -> Checked {
    if v.len() >= max {
        return fail(field, "longer than the spec maximum", status);
    }
    if v.contains(&0) {
        return fail(field, "contains a NUL", status);
    }
    Ok(())
}

/// A time field is empty (`00`) or exactly 16 characters.
pub(super) fn time(field: &'static str, v: &[u8], status: u32) -> Checked {
    if v.is_empty() || v.len() == 16 {
        Ok(())
    } else {
        fail(field, "time must be empty or 16 characters", status)
    }
}

pub(super) fn short_message(v: &Bytes) -> Checked {
    if v.len() > 254 {
        return fail("short_message", "over 254 octets", st::ESME_RINVMSGLEN);
    }
    Ok(())
}

pub(super) fn tlvs(t: &Tlvs) -> Checked {
    const FIXED: [(u16, usize, &str); 9] = [
        (tags::MESSAGE_STATE, 1, "message_state"),
        (tags::SAR_MSG_REF_NUM, 2, "sar_msg_ref_num"),
        (tags::SAR_TOTAL_SEGMENTS, 1, "sar_total_segments"),
        (tags::SAR_SEGMENT_SEQNUM, 1, "sar_segment_seqnum"),
        (tags::SC_INTERFACE_VERSION, 1, "sc_interface_version"),
        (tags::USER_MESSAGE_REFERENCE, 2, "user_message_reference"),
        (tags::SOURCE_PORT, 2, "source_port"),
        (tags::DESTINATION_PORT, 2, "destination_port"),
        (tags::NETWORK_ERROR_CODE, 3, "network_error_code"),
    ];
    for tlv in t {
        if let Some((_, len, name)) = FIXED.iter().find(|(tag, _, _)| *tag == tlv.tag) {
            if tlv.value.len() != *len {
                return fail(name, "wrong TLV length", st::ESME_RINVPARLEN);
            }
        }
        if tlv.tag == tags::RECEIPTED_MESSAGE_ID
            && (tlv.value.len() > 65 || tlv.value.last() != Some(&0))
        {
            return fail("receipted_message_id", "not a C(65)", st::ESME_RINVPARLEN);
        }
    }
    let sar = [
        tags::SAR_MSG_REF_NUM,
        tags::SAR_TOTAL_SEGMENTS,
        tags::SAR_SEGMENT_SEQNUM,
    ];
    let present = sar.iter().filter(|tag| t.contains(**tag)).count();
    if present != 0 && present != sar.len() {
        return fail(
            "sar_*",
            "SAR TLVs must come together",
            st::ESME_RMISSINGOPTPARAM,
        );
    }
    Ok(())
}

impl Pdu {
    /// Checks SMPP 3.4 limits the decoder does not enforce (each field's
    /// limit is declared with it in `bodies.rs`). `Err` carries the field
    /// and the command_status to answer a request with.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.body.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{
        Body, DestAddress, MessageIdResp, QuerySmResp, QueryState, Sm, SubmitMulti,
        SubmitMultiResp, Text, UnsuccessSme,
    };

    fn submit(f: impl FnOnce(&mut Sm)) -> Pdu {
        let mut s = Sm {
            source_addr: Text::from_static(b"12345"),
            destination_addr: Text::from_static(b"447700900123"),
            short_message: Bytes::from_static(b"hi"),
            ..Sm::default()
        };
        f(&mut s);
        Pdu::new(1, Body::SubmitSm(Box::new(s)))
    }

    #[test]
    fn names_the_status_of_each_broken_limit() {
        assert_eq!(submit(|_| ()).validate(), Ok(()));
        let status = |p: Pdu| p.validate().unwrap_err().status;
        assert_eq!(
            status(submit(|s| s.source_addr = Text::from(vec![b'1'; 21]))),
            st::ESME_RINVSRCADR
        );
        assert_eq!(
            status(submit(|s| s.destination_addr = Text::from(vec![b'1'; 30]))),
            st::ESME_RINVDSTADR
        );
        assert_eq!(
            status(submit(|s| s.validity_period = Text::from_static(b"0101"))),
            st::ESME_RINVEXPIRY
        );
        assert_eq!(
            status(submit(|s| s.short_message = Bytes::from(vec![0; 255]))),
            st::ESME_RINVMSGLEN
        );
        assert_eq!(
            status(submit(|s| s.tlvs.set_u16(tags::SAR_MSG_REF_NUM, 7))),
            st::ESME_RMISSINGOPTPARAM
        );
        assert_eq!(
            status(submit(|s| s.tlvs.push(tags::MESSAGE_STATE, vec![1, 2]))),
            st::ESME_RINVPARLEN
        );
        // 20 characters is the C(21) maximum and is fine.
        assert_eq!(
            submit(|s| s.source_addr = Text::from(vec![b'1'; 20])).validate(),
            Ok(())
        );
        let multi = Pdu::new(1, Body::SubmitMulti(Box::default()));
        assert_eq!(status(multi), st::ESME_RINVNUMDESTS);
    }

    #[test]
    fn optional_tails_and_lists_are_checked_from_their_declaration() {
        let check = |b: Body| Pdu::new(1, b).validate().map_err(|e| (e.field, e.status));
        let long = || Bytes::from(vec![b'9'; 65]);
        // Header-only responses have nothing to check.
        assert_eq!(check(Body::QuerySmResp(Box::default())), Ok(()));
        assert_eq!(check(Body::SubmitSmResp(MessageIdResp::default())), Ok(()));
        assert_eq!(
            check(Body::SubmitSmResp(MessageIdResp::new(long()))),
            Err(("message_id", st::ESME_RINVMSGID))
        );
        let q = QuerySmResp {
            message_id: Some(Text::from_static(b"42")),
            state: Some(QueryState {
                final_date: Text::from_static(b"2611"),
                ..QueryState::default()
            }),
            ..QuerySmResp::default()
        };
        assert_eq!(
            check(Body::QuerySmResp(Box::new(q))),
            Err(("final_date", st::ESME_RINVPARLEN))
        );
        let m = SubmitMultiResp {
            message_id: Some(Text::from_static(b"42")),
            unsuccess_smes: Some(vec![UnsuccessSme {
                destination_addr: Text::from(vec![b'1'; 21]),
                ..UnsuccessSme::default()
            }]),
            ..SubmitMultiResp::default()
        };
        assert_eq!(
            check(Body::SubmitMultiResp(Box::new(m))),
            Err(("destination_addr", st::ESME_RINVDSTADR))
        );
        let multi = |dests: Vec<DestAddress>| {
            Body::SubmitMulti(Box::new(SubmitMulti {
                dests,
                ..SubmitMulti::default()
            }))
        };
        let sme = DestAddress::Sme {
            ton: 1,
            npi: 1,
            addr: Text::from_static(b"447700900123"),
        };
        assert_eq!(check(multi(vec![sme.clone(); 254])), Ok(()));
        assert_eq!(
            check(multi(vec![sme; 255])),
            Err(("number_of_dests", st::ESME_RINVNUMDESTS))
        );
        assert_eq!(
            check(multi(vec![DestAddress::DistributionList(long().into())])),
            Err(("dl_name", st::ESME_RINVDLNAME))
        );
    }

    #[test]
    fn a_none_ends_the_body_and_its_length() {
        // message_id present, no unsuccess list: the TLVs after it are not
        // written, and the length counted is what is written.
        let mut m = SubmitMultiResp {
            message_id: Some(Text::from_static(b"42")),
            ..SubmitMultiResp::default()
        };
        m.tlvs.set_u8(tags::MESSAGE_STATE, 2);
        let pdu = Pdu::new(1, Body::SubmitMultiResp(Box::new(m)));
        let bytes = pdu.to_bytes();
        assert_eq!(bytes.len(), pdu.encoded_len());
        assert_eq!(&bytes[16..], b"42\0");
        let none = Pdu::new(2, Body::SubmitMultiResp(Box::default()));
        assert_eq!(none.to_bytes().len(), 16);
    }
}
