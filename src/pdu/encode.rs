//! Encoders: each body knows its exact wire length and writes itself with
//! `BufMut`, so a PDU is written in one pass into a pre-reserved buffer.
//!
//! Encoding never fails and never panics. Values the wire cannot carry are
//! cut to fit so that every length field stays truthful: short_message to
//! 255 octets, lists to 255 entries, TLV values to 65535 octets. Call
//! `Pdu::validate` first to refuse such PDUs instead.

use bytes::{BufMut, Bytes};

use super::bodies::*;
use super::tlv::Tlvs;
use super::Body;

pub(super) const MAX_U8_LEN: usize = u8::MAX as usize;

/// Exact wire length and writer of one body.
pub(crate) trait Wire {
    fn wire_len(&self) -> usize;
    fn put<B: BufMut>(&self, dst: &mut B);
}

pub(super) fn cstr_len(s: &Bytes) -> usize {
    s.len() + 1
}

pub(super) fn put_cstr<B: BufMut>(dst: &mut B, s: &Bytes) {
    dst.put_slice(s);
    dst.put_u8(0);
}

pub(super) fn sm_len(s: &Bytes) -> usize {
    1 + s.len().min(MAX_U8_LEN)
}

pub(super) fn put_sm<B: BufMut>(dst: &mut B, s: &Bytes) {
    let n = s.len().min(MAX_U8_LEN);
    dst.put_u8(n as u8);
    dst.put_slice(&s[..n]);
}

impl Wire for Tlvs {
    fn wire_len(&self) -> usize {
        self.encoded_len()
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        self.encode(dst);
    }
}

impl Wire for BindResp {
    fn wire_len(&self) -> usize {
        self.system_id
            .as_ref()
            .map_or(0, |s| cstr_len(s) + self.tlvs.wire_len())
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        if let Some(s) = &self.system_id {
            put_cstr(dst, s);
            self.tlvs.put(dst);
        }
    }
}

impl Wire for MessageIdResp {
    fn wire_len(&self) -> usize {
        self.message_id
            .as_ref()
            .map_or(0, |s| cstr_len(s) + self.tlvs.wire_len())
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        if let Some(s) = &self.message_id {
            put_cstr(dst, s);
            self.tlvs.put(dst);
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

impl Wire for SubmitMultiResp {
    fn wire_len(&self) -> usize {
        let Some(id) = &self.message_id else { return 0 };
        let Some(list) = &self.unsuccess_smes else {
            return cstr_len(id);
        };
        let list: usize = list
            .iter()
            .take(MAX_U8_LEN)
            .map(|u| 6 + cstr_len(&u.destination_addr))
            .sum();
        cstr_len(id) + 1 + list + self.tlvs.wire_len()
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        let Some(id) = &self.message_id else { return };
        put_cstr(dst, id);
        let Some(list) = &self.unsuccess_smes else {
            return;
        };
        dst.put_u8(list.len().min(MAX_U8_LEN) as u8);
        for u in list.iter().take(MAX_U8_LEN) {
            dst.put_u8(u.dest_addr_ton);
            dst.put_u8(u.dest_addr_npi);
            put_cstr(dst, &u.destination_addr);
            dst.put_u32(u.error_status_code);
        }
        self.tlvs.put(dst);
    }
}

impl Wire for QuerySmResp {
    fn wire_len(&self) -> usize {
        let Some(id) = &self.message_id else { return 0 };
        let Some(st) = &self.state else {
            return cstr_len(id);
        };
        cstr_len(id) + cstr_len(&st.final_date) + 2 + self.tlvs.wire_len()
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        let Some(id) = &self.message_id else { return };
        put_cstr(dst, id);
        let Some(st) = &self.state else { return };
        put_cstr(dst, &st.final_date);
        dst.put_u8(st.message_state);
        dst.put_u8(st.error_code);
        self.tlvs.put(dst);
    }
}

/// Dispatches over the body variants; header-only bodies write nothing.
impl Wire for Body {
    fn wire_len(&self) -> usize {
        use Body::*;
        match self {
            BindTransmitter(b) | BindReceiver(b) | BindTransceiver(b) => b.wire_len(),
            BindTransmitterResp(b) | BindReceiverResp(b) | BindTransceiverResp(b) => b.wire_len(),
            Outbind(b) => b.wire_len(),
            SubmitSm(b) | DeliverSm(b) => b.wire_len(),
            SubmitSmResp(b) | DeliverSmResp(b) | DataSmResp(b) => b.wire_len(),
            SubmitMulti(b) => b.wire_len(),
            SubmitMultiResp(b) => b.wire_len(),
            DataSm(b) => b.wire_len(),
            QuerySm(b) => b.wire_len(),
            QuerySmResp(b) => b.wire_len(),
            CancelSm(b) => b.wire_len(),
            ReplaceSm(b) => b.wire_len(),
            AlertNotification(b) => b.wire_len(),
            Unbind | UnbindResp | GenericNack | CancelSmResp | ReplaceSmResp | EnquireLink
            | EnquireLinkResp => 0,
        }
    }
    fn put<B: BufMut>(&self, dst: &mut B) {
        use Body::*;
        match self {
            BindTransmitter(b) | BindReceiver(b) | BindTransceiver(b) => b.put(dst),
            BindTransmitterResp(b) | BindReceiverResp(b) | BindTransceiverResp(b) => b.put(dst),
            Outbind(b) => b.put(dst),
            SubmitSm(b) | DeliverSm(b) => b.put(dst),
            SubmitSmResp(b) | DeliverSmResp(b) | DataSmResp(b) => b.put(dst),
            SubmitMulti(b) => b.put(dst),
            SubmitMultiResp(b) => b.put(dst),
            DataSm(b) => b.put(dst),
            QuerySm(b) => b.put(dst),
            QuerySmResp(b) => b.put(dst),
            CancelSm(b) => b.put(dst),
            ReplaceSm(b) => b.put(dst),
            AlertNotification(b) => b.put(dst),
            Unbind | UnbindResp | GenericNack | CancelSmResp | ReplaceSmResp | EnquireLink
            | EnquireLinkResp => {}
        }
    }
}
