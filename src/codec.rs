//! tokio-util `Decoder`/`Encoder` over [`crate::pdu`].
//!
//! Framing: the first 4 bytes give `command_length`; it is checked against
//! `16..=max_pdu_len` before anything is reserved or parsed, so a hostile
//! length cannot make us allocate. A frame whose body does not decode is
//! consumed and yielded as `Some(Err(DecodeError))` (the session answers it
//! and goes on); only a bad `command_length` loses framing and is a
//! [`CodecError`], which ends the stream.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::pdu::{DecodeError, Pdu, HEADER_LEN};

/// Default cap on command_length: a full 64 KiB message_payload plus the
/// largest mandatory fields and headroom for other TLVs.
pub const DEFAULT_MAX_PDU_LEN: usize = 70_000;

/// Errors that end a stream.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// command_length below 16 or above the configured maximum: framing is
    /// lost, answer generic_nack ESME_RINVCMDLEN and close the connection.
    #[error("bad command_length {command_length}")]
    BadLength {
        /// The command_length read from the stream.
        command_length: u32,
    },
    /// Transport error.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// SMPP framing codec. Decodes to `Result<Pdu, DecodeError>` per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmppCodec {
    max_pdu_len: usize,
}

impl SmppCodec {
    /// A codec refusing frames longer than `max_pdu_len` bytes (header
    /// included). Values below 16 are raised to 16.
    pub fn new(max_pdu_len: usize) -> SmppCodec {
        SmppCodec {
            max_pdu_len: max_pdu_len.max(HEADER_LEN),
        }
    }

    /// The configured maximum frame length.
    pub fn max_pdu_len(&self) -> usize {
        self.max_pdu_len
    }
}

impl Default for SmppCodec {
    fn default() -> SmppCodec {
        SmppCodec::new(DEFAULT_MAX_PDU_LEN)
    }
}

impl SmppCodec {
    /// The next whole frame of `src`, if one has arrived.
    fn frame(&self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        let Some(len_bytes) = src.get(..4) else {
            return Ok(None);
        };
        let mut word = [0u8; 4];
        word.copy_from_slice(len_bytes);
        let command_length = u32::from_be_bytes(word);
        let len = command_length as usize;
        if len < HEADER_LEN || len > self.max_pdu_len {
            return Err(CodecError::BadLength { command_length });
        }
        if src.len() < len {
            // Only now, with the length known to be sane, make room for the
            // rest of the frame so it arrives without repeated growth.
            src.reserve(len - src.len());
            return Ok(None);
        }
        Ok(Some(src.split_to(len).freeze()))
    }
}

impl Decoder for SmppCodec {
    type Item = Result<Pdu, DecodeError>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        Ok(self.frame(src)?.map(Pdu::decode))
    }
}

/// [`SmppCodec`]'s framing alone: each whole frame's bytes (a view of the
/// read buffer, no copy), decoded by the reader when and as far as it needs
/// (see [`crate::pdu::SubmitHead`]). A request that passes unchanged is
/// forwarded as received (see [`Reseq`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec(pub SmppCodec);

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        self.0.frame(src)
    }
}

/// A received frame to write again under a new sequence number: the bytes
/// go out as they came, only the sequence number (bytes 12..16) changes.
#[derive(Debug, Clone, Copy)]
pub struct Reseq<'a> {
    /// The whole frame, header included (at least 16 bytes: the codec
    /// yields no shorter frame).
    pub frame: &'a [u8],
    /// The new sequence number.
    pub sequence_number: u32,
}

impl Encoder<Reseq<'_>> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, r: Reseq<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        let (head, rest) = r.frame.split_at(r.frame.len().min(12));
        dst.reserve(r.frame.len());
        dst.extend_from_slice(head);
        dst.extend_from_slice(&r.sequence_number.to_be_bytes());
        dst.extend_from_slice(rest.get(4..).unwrap_or_default());
        Ok(())
    }
}

/// Appends `pdu` to `dst` (for batching several PDUs into one write).
pub fn encode_into(pdu: &Pdu, dst: &mut BytesMut) {
    pdu.encode(dst);
}

impl Encoder<&Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: &Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        pdu.encode(dst);
        Ok(())
    }
}

impl Encoder<Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        pdu.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{status, Body, DecodeErrorKind, Text};

    #[test]
    fn refuses_bad_lengths_before_allocating() {
        for bad in [0u32, 15, 70_001, u32::MAX] {
            let mut buf = BytesMut::from(&bad.to_be_bytes()[..]);
            let cap = buf.capacity();
            let err = SmppCodec::default().decode(&mut buf).unwrap_err();
            assert!(
                matches!(err, CodecError::BadLength { command_length } if command_length == bad)
            );
            assert_eq!(buf.capacity(), cap, "no reservation for a bad length");
        }
    }

    #[test]
    fn waits_for_partial_frame_and_reserves_the_rest() {
        let bytes = Pdu::new(9, Body::EnquireLink).to_bytes();
        let mut buf = BytesMut::from(&bytes[..10]);
        let mut codec = SmppCodec::default();
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() >= 16);
        buf.extend_from_slice(&bytes[10..]);
        let pdu = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(pdu.sequence_number, 9);
        assert!(buf.is_empty());
    }

    #[test]
    fn frames_come_with_their_bytes_and_go_out_reseqenced() {
        let pdu = Pdu::new(
            7,
            Body::SubmitSm(Box::new(crate::pdu::Sm {
                source_addr: Text::from_static(b"14155550100"),
                destination_addr: Text::from_static(b"15550000001"),
                short_message: bytes::Bytes::from_static(b"hello"),
                ..Default::default()
            })),
        );
        let wire = pdu.to_bytes();
        let mut buf = BytesMut::from(&wire[..]);
        let frame = FrameCodec(SmppCodec::default())
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(Pdu::decode_ref(&frame).unwrap(), pdu);
        assert_eq!(&frame[..], &wire[..]);
        let mut out = BytesMut::new();
        SmppCodec::default()
            .encode(
                Reseq {
                    frame: &frame,
                    sequence_number: 0x0102_0304,
                },
                &mut out,
            )
            .unwrap();
        let mut want = pdu.clone();
        want.sequence_number = 0x0102_0304;
        assert_eq!(&out[..], &want.to_bytes()[..]);
    }

    #[test]
    fn bad_body_is_consumed_and_reported() {
        // enquire_link (header-only) carrying one stray byte, then a good one.
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0, 17, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 4, 0xAA]);
        buf.extend_from_slice(&Pdu::new(5, Body::EnquireLink).to_bytes());
        let mut codec = SmppCodec::default();
        let err = codec.decode(&mut buf).unwrap().unwrap().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnexpectedBody { len: 1 });
        assert_eq!(err.sequence_number, Some(4));
        assert_eq!(err.response().body, Body::EnquireLinkResp);
        assert_eq!(err.response().command_status, status::ESME_RINVCMDLEN);
        let ok = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(ok.sequence_number, 5);
    }
}
