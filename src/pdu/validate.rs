//! Semantic checks that the decoder deliberately leaves out (SMPP34.md §2
//! "Decoder policy"): C-string maximum lengths, time field sizes,
//! sm_length <= 254, destination counts and the lengths of the TLVs optgate
//! interprets. Each failure names the command_status to answer with.

use bytes::Bytes;

use super::bodies::*;
use super::status as st;
use super::tlv::{tags, Tlvs};
use super::{Body, Pdu};

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

type Check = Result<(), ValidationError>;

fn fail(field: &'static str, reason: &'static str, status: u32) -> Check {
    Err(ValidationError {
        field,
        reason,
        status,
    })
}

/// `max` counts the NUL, as in the spec's `C(n)`.
fn cstr(field: &'static str, v: &Bytes, max: usize, status: u32) -> Check {
    if v.len() >= max {
        return fail(field, "longer than the spec maximum", status);
    }
    if v.contains(&0) {
        return fail(field, "contains a NUL", status);
    }
    Ok(())
}

/// A time field is empty (`00`) or exactly 16 characters.
fn time(field: &'static str, v: &Bytes, status: u32) -> Check {
    if v.is_empty() || v.len() == 16 {
        Ok(())
    } else {
        fail(field, "time must be empty or 16 characters", status)
    }
}

fn short_message(v: &Bytes) -> Check {
    if v.len() > 254 {
        return fail("short_message", "over 254 octets", st::ESME_RINVMSGLEN);
    }
    Ok(())
}

