//! Pure SMPP 3.4 model: every PDU typed, nom decoders, `BufMut` encoders,
//! TLVs and command_status codes. No tokio, no I/O.
//!
//! Contract: [`Pdu::decode`] is total (any byte string gives a PDU or a
//! typed [`DecodeError`], never a panic) and for every frame it accepts,
//! `Pdu::decode(b)?.to_bytes() == b` (byte-exact round trip).
//!
//! Decoder policy for C-strings: a C-string longer than the spec maximum
//! whose NUL is still inside the body is decoded and round-trips; maximum
//! lengths are checked by [`Pdu::validate`], which names the status to
//! answer (e.g. ESME_RINVSRCADR). A C-string without a NUL before the end of
//! the body is a decode error (ESME_RINVPARLEN).

// First: its macros (`body!`, `pdus!`) are used below and in the modules below.
#[macro_use]
mod layout;

mod address;
mod bodies;
pub mod command;
mod decode;
mod encode;
mod error;
mod head;
mod header;
pub mod receipt;
pub mod status;
mod text;
pub mod tlv;
mod validate;

use bytes::{Bytes, BytesMut};

pub use address::Address;
pub use bodies::*;
pub use command::CommandId;
pub use error::{DecodeError, DecodeErrorKind};
pub use head::{SubmitHead, SubmitRespHead};
pub use header::{peek_header, Header, HEADER_LEN};
pub use status::status_name;
pub use text::Text;
pub use tlv::{tags, NetworkErrorCode, Tlv, Tlvs};
pub use validate::ValidationError;

use encode::Wire;

/// One SMPP PDU: header fields plus a typed body. `command_length` and
/// `command_id` are derived from the body when encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pdu {
    /// Result code (responses); kept as received for requests.
    pub command_status: u32,
    /// Sequence number, echoed by responses. Any value is kept, even 0.
    pub sequence_number: u32,
    /// The typed body; it determines the command_id.
    pub body: Body,
}

// The one list of PDUs: each variant, its payload (declared in `bodies.rs`)
// and its command_id. `Body`, `command_id()`, the decoder's dispatch and the
// length, writer and checks of a whole body are generated from it.
pdus! {
    BindTransmitter(Box<Bind>) = BIND_TRANSMITTER,
    BindReceiver(Box<Bind>) = BIND_RECEIVER,
    BindTransceiver(Box<Bind>) = BIND_TRANSCEIVER,
    BindTransmitterResp(BindResp) = BIND_TRANSMITTER_RESP,
    BindReceiverResp(BindResp) = BIND_RECEIVER_RESP,
    BindTransceiverResp(BindResp) = BIND_TRANSCEIVER_RESP,
    Outbind(Box<Outbind>) = OUTBIND,
    Unbind = UNBIND,
    UnbindResp = UNBIND_RESP,
    GenericNack = GENERIC_NACK,
    SubmitSm(Box<Sm>) = SUBMIT_SM,
    SubmitSmResp(MessageIdResp) = SUBMIT_SM_RESP,
    DeliverSm(Box<Sm>) = DELIVER_SM,
    DeliverSmResp(MessageIdResp) = DELIVER_SM_RESP,
    SubmitMulti(Box<SubmitMulti>) = SUBMIT_MULTI,
    SubmitMultiResp(Box<SubmitMultiResp>) = SUBMIT_MULTI_RESP,
    DataSm(Box<DataSm>) = DATA_SM,
    DataSmResp(DataSmResp) = DATA_SM_RESP,
    QuerySm(Box<QuerySm>) = QUERY_SM,
    QuerySmResp(Box<QuerySmResp>) = QUERY_SM_RESP,
    CancelSm(Box<CancelSm>) = CANCEL_SM,
    CancelSmResp = CANCEL_SM_RESP,
    ReplaceSm(Box<ReplaceSm>) = REPLACE_SM,
    ReplaceSmResp = REPLACE_SM_RESP,
    EnquireLink = ENQUIRE_LINK,
    EnquireLinkResp = ENQUIRE_LINK_RESP,
    AlertNotification(Box<AlertNotification>) = ALERT_NOTIFICATION,
}

