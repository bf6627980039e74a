//! nom decoders over one length-checked frame.
//!
//! Every parser runs on the body slice only, with nom's `complete` parsers,
//! so running out of input is an error, never a request for more. Variable
//! fields become `Bytes` slices of the frame (no copy, no allocation).

use bytes::Bytes;
use nom::bytes::complete::{take, take_till};
use nom::number::complete::{be_u16, be_u32, be_u8};

use super::bodies::*;
use super::command as cmd;
use super::error::DecodeErrorKind as Kind;
use super::tlv::{Tlv, Tlvs};
use super::Body;

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// A cursor over the body of one frame.
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// `body` must be a sub-slice of `frame`.
    pub(crate) fn new(frame: &'a Bytes, body: &'a [u8]) -> Reader<'a> {
        Reader { frame, rest: body }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    // Zero-copy: the returned Bytes shares the frame's buffer.
    fn share(&self, s: &[u8]) -> Bytes {
        if s.is_empty() {
            Bytes::new()
        } else {
            self.frame.slice_ref(s)
        }
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, Kind> {
        let (rest, v) = be_u8::<_, NomError>(self.rest).map_err(|_| Kind::Truncated { field })?;
        self.rest = rest;
        Ok(v)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, Kind> {
        let (rest, v) = be_u32::<_, NomError>(self.rest).map_err(|_| Kind::Truncated { field })?;
        self.rest = rest;
        Ok(v)
    }

    /// A C-string without its NUL. Any length is accepted as long as the
    /// NUL is inside the body; maximum lengths are `validate()`'s job.
    fn cstr(&mut self, field: &'static str) -> Result<Bytes, Kind> {
        // A plain scan beats a SIMD search on strings this short.
        let (rest, s) = take_till::<_, _, NomError>(|b| b == 0)(self.rest)
            .map_err(|_| Kind::UnterminatedCString { field })?;
        // `rest` is empty when no NUL was found before the body's end.
        let Some(after_nul) = rest.get(1..) else {
            return Err(Kind::UnterminatedCString { field });
        };
        self.rest = after_nul;
        Ok(self.share(s))
    }

    fn opt_cstr(&mut self, field: &'static str) -> Result<Option<Bytes>, Kind> {
        if self.is_empty() {
            Ok(None)
        } else {
            self.cstr(field).map(Some)
        }
    }

    /// sm_length followed by that many octets of short_message.
    fn short_message(&mut self) -> Result<Bytes, Kind> {
        let sm_length = self.u8("sm_length")?;
        let available = self.rest.len();
        let (rest, s) = take::<_, _, NomError>(sm_length)(self.rest).map_err(|_| {
            Kind::ShortMessageOverrun {
                sm_length,
                available,
            }
        })?;
        self.rest = rest;
        Ok(self.share(s))
    }

    /// TLVs until the body is exhausted.
    fn tlvs(&mut self) -> Result<Tlvs, Kind> {
        let mut out = Vec::new();
        while !self.rest.is_empty() {
            if self.rest.len() < 4 {
                return Err(Kind::TrailingBytes {
                    len: self.rest.len(),
                });
            }
            let (rest, tag) =
                be_u16::<_, NomError>(self.rest).map_err(|_| Kind::Truncated { field: "tlv" })?;
            let (rest, length) =
                be_u16::<_, NomError>(rest).map_err(|_| Kind::Truncated { field: "tlv" })?;
            let available = rest.len();
            let (rest, value) =
                take::<_, _, NomError>(length)(rest).map_err(|_| Kind::TlvOverrun {
                    tag,
                    length,
                    available,
                })?;
            self.rest = rest;
            out.push(Tlv {
                tag,
                value: self.share(value),
            });
        }
        Ok(Tlvs(out))
    }

    fn header_only(&self, body: Body) -> Result<Body, Kind> {
        if self.is_empty() {
            Ok(body)
        } else {
            Err(Kind::UnexpectedBody {
                len: self.rest.len(),
            })
        }
    }
}

/// Decodes the body of `command_id` from `r`, consuming all of it.
pub(crate) fn body(command_id: u32, r: &mut Reader<'_>) -> Result<Body, Kind> {
    Ok(match command_id {
        cmd::GENERIC_NACK => r.header_only(Body::GenericNack)?,
        cmd::BIND_RECEIVER => Body::BindReceiver(Box::new(bind(r)?)),
        cmd::BIND_TRANSMITTER => Body::BindTransmitter(Box::new(bind(r)?)),
        cmd::BIND_TRANSCEIVER => Body::BindTransceiver(Box::new(bind(r)?)),
        cmd::BIND_RECEIVER_RESP => Body::BindReceiverResp(bind_resp(r)?),
        cmd::BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(bind_resp(r)?),
        cmd::BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(bind_resp(r)?),
        cmd::OUTBIND => Body::Outbind(Box::new(Outbind {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            tlvs: r.tlvs()?,
        })),
        cmd::UNBIND => r.header_only(Body::Unbind)?,
        cmd::UNBIND_RESP => r.header_only(Body::UnbindResp)?,
        cmd::ENQUIRE_LINK => r.header_only(Body::EnquireLink)?,
        cmd::ENQUIRE_LINK_RESP => r.header_only(Body::EnquireLinkResp)?,
        cmd::CANCEL_SM_RESP => r.header_only(Body::CancelSmResp)?,
        cmd::REPLACE_SM_RESP => r.header_only(Body::ReplaceSmResp)?,
        cmd::SUBMIT_SM => Body::SubmitSm(Box::new(sm(r)?)),
        cmd::DELIVER_SM => Body::DeliverSm(Box::new(sm(r)?)),
        cmd::SUBMIT_SM_RESP => Body::SubmitSmResp(message_id_resp(r)?),
        cmd::DELIVER_SM_RESP => Body::DeliverSmResp(message_id_resp(r)?),
        cmd::DATA_SM_RESP => Body::DataSmResp(message_id_resp(r)?),
        cmd::SUBMIT_MULTI => Body::SubmitMulti(Box::new(submit_multi(r)?)),
        cmd::SUBMIT_MULTI_RESP => Body::SubmitMultiResp(Box::new(submit_multi_resp(r)?)),
        cmd::DATA_SM => Body::DataSm(Box::new(data_sm(r)?)),
        cmd::QUERY_SM => Body::QuerySm(Box::new(QuerySm {
            message_id: r.cstr("message_id")?,
            source_addr_ton: r.u8("source_addr_ton")?,
            source_addr_npi: r.u8("source_addr_npi")?,
            source_addr: r.cstr("source_addr")?,
            tlvs: r.tlvs()?,
        })),
        cmd::QUERY_SM_RESP => Body::QuerySmResp(Box::new(query_sm_resp(r)?)),
        cmd::CANCEL_SM => Body::CancelSm(Box::new(cancel_sm(r)?)),
        cmd::REPLACE_SM => Body::ReplaceSm(Box::new(replace_sm(r)?)),
        cmd::ALERT_NOTIFICATION => Body::AlertNotification(Box::new(alert_notification(r)?)),
        other => return Err(Kind::UnknownCommand(other)),
    })
}

fn bind(r: &mut Reader<'_>) -> Result<Bind, Kind> {
    Ok(Bind {
        system_id: r.cstr("system_id")?,
        password: r.cstr("password")?,
        system_type: r.cstr("system_type")?,
        interface_version: r.u8("interface_version")?,
        addr_ton: r.u8("addr_ton")?,
        addr_npi: r.u8("addr_npi")?,
        address_range: r.cstr("address_range")?,
        tlvs: r.tlvs()?,
    })
}

fn bind_resp(r: &mut Reader<'_>) -> Result<BindResp, Kind> {
    Ok(BindResp {
        system_id: r.opt_cstr("system_id")?,
        tlvs: r.tlvs()?,
    })
}

fn message_id_resp(r: &mut Reader<'_>) -> Result<MessageIdResp, Kind> {
    Ok(MessageIdResp {
        message_id: r.opt_cstr("message_id")?,
        tlvs: r.tlvs()?,
    })
}

fn sm(r: &mut Reader<'_>) -> Result<Sm, Kind> {
    Ok(Sm {
        service_type: r.cstr("service_type")?,
        source_addr_ton: r.u8("source_addr_ton")?,
        source_addr_npi: r.u8("source_addr_npi")?,
        source_addr: r.cstr("source_addr")?,
        dest_addr_ton: r.u8("dest_addr_ton")?,
        dest_addr_npi: r.u8("dest_addr_npi")?,
        destination_addr: r.cstr("destination_addr")?,
        esm_class: r.u8("esm_class")?,
        protocol_id: r.u8("protocol_id")?,
        priority_flag: r.u8("priority_flag")?,
        schedule_delivery_time: r.cstr("schedule_delivery_time")?,
        validity_period: r.cstr("validity_period")?,
        registered_delivery: r.u8("registered_delivery")?,
        replace_if_present_flag: r.u8("replace_if_present_flag")?,
        data_coding: r.u8("data_coding")?,
        sm_default_msg_id: r.u8("sm_default_msg_id")?,
        short_message: r.short_message()?,
        tlvs: r.tlvs()?,
    })
}

fn dest_address(r: &mut Reader<'_>) -> Result<DestAddress, Kind> {
    match r.u8("dest_flag")? {
        1 => Ok(DestAddress::Sme {
            ton: r.u8("dest_addr_ton")?,
            npi: r.u8("dest_addr_npi")?,
            addr: r.cstr("destination_addr")?,
        }),
        2 => Ok(DestAddress::DistributionList(r.cstr("dl_name")?)),
        flag => Err(Kind::InvalidDestFlag(flag)),
    }
}

fn submit_multi(r: &mut Reader<'_>) -> Result<SubmitMulti, Kind> {
    let service_type = r.cstr("service_type")?;
    let source_addr_ton = r.u8("source_addr_ton")?;
    let source_addr_npi = r.u8("source_addr_npi")?;
    let source_addr = r.cstr("source_addr")?;
    let n = r.u8("number_of_dests")?;
    let dests = (0..n)
        .map(|_| dest_address(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SubmitMulti {
        service_type,
        source_addr_ton,
        source_addr_npi,
        source_addr,
        dests,
        esm_class: r.u8("esm_class")?,
        protocol_id: r.u8("protocol_id")?,
        priority_flag: r.u8("priority_flag")?,
        schedule_delivery_time: r.cstr("schedule_delivery_time")?,
        validity_period: r.cstr("validity_period")?,
        registered_delivery: r.u8("registered_delivery")?,
        replace_if_present_flag: r.u8("replace_if_present_flag")?,
        data_coding: r.u8("data_coding")?,
        sm_default_msg_id: r.u8("sm_default_msg_id")?,
        short_message: r.short_message()?,
        tlvs: r.tlvs()?,
    })
}

fn unsuccess_sme(r: &mut Reader<'_>) -> Result<UnsuccessSme, Kind> {
    Ok(UnsuccessSme {
        dest_addr_ton: r.u8("dest_addr_ton")?,
        dest_addr_npi: r.u8("dest_addr_npi")?,
        destination_addr: r.cstr("destination_addr")?,
        error_status_code: r.u32("error_status_code")?,
    })
}

fn submit_multi_resp(r: &mut Reader<'_>) -> Result<SubmitMultiResp, Kind> {
    let message_id = r.opt_cstr("message_id")?;
    let unsuccess_smes = if r.is_empty() {
        None
    } else {
        let n = r.u8("no_unsuccess")?;
        Some(
            (0..n)
                .map(|_| unsuccess_sme(r))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(SubmitMultiResp {
        message_id,
        unsuccess_smes,
        tlvs: r.tlvs()?,
    })
}

fn data_sm(r: &mut Reader<'_>) -> Result<DataSm, Kind> {
    Ok(DataSm {
        service_type: r.cstr("service_type")?,
        source_addr_ton: r.u8("source_addr_ton")?,
        source_addr_npi: r.u8("source_addr_npi")?,
        source_addr: r.cstr("source_addr")?,
        dest_addr_ton: r.u8("dest_addr_ton")?,
        dest_addr_npi: r.u8("dest_addr_npi")?,
        destination_addr: r.cstr("destination_addr")?,
        esm_class: r.u8("esm_class")?,
        registered_delivery: r.u8("registered_delivery")?,
        data_coding: r.u8("data_coding")?,
        tlvs: r.tlvs()?,
    })
}

fn query_sm_resp(r: &mut Reader<'_>) -> Result<QuerySmResp, Kind> {
    let message_id = r.opt_cstr("message_id")?;
    let state = if r.is_empty() {
        None
    } else {
        Some(QueryState {
            final_date: r.cstr("final_date")?,
            message_state: r.u8("message_state")?,
            error_code: r.u8("error_code")?,
        })
    };
    Ok(QuerySmResp {
        message_id,
        state,
        tlvs: r.tlvs()?,
    })
}

fn cancel_sm(r: &mut Reader<'_>) -> Result<CancelSm, Kind> {
    Ok(CancelSm {
        service_type: r.cstr("service_type")?,
        message_id: r.cstr("message_id")?,
        source_addr_ton: r.u8("source_addr_ton")?,
        source_addr_npi: r.u8("source_addr_npi")?,
        source_addr: r.cstr("source_addr")?,
        dest_addr_ton: r.u8("dest_addr_ton")?,
        dest_addr_npi: r.u8("dest_addr_npi")?,
        destination_addr: r.cstr("destination_addr")?,
        tlvs: r.tlvs()?,
    })
}

fn replace_sm(r: &mut Reader<'_>) -> Result<ReplaceSm, Kind> {
    Ok(ReplaceSm {
        message_id: r.cstr("message_id")?,
        source_addr_ton: r.u8("source_addr_ton")?,
        source_addr_npi: r.u8("source_addr_npi")?,
        source_addr: r.cstr("source_addr")?,
        schedule_delivery_time: r.cstr("schedule_delivery_time")?,
        validity_period: r.cstr("validity_period")?,
        registered_delivery: r.u8("registered_delivery")?,
        sm_default_msg_id: r.u8("sm_default_msg_id")?,
        short_message: r.short_message()?,
        tlvs: r.tlvs()?,
    })
}

fn alert_notification(r: &mut Reader<'_>) -> Result<AlertNotification, Kind> {
    Ok(AlertNotification {
        source_addr_ton: r.u8("source_addr_ton")?,
        source_addr_npi: r.u8("source_addr_npi")?,
        source_addr: r.cstr("source_addr")?,
        esme_addr_ton: r.u8("esme_addr_ton")?,
        esme_addr_npi: r.u8("esme_addr_npi")?,
        esme_addr: r.cstr("esme_addr")?,
        tlvs: r.tlvs()?,
    })
}