fn tlvs(t: &Tlvs) -> Check {
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

fn bind(b: &Bind) -> Check {
    cstr("system_id", &b.system_id, 16, st::ESME_RINVSYSID)?;
    cstr("password", &b.password, 9, st::ESME_RINVPASWD)?;
    cstr("system_type", &b.system_type, 13, st::ESME_RINVSYSTYP)?;
    cstr("address_range", &b.address_range, 41, st::ESME_RINVSRCADR)?;
    tlvs(&b.tlvs)
}

fn sm(s: &Sm) -> Check {
    cstr("service_type", &s.service_type, 6, st::ESME_RINVSERTYP)?;
    cstr("source_addr", &s.source_addr, 21, st::ESME_RINVSRCADR)?;
    cstr(
        "destination_addr",
        &s.destination_addr,
        21,
        st::ESME_RINVDSTADR,
    )?;
    time(
        "schedule_delivery_time",
        &s.schedule_delivery_time,
        st::ESME_RINVSCHED,
    )?;
    time("validity_period", &s.validity_period, st::ESME_RINVEXPIRY)?;
    short_message(&s.short_message)?;
    tlvs(&s.tlvs)
}

fn submit_multi(s: &SubmitMulti) -> Check {
    cstr("service_type", &s.service_type, 6, st::ESME_RINVSERTYP)?;
    cstr("source_addr", &s.source_addr, 21, st::ESME_RINVSRCADR)?;
    if s.dests.is_empty() || s.dests.len() > 254 {
        return fail("number_of_dests", "must be 1..=254", st::ESME_RINVNUMDESTS);
    }
    for d in &s.dests {
        match d {
            DestAddress::Sme { addr, .. } => {
                cstr("destination_addr", addr, 21, st::ESME_RINVDSTADR)?
            }
            DestAddress::DistributionList(n) => cstr("dl_name", n, 21, st::ESME_RINVDLNAME)?,
        }
    }
    time(
        "schedule_delivery_time",
        &s.schedule_delivery_time,
        st::ESME_RINVSCHED,
    )?;
    time("validity_period", &s.validity_period, st::ESME_RINVEXPIRY)?;
    short_message(&s.short_message)?;
    tlvs(&s.tlvs)
}

fn data_sm(d: &DataSm) -> Check {
    cstr("service_type", &d.service_type, 6, st::ESME_RINVSERTYP)?;
    cstr("source_addr", &d.source_addr, 65, st::ESME_RINVSRCADR)?;
    cstr(
        "destination_addr",
        &d.destination_addr,
        65,
        st::ESME_RINVDSTADR,
    )?;
    tlvs(&d.tlvs)
}

fn opt_id(v: &Option<Bytes>, tl: &Tlvs) -> Check {
    if let Some(id) = v {
        cstr("message_id", id, 65, st::ESME_RINVMSGID)?;
    }
    tlvs(tl)
}

fn other(body: &Body) -> Check {
    match body {
        Body::Outbind(o) => {
            cstr("system_id", &o.system_id, 16, st::ESME_RINVSYSID)?;
            cstr("password", &o.password, 9, st::ESME_RINVPASWD)
        }
        Body::QuerySm(q) => {
            cstr("message_id", &q.message_id, 65, st::ESME_RINVMSGID)?;
            cstr("source_addr", &q.source_addr, 21, st::ESME_RINVSRCADR)
        }
        Body::CancelSm(c) => {
            cstr("service_type", &c.service_type, 6, st::ESME_RINVSERTYP)?;
            cstr("message_id", &c.message_id, 65, st::ESME_RINVMSGID)?;
            cstr("source_addr", &c.source_addr, 21, st::ESME_RINVSRCADR)?;
            cstr(
                "destination_addr",
                &c.destination_addr,
                21,
                st::ESME_RINVDSTADR,
            )
        }
        Body::ReplaceSm(r) => {
            cstr("message_id", &r.message_id, 65, st::ESME_RINVMSGID)?;
            cstr("source_addr", &r.source_addr, 21, st::ESME_RINVSRCADR)?;
            time(
                "schedule_delivery_time",
                &r.schedule_delivery_time,
                st::ESME_RINVSCHED,
            )?;
            time("validity_period", &r.validity_period, st::ESME_RINVEXPIRY)?;
            short_message(&r.short_message)
        }
        Body::AlertNotification(a) => {
            cstr("source_addr", &a.source_addr, 65, st::ESME_RINVSRCADR)?;
            cstr("esme_addr", &a.esme_addr, 65, st::ESME_RINVDSTADR)?;
            tlvs(&a.tlvs)
        }
        _ => Ok(()),
    }
}

impl Pdu {
    /// Checks SMPP 3.4 limits the decoder does not enforce. `Err` carries
    /// the field and the command_status to answer a request with.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match &self.body {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => bind(b),
            Body::BindTransmitterResp(b)
            | Body::BindReceiverResp(b)
            | Body::BindTransceiverResp(b) => {
                if let Some(id) = &b.system_id {
                    cstr("system_id", id, 16, st::ESME_RINVSYSID)?;
                }
                tlvs(&b.tlvs)
            }
            Body::SubmitSm(s) | Body::DeliverSm(s) => sm(s),
            Body::SubmitSmResp(r) | Body::DeliverSmResp(r) | Body::DataSmResp(r) => {
                opt_id(&r.message_id, &r.tlvs)
            }
            Body::SubmitMulti(s) => submit_multi(s),
            Body::DataSm(d) => data_sm(d),
            other_body => other(other_body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(f: impl FnOnce(&mut Sm)) -> Pdu {
        let mut s = Sm {
            source_addr: Bytes::from_static(b"12345"),
            destination_addr: Bytes::from_static(b"447700900123"),
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
            status(submit(|s| s.source_addr = Bytes::from(vec![b'1'; 21]))),
            st::ESME_RINVSRCADR
        );
        assert_eq!(
            status(submit(|s| s.destination_addr = Bytes::from(vec![b'1'; 30]))),
            st::ESME_RINVDSTADR
        );
        assert_eq!(
            status(submit(|s| s.validity_period = Bytes::from_static(b"0101"))),
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
            submit(|s| s.source_addr = Bytes::from(vec![b'1'; 20])).validate(),
            Ok(())
        );
        let multi = Pdu::new(1, Body::SubmitMulti(Box::default()));
        assert_eq!(status(multi), st::ESME_RINVNUMDESTS);
    }
}