impl Body {
    /// The header-only response body for the request `command_id` (e.g.
    /// `SubmitSmResp` with `message_id: None` for SUBMIT_SM). `None` for
    /// ids that have no response: responses, outbind, alert_notification
    /// and unknown ids.
    pub fn resp_for(command_id: u32) -> Option<Body> {
        use command as c;
        Some(match command_id {
            c::BIND_TRANSMITTER => Body::BindTransmitterResp(BindResp::default()),
            c::BIND_RECEIVER => Body::BindReceiverResp(BindResp::default()),
            c::BIND_TRANSCEIVER => Body::BindTransceiverResp(BindResp::default()),
            c::UNBIND => Body::UnbindResp,
            c::SUBMIT_SM => Body::SubmitSmResp(MessageIdResp::default()),
            c::DELIVER_SM => Body::DeliverSmResp(MessageIdResp::default()),
            c::SUBMIT_MULTI => Body::SubmitMultiResp(Box::default()),
            c::DATA_SM => Body::DataSmResp(DataSmResp::default()),
            c::QUERY_SM => Body::QuerySmResp(Box::default()),
            c::CANCEL_SM => Body::CancelSmResp,
            c::REPLACE_SM => Body::ReplaceSmResp,
            c::ENQUIRE_LINK => Body::EnquireLinkResp,
            _ => return None,
        })
    }

    /// True for response bodies (generic_nack included).
    pub fn is_response(&self) -> bool {
        command::is_response(self.command_id())
    }
}

impl Pdu {
    /// A PDU with status 0.
    pub fn new(sequence_number: u32, body: Body) -> Pdu {
        Pdu {
            command_status: status::ESME_ROK,
            sequence_number,
            body,
        }
    }

    /// A response to `req`: echoes its sequence number.
    pub fn response_to(req: &Pdu, command_status: u32, body: Body) -> Pdu {
        Pdu {
            command_status,
            sequence_number: req.sequence_number,
            body,
        }
    }

    /// The header-only `_resp` to `req` with `command_status` (an error
    /// answer), or a generic_nack when `req` has no response type.
    pub fn error_response_to(req: &Pdu, command_status: u32) -> Pdu {
        match Body::resp_for(req.command_id()) {
            Some(body) => Pdu::response_to(req, command_status, body),
            None => Pdu::generic_nack(req.sequence_number, command_status),
        }
    }

    /// A generic_nack.
    pub fn generic_nack(sequence_number: u32, command_status: u32) -> Pdu {
        Pdu {
            command_status,
            sequence_number,
            body: Body::GenericNack,
        }
    }

    /// The command_id, derived from the body.
    pub fn command_id(&self) -> u32 {
        self.body.command_id()
    }

    /// The command as a [`CommandId`], for matches that must name every
    /// command.
    pub fn command(&self) -> CommandId {
        CommandId::from(self.body.command_id())
    }

    /// True for responses (generic_nack included).
    pub fn is_response(&self) -> bool {
        self.body.is_response()
    }

    /// The header this PDU encodes to (command_length computed).
    pub fn header(&self) -> Header {
        Header {
            command_length: u32::try_from(self.encoded_len()).unwrap_or(u32::MAX),
            command_id: self.command_id(),
            command_status: self.command_status,
            sequence_number: self.sequence_number,
        }
    }

    /// Decodes exactly one whole PDU (16-byte header included). The body's
    /// variable fields share `frame`'s buffer. Never panics.
    pub fn decode(frame: Bytes) -> Result<Pdu, DecodeError> {
        Pdu::decode_ref(&frame)
    }

    /// [`Pdu::decode`] for a caller that keeps the frame too (no reference
    /// count taken and given back for the call).
    pub fn decode_ref(frame: &Bytes) -> Result<Pdu, DecodeError> {
        let Some(h) = peek_header(frame) else {
            let command_id = frame
                .get(4..8)
                .and_then(|w| w.try_into().ok())
                .map(u32::from_be_bytes);
            return Err(DecodeError {
                command_id,
                sequence_number: None,
                kind: DecodeErrorKind::ShortFrame { len: frame.len() },
            });
        };
        let err = |kind| DecodeError {
            command_id: Some(h.command_id),
            sequence_number: Some(h.sequence_number),
            kind,
        };
        if h.command_length as usize != frame.len() {
            return Err(err(DecodeErrorKind::LengthMismatch {
                command_length: h.command_length,
                frame_len: frame.len(),
            }));
        }
        let body_slice = frame.get(HEADER_LEN..).unwrap_or_default();
        let mut reader = decode::Reader::new(frame, body_slice);
        let body = decode_body(h.command_id, &mut reader).map_err(err)?;
        Ok(Pdu {
            command_status: h.command_status,
            sequence_number: h.sequence_number,
            body,
        })
    }

    /// Total wire length, header included (the command_length written).
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body.wire_len()
    }

    /// Appends the whole PDU to `dst`, computing command_length.
    pub fn encode(&self, dst: &mut BytesMut) {
        use bytes::BufMut;
        let len = self.encoded_len();
        dst.reserve(len);
        // A PDU over 4 GiB cannot be built from u8/u16-bounded fields in
        // practice; saturate rather than wrap if it ever were.
        dst.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        dst.put_u32(self.command_id());
        dst.put_u32(self.command_status);
        dst.put_u32(self.sequence_number);
        self.body.put(dst);
    }

    /// The whole PDU as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b);
        b.freeze()
    }
}
