//! PDU bodies, field for field in wire order (SMPP34.md §2).
//!
//! C-strings are stored WITHOUT their NUL as `Bytes` slices of the received
//! frame; time fields are C-strings kept verbatim (`""` means the one-octet
//! `00`). Response bodies use `Option` so that a header-only response
//! (`None`) and a response carrying an empty C-string (`Some("")`, one `00`
//! octet) both re-encode exactly. Fields after a `None` are not encoded.

use bytes::Bytes;

use super::tlv::{tags, Tlvs};

/// esm_class bits 5–2 value of an SMSC delivery receipt.
pub const ESM_CLASS_RECEIPT: u8 = 0x04;
/// esm_class mask of the message-type bits 5–2.
pub const ESM_CLASS_TYPE_MASK: u8 = 0x3C;
/// esm_class UDH indicator bit.
pub const ESM_CLASS_UDHI: u8 = 0x40;

static EMPTY: Bytes = Bytes::new();

/// bind_transmitter / bind_receiver / bind_transceiver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Bind {
    /// C(16) account name.
    pub system_id: Bytes,
    /// C(9).
    pub password: Bytes,
    /// C(13).
    pub system_type: Bytes,
    /// 0x34 for SMPP 3.4, 0x33 or lower for 3.3, 0x50 from 5.0 clients.
    pub interface_version: u8,
    /// TON of `address_range`.
    pub addr_ton: u8,
    /// NPI of `address_range`.
    pub addr_npi: u8,
    /// C(41) regular expression of served addresses.
    pub address_range: Bytes,
    /// Trailing TLVs (none are defined for binds in 3.4; kept raw).
    pub tlvs: Tlvs,
}

/// bind_*_resp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BindResp {
    /// C(16); `None` for a header-only response.
    pub system_id: Option<Bytes>,
    /// TLVs, typically `sc_interface_version`.
    pub tlvs: Tlvs,
}

/// outbind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Outbind {
    /// C(16).
    pub system_id: Bytes,
    /// C(9).
    pub password: Bytes,
    /// Trailing TLVs (none defined in 3.4; kept raw).
    pub tlvs: Tlvs,
}

/// Shared body of submit_sm and deliver_sm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Sm {
    /// C(6).
    pub service_type: Bytes,
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(21).
    pub source_addr: Bytes,
    /// Destination TON.
    pub dest_addr_ton: u8,
    /// Destination NPI.
    pub dest_addr_npi: u8,
    /// C(21).
    pub destination_addr: Bytes,
    /// Messaging mode, message type, UDHI / reply path bits.
    pub esm_class: u8,
    /// GSM TP-PID.
    pub protocol_id: u8,
    /// 0–3.
    pub priority_flag: u8,
    /// Time field verbatim (`""` = immediate).
    pub schedule_delivery_time: Bytes,
    /// Time field verbatim (`""` = SMSC default).
    pub validity_period: Bytes,
    /// Receipt / acknowledgement request bits.
    pub registered_delivery: u8,
    /// 0 or 1.
    pub replace_if_present_flag: u8,
    /// Alphabet / coding scheme.
    pub data_coding: u8,
    /// Canned message id, 0 if unused.
    pub sm_default_msg_id: u8,
    /// Up to 255 octets (254 in strict 3.4); `sm_length` is its length.
    pub short_message: Bytes,
    /// Optional parameters in wire order.
    pub tlvs: Tlvs,
}

/// submit_sm_resp, deliver_sm_resp and data_sm_resp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MessageIdResp {
    /// C(65); `None` for a header-only response, `Some("")` for a lone `00`.
    pub message_id: Option<Bytes>,
    /// TLVs (data_sm_resp: delivery_failure_reason, network_error_code …).
    pub tlvs: Tlvs,
}

/// data_sm_resp has the same shape as submit_sm_resp.
pub type DataSmResp = MessageIdResp;

/// One submit_multi destination (`dest_flag` 1 or 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    Sme {
        /// TON.
        ton: u8,
        /// NPI.
        npi: u8,
        /// C(21) destination_addr.
        addr: Bytes,
    },
    /// dest_flag 2: C(21) distribution list name.
    DistributionList(Bytes),
}

/// submit_multi.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SubmitMulti {
    /// C(6).
    pub service_type: Bytes,
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(21).
    pub source_addr: Bytes,
    /// number_of_dests destinations (at most 255 on the wire).
    pub dests: Vec<DestAddress>,
    /// As in [`Sm`].
    pub esm_class: u8,
    /// As in [`Sm`].
    pub protocol_id: u8,
    /// As in [`Sm`].
    pub priority_flag: u8,
    /// As in [`Sm`].
    pub schedule_delivery_time: Bytes,
    /// As in [`Sm`].
    pub validity_period: Bytes,
    /// As in [`Sm`].
    pub registered_delivery: u8,
    /// As in [`Sm`].
    pub replace_if_present_flag: u8,
    /// As in [`Sm`].
    pub data_coding: u8,
    /// As in [`Sm`].
    pub sm_default_msg_id: u8,
    /// As in [`Sm`].
    pub short_message: Bytes,
    /// Optional parameters in wire order.
    pub tlvs: Tlvs,
}

