//! Encoders: each body knows its exact wire length and writes itself with
//! `BufMut`, so a PDU is written in one pass into a pre-reserved buffer.
//!
//! Encoding never fails and never panics. Values the wire cannot carry are
//! cut to fit so that every length field stays truthful: short_message to
//! 255 octets, lists to 255 entries, TLV values to 65535 octets. Call
//! `Pdu::validate` first to refuse such PDUs instead.

use bytes::{BufMut, Bytes};

use super::tlv::Tlvs;

pub(crate) const MAX_U8_LEN: usize = u8::MAX as usize;

/// Exact wire length and writer of one body.
pub(crate) trait Wire {
    fn wire_len(&self) -> usize;
    fn put<B: BufMut>(&self, dst: &mut B);
}

pub(super) fn cstr_len(s: &[u8]) -> usize {
    s.len() + 1
}

pub(super) fn put_cstr<B: BufMut>(dst: &mut B, s: &[u8]) {
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
