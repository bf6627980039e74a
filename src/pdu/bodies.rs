//! PDU bodies, field for field in wire order (SMPP34.md §2), each declared
//! once with [`body!`](super::layout) (struct, decode, encode, length and
//! field checks all come from the one table below).
//!
//! C-strings are stored WITHOUT their NUL as [`Text`] (inline when short,
//! else a slice of the received frame); time fields are C-strings kept
//! verbatim (`""` means the one-octet `00`). Response bodies use `Option` so that a header-only response
//! (`None`) and a response carrying an empty C-string (`Some("")`, one `00`
//! octet) both re-encode exactly. Fields after a `None` are not encoded.

use bytes::{BufMut, Bytes};

use super::decode::{Decode, Reader};
use super::encode::{cstr_len, put_cstr, Wire};
use super::error::DecodeErrorKind;
use super::status as st;
use super::text::Text;
use super::tlv::{tags, Tlvs};
use super::validate::{self, Check, ValidationError};

/// esm_class bits 5–2 value of an SMSC delivery receipt.
pub const ESM_CLASS_RECEIPT: u8 = 0x04;
/// esm_class mask of the message-type bits 5–2.
pub const ESM_CLASS_TYPE_MASK: u8 = 0x3C;
/// esm_class UDH indicator bit.
pub const ESM_CLASS_UDHI: u8 = 0x40;

static EMPTY: Bytes = Bytes::new();