/// One destination the SMSC could not accept (submit_multi_resp).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UnsuccessSme {
    /// TON.
    pub dest_addr_ton: u8,
    /// NPI.
    pub dest_addr_npi: u8,
    /// C(21).
    pub destination_addr: Bytes,
    /// The command_status for this destination.
    pub error_status_code: u32,
}

/// submit_multi_resp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SubmitMultiResp {
    /// C(65); `None` for a header-only response.
    pub message_id: Option<Bytes>,
    /// no_unsuccess + list; `None` when the body stops after message_id.
    pub unsuccess_smes: Option<Vec<UnsuccessSme>>,
    /// Trailing TLVs (none defined in 3.4; kept raw).
    pub tlvs: Tlvs,
}

/// data_sm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DataSm {
    /// C(6).
    pub service_type: Bytes,
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(65).
    pub source_addr: Bytes,
    /// Destination TON.
    pub dest_addr_ton: u8,
    /// Destination NPI.
    pub dest_addr_npi: u8,
    /// C(65).
    pub destination_addr: Bytes,
    /// As in [`Sm`].
    pub esm_class: u8,
    /// As in [`Sm`].
    pub registered_delivery: u8,
    /// As in [`Sm`].
    pub data_coding: u8,
    /// Optional parameters; the message travels in `message_payload`.
    pub tlvs: Tlvs,
}

/// query_sm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QuerySm {
    /// C(65).
    pub message_id: Bytes,
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(21).
    pub source_addr: Bytes,
    /// Trailing TLVs (none defined in 3.4; kept raw).
    pub tlvs: Tlvs,
}

/// The fields of query_sm_resp after message_id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QueryState {
    /// Absolute time field verbatim; `""` until the message is final.
    pub final_date: Bytes,
    /// §5 message_state.
    pub message_state: u8,
    /// Network error code, 0 if none.
    pub error_code: u8,
}

/// query_sm_resp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct QuerySmResp {
    /// C(65); `None` for a header-only response.
    pub message_id: Option<Bytes>,
    /// `None` when the body stops after message_id.
    pub state: Option<QueryState>,
    /// Trailing TLVs (none defined in 3.4; kept raw).
    pub tlvs: Tlvs,
}

/// cancel_sm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CancelSm {
    /// C(6).
    pub service_type: Bytes,
    /// C(65); empty = cancel all matching messages.
    pub message_id: Bytes,
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(21).
    pub source_addr: Bytes,
    /// Destination TON.
    pub dest_addr_ton: u8,
    /// Destination NPI.
    pub dest_addr_npi: u8,
    /// C(21).
    pub destination_addr: Bytes,
    /// Trailing TLVs (none defined in 3.4; kept raw).
    pub tlvs: Tlvs,
}

/// replace_sm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ReplaceSm {
    /// C(65).
    pub message_id: Bytes,
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(21).
    pub source_addr: Bytes,
    /// Time verbatim; `""` keeps the original.
    pub schedule_delivery_time: Bytes,
    /// Time verbatim; `""` keeps the original.
    pub validity_period: Bytes,
    /// As in [`Sm`].
    pub registered_delivery: u8,
    /// As in [`Sm`].
    pub sm_default_msg_id: u8,
    /// As in [`Sm`].
    pub short_message: Bytes,
    /// Trailing TLVs (5.0 message_payload; kept raw).
    pub tlvs: Tlvs,
}

/// alert_notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AlertNotification {
    /// Source TON.
    pub source_addr_ton: u8,
    /// Source NPI.
    pub source_addr_npi: u8,
    /// C(65).
    pub source_addr: Bytes,
    /// ESME TON.
    pub esme_addr_ton: u8,
    /// ESME NPI.
    pub esme_addr_npi: u8,
    /// C(65).
    pub esme_addr: Bytes,
    /// TLVs, typically ms_availability_status.
    pub tlvs: Tlvs,
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
    pub fn new(message_id: impl Into<Bytes>) -> MessageIdResp {
        MessageIdResp {
            message_id: Some(message_id.into()),
            tlvs: Tlvs::new(),
        }
    }
}

impl BindResp {
    /// A bind response with `system_id` and, when given, sc_interface_version.
    pub fn new(system_id: impl Into<Bytes>, sc_interface_version: Option<u8>) -> BindResp {
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
