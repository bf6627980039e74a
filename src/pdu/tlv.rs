//! Optional parameters (TLVs), SMPP34.md §4.
//!
//! TLVs are kept raw and in wire order, duplicates and unknown tags included,
//! so a PDU re-encodes exactly as it arrived. Typed getters interpret the
//! first occurrence of a tag on demand and return `None` when the tag is
//! absent or its value has the wrong length.

use bytes::{BufMut, Bytes};

/// One optional parameter: a tag and its raw value (a C-string value keeps
/// its NUL here, as on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    /// Parameter tag.
    pub tag: u16,
    /// Raw value; its length is the TLV length field.
    pub value: Bytes,
}

impl Tlv {
    /// A TLV with the given tag and raw value.
    pub fn new(tag: u16, value: impl Into<Bytes>) -> Tlv {
        Tlv {
            tag,
            value: value.into(),
        }
    }

    /// Bytes this TLV takes on the wire (4 + value length, the value being
    /// capped at the 65535 octets a u16 length can describe).
    pub fn encoded_len(&self) -> usize {
        4 + self.value.len().min(usize::from(u16::MAX))
    }

    /// Writes tag, length and value. A value over 65535 octets is truncated
    /// to 65535 so the length field stays truthful.
    pub(crate) fn encode<B: BufMut>(&self, dst: &mut B) {
        let len = self.value.len().min(usize::from(u16::MAX));
        dst.put_u16(self.tag);
        dst.put_u16(len as u16);
        dst.put_slice(&self.value[..len]);
    }
}

/// Network error code TLV value: network type and the network's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkErrorCode {
    /// 1 ANSI-136, 2 IS-95, 3 GSM.
    pub network_type: u8,
    /// Error code specific to that network.
    pub error_code: u16,
}

/// The ordered TLV list of a PDU body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Tlvs(pub Vec<Tlv>);

impl Tlvs {
    /// An empty list (no allocation).
    pub const fn new() -> Tlvs {
        Tlvs(Vec::new())
    }