body! {
    /// bind_transmitter / bind_receiver / bind_transceiver.
    Bind {
        /// C(16) account name.
        system_id: cstr(16, ESME_RINVSYSID),
        /// C(9).
        password: cstr(9, ESME_RINVPASWD),
        /// C(13).
        system_type: cstr(13, ESME_RINVSYSTYP),
        /// 0x34 for SMPP 3.4, 0x33 or lower for 3.3, 0x50 from 5.0 clients.
        interface_version: u8,
        /// TON of `address_range`.
        addr_ton: u8,
        /// NPI of `address_range`.
        addr_npi: u8,
        /// C(41) regular expression of served addresses.
        address_range: cstr(41, ESME_RINVSRCADR),
        /// Trailing TLVs (none are defined for binds in 3.4; kept raw).
        tlvs: tlvs,
    }

    /// bind_*_resp.
    BindResp {
        /// C(16); `None` for a header-only response.
        system_id: opt(cstr(16, ESME_RINVSYSID)),
        /// TLVs, typically `sc_interface_version`.
        tlvs: tlvs,
    }

    /// outbind.
    Outbind {
        /// C(16).
        system_id: cstr(16, ESME_RINVSYSID),
        /// C(9).
        password: cstr(9, ESME_RINVPASWD),
        /// Trailing TLVs (none defined in 3.4; kept raw).
        tlvs: tlvs,
    }

    /// Shared body of submit_sm and deliver_sm.
    Sm {
        /// C(6).
        service_type: cstr(6, ESME_RINVSERTYP),
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(21).
        source_addr: cstr(21, ESME_RINVSRCADR),
        /// Destination TON.
        dest_addr_ton: u8,
        /// Destination NPI.
        dest_addr_npi: u8,
        /// C(21).
        destination_addr: cstr(21, ESME_RINVDSTADR),
        /// Messaging mode, message type, UDH / reply path bits.
        esm_class: u8,
        /// GSM TP-PID.
        protocol_id: u8,
        /// 0–3.
        priority_flag: u8,
        /// Time field verbatim (`""` = immediate).
        schedule_delivery_time: time(ESME_RINVSCHED),
        /// Time field verbatim (`""` = SMSC default).
        validity_period: time(ESME_RINVEXPIRY),
        /// Receipt / acknowledgement request bits.
        registered_delivery: u8,
        /// 0 or 1.
        replace_if_present_flag: u8,
        /// Alphabet / coding scheme.
        data_coding: u8,
        /// Canned message id, 0 if unused.
        sm_default_msg_id: u8,
        /// Up to 255 octets (254 in strict 3.4); `sm_length` is its length.
        short_message: sm,
        /// Optional parameters in wire order.
        tlvs: tlvs,
    }

    /// submit_sm_resp, deliver_sm_resp and data_sm_resp.
    MessageIdResp {
        /// C(65); `None` for a header-only response, `Some("")` for a lone `00`.
        message_id: opt(cstr(65, ESME_RINVMSGID)),
        /// TLVs (data_sm_resp: delivery_failure_reason, network_error_code …).
        tlvs: tlvs,
    }

    /// submit_multi.
    SubmitMulti {
        /// C(6).
        service_type: cstr(6, ESME_RINVSERTYP),
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(21).
        source_addr: cstr(21, ESME_RINVSRCADR),
        /// number_of_dests destinations (at most 255 on the wire, 254 valid).
        dests: list(number_of_dests, DestAddress, 1..=254, ESME_RINVNUMDESTS),
        /// As in [`Sm`].
        esm_class: u8,
        /// As in [`Sm`].
        protocol_id: u8,
        /// As in [`Sm`].
        priority_flag: u8,
        /// As in [`Sm`].
        schedule_delivery_time: time(ESME_RINVSCHED),
        /// As in [`Sm`].
        validity_period: time(ESME_RINVEXPIRY),
        /// As in [`Sm`].
        registered_delivery: u8,
        /// As in [`Sm`].
        replace_if_present_flag: u8,
        /// As in [`Sm`].
        data_coding: u8,
        /// As in [`Sm`].
        sm_default_msg_id: u8,
        /// As in [`Sm`].
        short_message: sm,
        /// Optional parameters in wire order.
        tlvs: tlvs,
    }

    /// One destination the SMSC could not accept (submit_multi_resp).
    UnsuccessSme {
        /// TON.
        dest_addr_ton: u8,
        /// NPI.
        dest_addr_npi: u8,
        /// C(21).
        destination_addr: cstr(21, ESME_RINVDSTADR),
        /// The command_status for this destination.
        error_status_code: u32,
    }

    /// submit_multi_resp.
    SubmitMultiResp {
        /// C(65); `None` for a header-only response.
        message_id: opt(cstr(65, ESME_RINVMSGID)),
        /// no_unsuccess + list; `None` when the body stops after message_id.
        unsuccess_smes: opt(list(no_unsuccess, UnsuccessSme)),
        /// Trailing TLVs (none defined in 3.4; kept raw).
        tlvs: tlvs,
    }

    /// data_sm.
    DataSm {
        /// C(6).
        service_type: cstr(6, ESME_RINVSERTYP),
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(65).
        source_addr: cstr(65, ESME_RINVSRCADR),
        /// Destination TON.
        dest_addr_ton: u8,
        /// Destination NPI.
        dest_addr_npi: u8,
        /// C(65).
        destination_addr: cstr(65, ESME_RINVDSTADR),
        /// As in [`Sm`].
        esm_class: u8,
        /// As in [`Sm`].
        registered_delivery: u8,
        /// As in [`Sm`].
        data_coding: u8,
        /// Optional parameters; the message travels in `message_payload`.
        tlvs: tlvs,
    }

    /// query_sm.
    QuerySm {
        /// C(65).
        message_id: cstr(65, ESME_RINVMSGID),
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(21).
        source_addr: cstr(21, ESME_RINVSRCADR),
        /// Trailing TLVs (none defined in 3.4; kept raw).
        tlvs: tlvs,
    }

    /// The fields of query_sm_resp after message_id.
    QueryState {
        /// Absolute time field verbatim; `""` until the message is final.
        final_date: time(ESME_RINVPARLEN),
        /// §5 message_state.
        message_state: u8,
        /// Network error code, 0 if none.
        error_code: u8,
    }

    /// query_sm_resp.
    QuerySmResp {
        /// C(65); `None` for a header-only response.
        message_id: opt(cstr(65, ESME_RINVMSGID)),
        /// `None` when the body stops after message_id.
        state: opt(nested(QueryState)),
        /// Trailing TLVs (none defined in 3.4; kept raw).
        tlvs: tlvs,
    }

    /// cancel_sm.
    CancelSm {
        /// C(6).
        service_type: cstr(6, ESME_RINVSERTYP),
        /// C(65); empty = cancel all matching messages.
        message_id: cstr(65, ESME_RINVMSGID),
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(21).
        source_addr: cstr(21, ESME_RINVSRCADR),
        /// Destination TON.
        dest_addr_ton: u8,
        /// Destination NPI.
        dest_addr_npi: u8,
        /// C(21).
        destination_addr: cstr(21, ESME_RINVDSTADR),
        /// Trailing TLVs (none defined in 3.4; kept raw).
        tlvs: tlvs,
    }

    /// replace_sm.
    ReplaceSm {
        /// C(65).
        message_id: cstr(65, ESME_RINVMSGID),
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(21).
        source_addr: cstr(21, ESME_RINVSRCADR),
        /// Time verbatim; `""` keeps the original.
        schedule_delivery_time: time(ESME_RINVSCHED),
        /// Time verbatim; `""` keeps the original.
        validity_period: time(ESME_RINVEXPIRY),
        /// As in [`Sm`].
        registered_delivery: u8,
        /// As in [`Sm`].
        sm_default_msg_id: u8,
        /// As in [`Sm`].
        short_message: sm,
        /// Trailing TLVs (5.0 message_payload; kept raw).
        tlvs: tlvs,
    }

    /// alert_notification.
    AlertNotification {
        /// Source TON.
        source_addr_ton: u8,
        /// Source NPI.
        source_addr_npi: u8,
        /// C(65).
        source_addr: cstr(65, ESME_RINVSRCADR),
        /// ESME TON.
        esme_addr_ton: u8,
        /// ESME NPI.
        esme_addr_npi: u8,
        /// C(65).
        esme_addr: cstr(65, ESME_RINVDSTADR),
        /// TLVs, typically ms_availability_status.
        tlvs: tlvs,
    }
}