    /// True when no TLV is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of TLVs, duplicates included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// All TLVs in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Tlv> {
        self.0.iter()
    }

    /// Appends a TLV, even if the tag is already present.
    pub fn push(&mut self, tag: u16, value: impl Into<Bytes>) {
        self.0.push(Tlv::new(tag, value));
    }

    /// Replaces the value of the first TLV with `tag`, or appends one.
    pub fn set(&mut self, tag: u16, value: impl Into<Bytes>) {
        let value = value.into();
        match self.0.iter_mut().find(|t| t.tag == tag) {
            Some(t) => t.value = value,
            None => self.0.push(Tlv { tag, value }),
        }
    }

    /// Sets a one-octet integer TLV.
    pub fn set_u8(&mut self, tag: u16, v: u8) {
        self.set(tag, Bytes::copy_from_slice(&[v]));
    }

    /// Sets a two-octet big-endian integer TLV.
    pub fn set_u16(&mut self, tag: u16, v: u16) {
        self.set(tag, Bytes::copy_from_slice(&v.to_be_bytes()));
    }

    /// Sets a C-string TLV: `text` followed by the NUL terminator.
    pub fn set_cstring(&mut self, tag: u16, text: &[u8]) {
        let mut v = Vec::with_capacity(text.len() + 1);
        v.extend_from_slice(text);
        v.push(0);
        self.set(tag, v);
    }

    /// Removes every TLV with `tag`; returns how many were removed.
    pub fn remove(&mut self, tag: u16) -> usize {
        let before = self.0.len();
        self.0.retain(|t| t.tag != tag);
        before - self.0.len()
    }

    /// Raw value of the first TLV with `tag`.
    pub fn get(&self, tag: u16) -> Option<&Bytes> {
        self.0.iter().find(|t| t.tag == tag).map(|t| &t.value)
    }

    /// True when a TLV with `tag` is present.
    pub fn contains(&self, tag: u16) -> bool {
        self.0.iter().any(|t| t.tag == tag)
    }

    /// First TLV with `tag` read as a one-octet integer.
    pub fn get_u8(&self, tag: u16) -> Option<u8> {
        match self.get(tag)?.as_ref() {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// First TLV with `tag` read as a two-octet big-endian integer.
    pub fn get_u16(&self, tag: u16) -> Option<u16> {
        match self.get(tag)?.as_ref() {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// First TLV with `tag` read as a C-string: the bytes before the first
    /// NUL (or all of them if the sender left the NUL out).
    pub fn get_cstring(&self, tag: u16) -> Option<Bytes> {
        let v = self.get(tag)?;
        Some(v.slice(..cstring_len(v)))
    }

    /// As [`Tlvs::get_cstring`], borrowed: no reference count taken.
    pub fn cstring_ref(&self, tag: u16) -> Option<&[u8]> {
        let v = self.get(tag)?;
        Some(&v[..cstring_len(v)])
    }

    /// `message_payload` (0x0424): the message when it is not in short_message.
    pub fn message_payload(&self) -> Option<&Bytes> {
        self.get(tags::MESSAGE_PAYLOAD)
    }

    /// `receipted_message_id` (0x001E) without its NUL.
    pub fn receipted_message_id(&self) -> Option<Bytes> {
        self.get_cstring(tags::RECEIPTED_MESSAGE_ID)
    }

    /// `message_state` (0x0427), §5 values (2 = DELIVERED …).
    pub fn message_state(&self) -> Option<u8> {
        self.get_u8(tags::MESSAGE_STATE)
    }

    /// `network_error_code` (0x0423): 3 octets, type then error.
    pub fn network_error_code(&self) -> Option<NetworkErrorCode> {
        match self.get(tags::NETWORK_ERROR_CODE)?.as_ref() {
            [t, a, b] => Some(NetworkErrorCode {
                network_type: *t,
                error_code: u16::from_be_bytes([*a, *b]),
            }),
            _ => None,
        }
    }

    /// `sar_msg_ref_num` (0x020C).
    pub fn sar_msg_ref_num(&self) -> Option<u16> {
        self.get_u16(tags::SAR_MSG_REF_NUM)
    }

    /// `sar_total_segments` (0x020E).
    pub fn sar_total_segments(&self) -> Option<u8> {
        self.get_u8(tags::SAR_TOTAL_SEGMENTS)
    }

    /// `sar_segment_seqnum` (0x020F), 1-based.
    pub fn sar_segment_seqnum(&self) -> Option<u8> {
        self.get_u8(tags::SAR_SEGMENT_SEQNUM)
    }

    /// `sc_interface_version` (0x0210) of a bind response.
    pub fn sc_interface_version(&self) -> Option<u8> {
        self.get_u8(tags::SC_INTERFACE_VERSION)
    }

    /// `user_message_reference` (0x0204).
    pub fn user_message_reference(&self) -> Option<u16> {
        self.get_u16(tags::USER_MESSAGE_REFERENCE)
    }

    /// `source_port` (0x020A).
    pub fn source_port(&self) -> Option<u16> {
        self.get_u16(tags::SOURCE_PORT)
    }

    /// `destination_port` (0x020B).
    pub fn destination_port(&self) -> Option<u16> {
        self.get_u16(tags::DESTINATION_PORT)
    }

    /// Bytes the list takes on the wire.
    pub fn encoded_len(&self) -> usize {
        self.0.iter().map(Tlv::encoded_len).sum()
    }

    pub(crate) fn encode<B: BufMut>(&self, dst: &mut B) {
        for t in &self.0 {
            t.encode(dst);
        }
    }
}

impl From<Vec<Tlv>> for Tlvs {
    fn from(v: Vec<Tlv>) -> Tlvs {
        Tlvs(v)
    }
}

impl<'a> IntoIterator for &'a Tlvs {
    type Item = &'a Tlv;
    type IntoIter = std::slice::Iter<'a, Tlv>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Tag numbers of every SMPP 3.4 standard TLV, plus the 5.0 tags seen on 3.4
/// links.
pub mod tags {
    #![allow(missing_docs)]
    pub const DEST_ADDR_SUBUNIT: u16 = 0x0005;
    pub const DEST_NETWORK_TYPE: u16 = 0x0006;
    pub const DEST_BEARER_TYPE: u16 = 0x0007;
    pub const DEST_TELEMATICS_ID: u16 = 0x0008;
    pub const SOURCE_ADDR_SUBUNIT: u16 = 0x000D;
    pub const SOURCE_NETWORK_TYPE: u16 = 0x000E;
    pub const SOURCE_BEARER_TYPE: u16 = 0x000F;
    pub const SOURCE_TELEMATICS_ID: u16 = 0x0010;
    pub const QOS_TIME_TO_LIVE: u16 = 0x0017;
    pub const PAYLOAD_TYPE: u16 = 0x0019;
    pub const ADDITIONAL_STATUS_INFO_TEXT: u16 = 0x001D;
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MS_MSG_WAIT_FACILITIES: u16 = 0x0030;
    pub const PRIVACY_INDICATOR: u16 = 0x0201;
    pub const SOURCE_SUBADDRESS: u16 = 0x0202;
    pub const DEST_SUBADDRESS: u16 = 0x0203;
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    pub const USER_RESPONSE_CODE: u16 = 0x0205;
    pub const SOURCE_PORT: u16 = 0x020A;
    pub const DESTINATION_PORT: u16 = 0x020B;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const LANGUAGE_INDICATOR: u16 = 0x020D;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const CALLBACK_NUM_PRES_IND: u16 = 0x0302;
    pub const CALLBACK_NUM_ATAG: u16 = 0x0303;
    pub const NUMBER_OF_MESSAGES: u16 = 0x0304;
    pub const CALLBACK_NUM: u16 = 0x0381;
    pub const DPF_RESULT: u16 = 0x0420;
    pub const SET_DPF: u16 = 0x0421;
    pub const MS_AVAILABILITY_STATUS: u16 = 0x0422;
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const DELIVERY_FAILURE_REASON: u16 = 0x0425;
    pub const MORE_MESSAGES_TO_SEND: u16 = 0x0426;
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const USSD_SERVICE_OP: u16 = 0x0501;
    pub const DISPLAY_TIME: u16 = 0x1201;
    pub const SMS_SIGNAL: u16 = 0x1203;
    pub const MS_VALIDITY: u16 = 0x1204;
    pub const ALERT_ON_MESSAGE_DELIVERY: u16 = 0x130C;
    pub const ITS_REPLY_TYPE: u16 = 0x1380;
    pub const ITS_SESSION_INFO: u16 = 0x1383;
    /// 5.0 tag, seen on 3.4 links.
    pub const CONGESTION_STATE: u16 = 0x0428;
}

/// The length of a C-string TLV value without its NUL (the whole value when
/// it has none).
fn cstring_len(v: &[u8]) -> usize {
    v.iter().position(|&b| b == 0).unwrap_or(v.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_read_first_occurrence_and_check_length() {
        let mut t = Tlvs::new();
        t.set_cstring(tags::RECEIPTED_MESSAGE_ID, b"abc");
        t.push(tags::MESSAGE_STATE, vec![2]);
        t.push(tags::MESSAGE_STATE, vec![5]);
        t.push(tags::SAR_MSG_REF_NUM, vec![1, 2, 3]);
        t.push(tags::NETWORK_ERROR_CODE, vec![3, 0, 0x22]);
        assert_eq!(t.receipted_message_id().unwrap(), &b"abc"[..]);
        assert_eq!(t.cstring_ref(tags::RECEIPTED_MESSAGE_ID), Some(&b"abc"[..]));
        assert_eq!(
            t.cstring_ref(tags::SAR_MSG_REF_NUM),
            Some(&[1, 2, 3][..]),
            "no NUL: all of it"
        );
        assert_eq!(t.cstring_ref(tags::MESSAGE_PAYLOAD), None);
        assert_eq!(t.get(tags::RECEIPTED_MESSAGE_ID).unwrap(), &b"abc\0"[..]);
        assert_eq!(t.message_state(), Some(2));
        assert_eq!(t.sar_msg_ref_num(), None, "3-octet value is not a u16");
        assert_eq!(
            t.network_error_code(),
            Some(NetworkErrorCode {
                network_type: 3,
                error_code: 0x22
            })
        );
        t.set_u8(tags::MESSAGE_STATE, 8);
        assert_eq!(t.message_state(), Some(8));
        assert_eq!(t.len(), 5);
        assert_eq!(t.remove(tags::MESSAGE_STATE), 2);
        t.set_u16(tags::DESTINATION_PORT, 2948);
        assert_eq!(t.destination_port(), Some(2948));
        assert_eq!(t.source_port(), None);
    }
}