/// data_sm_resp has the same shape as submit_sm_resp.
pub type DataSmResp = MessageIdResp;

/// One submit_multi destination (`dest_flag` 1 or 2): the one tagged union
/// of the model, so its reader, writer and check are written here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    Sme {
        /// TON.
        ton: u8,
        /// NPI.
        npi: u8,
        /// C(21) destination_addr.
        addr: Text,
    },
    /// dest_flag 2: C(21) distribution list name.
    DistributionList(Text),
}

impl Decode for DestAddress {
    fn decode(r: &mut Reader<'_>) -> Result<DestAddress, DecodeErrorKind> {
        match r.u8("dest_flag")? {
            1 => Ok(DestAddress::Sme {
                ton: r.u8("dest_addr_ton")?,
                npi: r.u8("dest_addr_npi")?,
                addr: r.cstr("destination_addr")?,
            }),
            2 => Ok(DestAddress::DistributionList(r.cstr("dl_name")?)),
            flag => Err(DecodeErrorKind::InvalidDestFlag(flag)),
        }
    }
}

impl Wire for DestAddress {
    fn wire_len(&self) -> usize {
        match self {
            DestAddress::Sme { addr, .. } => 3 + cstr_len(addr),
            DestAddress::DistributionList(name) => 1 + cstr_len(name),
        }
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        match self {
            DestAddress::Sme { ton, npi, addr } => {
                dst.put_u8(1);
                dst.put_u8(*ton);
                dst.put_u8(*npi);
                put_cstr(dst, addr);
            }
            DestAddress::DistributionList(name) => {
                dst.put_u8(2);
                put_cstr(dst, name);
            }
        }
    }
}

impl Check for DestAddress {
    fn check(&self) -> Result<(), ValidationError> {
        match self {
            DestAddress::Sme { addr, .. } => {
                validate::cstr("destination_addr", addr, 21, st::ESME_RINVDSTADR)
            }
            DestAddress::DistributionList(n) => {
                validate::cstr("dl_name", n, 21, st::ESME_RINVDLNAME)
            }
        }
    }
}

fn is_receipt(esm_class: u8, tlvs: &Tlvs) -> bool {
    esm_class & ESM_CLASS_TYPE_MASK == ESM_CLASS_RECEIPT
        || tlvs.contains(tags::RECEIPTED_MESSAGE_ID)
}

impl Sm {
    /// True for a delivery receipt: esm_class message type 0x04, or a
    /// receipted_message_id TLV.
    pub fn is_receipt(&self) -> bool {
        is_receipt(self.esm_class, &self.tlvs)
    }

    /// True when esm_class says short_message starts with a UDH.
    pub fn udhi(&self) -> bool {
        self.esm_class & ESM_CLASS_UDHI != 0
    }

    /// The message octets: `message_payload` if present, else short_message.
    pub fn message_bytes(&self) -> &Bytes {
        self.tlvs.message_payload().unwrap_or(&self.short_message)
    }
}

impl DataSm {
    /// True for a delivery receipt (see [`Sm::is_receipt`]).
    pub fn is_receipt(&self) -> bool {
        is_receipt(self.esm_class, &self.tlvs)
    }

    /// True when esm_class says the payload starts with a UDH.
    pub fn udhi(&self) -> bool {
        self.esm_class & ESM_CLASS_UDHI != 0
    }

    /// The `message_payload` TLV, or empty when absent.
    pub fn message_bytes(&self) -> &Bytes {
        self.tlvs.message_payload().unwrap_or(&EMPTY)
    }
}

impl MessageIdResp {
    /// A response carrying `message_id` (e.g. a successful submit_sm_resp).
    pub fn new(message_id: impl Into<Text>) -> MessageIdResp {
        MessageIdResp {
            message_id: Some(message_id.into()),
            tlvs: Tlvs::new(),
        }
    }
}

impl BindResp {
    /// A bind response with `system_id` and, when given, sc_interface_version.
    pub fn new(system_id: impl Into<Text>, sc_interface_version: Option<u8>) -> BindResp {
        let mut tlvs = Tlvs::new();
        if let Some(v) = sc_interface_version {
            tlvs.set_u8(tags::SC_INTERFACE_VERSION, v);
        }
        BindResp {
            system_id: Some(system_id.into()),
            tlvs,
        }
    }
}
