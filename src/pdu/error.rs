//! Typed decode errors, each knowing the command_status that answers it.

use super::{command, status, Body, Pdu};

/// What was wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// Fewer than 16 bytes: not even a header.
    #[error("frame of {len} bytes is shorter than the 16-byte header")]
    ShortFrame {
        /// Bytes in the frame.
        len: usize,
    },
    /// The header's command_length disagrees with the frame handed over.
    #[error("command_length {command_length} does not match the {frame_len}-byte frame")]
    LengthMismatch {
        /// command_length from the header.
        command_length: u32,
        /// Actual frame length.
        frame_len: usize,
    },
    /// command_id is not an SMPP 3.4 command.
    #[error("unknown command_id {0:#010x}")]
    UnknownCommand(u32),
    /// A header-only PDU (enquire_link, unbind …) carried body bytes.
    #[error("{len} body bytes on a header-only PDU")]
    UnexpectedBody {
        /// Body bytes found.
        len: usize,
    },
    /// The body ended inside a fixed-size mandatory field.
    #[error("body ends inside mandatory field {field}")]
    Truncated {
        /// Field being read.
        field: &'static str,
    },
    /// A C-string has no NUL before the end of the body.
    #[error("C-string {field} has no NUL before the end of the body")]
    UnterminatedCString {
        /// Field being read.
        field: &'static str,
    },
    /// sm_length claims more octets than the body holds.
    #[error("sm_length {sm_length} runs past the body ({available} bytes left)")]
    ShortMessageOverrun {
        /// The sm_length octet.
        sm_length: u8,
        /// Bytes left in the body.
        available: usize,
    },
    /// A submit_multi dest_flag other than 1 or 2.
    #[error("invalid dest_flag {0}")]
    InvalidDestFlag(u8),
    /// 1–3 bytes after the last TLV: too short for a TLV header.
    #[error("{len} stray bytes after the last TLV")]
    TrailingBytes {
        /// Stray bytes.
        len: usize,
    },
    /// A TLV length runs past the end of the PDU.
    #[error("TLV {tag:#06x} length {length} runs past the body ({available} bytes left)")]
    TlvOverrun {
        /// TLV tag.
        tag: u16,
        /// TLV length field.
        length: u16,
        /// Bytes left for the value.
        available: usize,
    },
}

/// A frame that is not a well-formed SMPP 3.4 PDU. Carries whatever header
/// fields could be read so the right answer can be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (command_id {command_id:?}, sequence_number {sequence_number:?})")]
pub struct DecodeError {
    /// command_id, when the frame had at least 8 bytes.
    pub command_id: Option<u32>,
    /// sequence_number, when the frame had the full 16-byte header.
    pub sequence_number: Option<u32>,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// True when the offending frame's command_id has bit 31 set.
    pub fn is_response(&self) -> bool {
        self.command_id.is_some_and(command::is_response)
    }

    /// The command_status that answers this error:
    /// length problems ESME_RINVCMDLEN, unknown ids ESME_RINVCMDID,
    /// sm_length overrun ESME_RINVMSGLEN, unterminated C-string
    /// ESME_RINVPARLEN, TLV stream problems ESME_RINVOPTPARSTREAM, bad
    /// dest_flag ESME_RINVDESTFLAG.
    pub fn status(&self) -> u32 {
        use DecodeErrorKind as K;
        match self.kind {
            K::ShortFrame { .. }
            | K::LengthMismatch { .. }
            | K::UnexpectedBody { .. }
            | K::Truncated { .. } => status::ESME_RINVCMDLEN,
            K::UnknownCommand(_) => status::ESME_RINVCMDID,
            K::UnterminatedCString { .. } => status::ESME_RINVPARLEN,
            K::ShortMessageOverrun { .. } => status::ESME_RINVMSGLEN,
            K::InvalidDestFlag(_) => status::ESME_RINVDESTFLAG,
            K::TrailingBytes { .. } | K::TlvOverrun { .. } => status::ESME_RINVOPTPARSTREAM,
        }
    }

    /// The PDU to send back: for a known request that has a response, its
    /// header-only `_resp` with [`status`](Self::status) and the echoed
    /// sequence number; otherwise (unknown command, a bad response,
    /// outbind, alert_notification, no readable header) a generic_nack.
    /// An unreadable sequence number is answered with 0.
    ///
    /// Whether to send it is the caller's choice: answering a malformed
    /// *response* (see [`is_response`](Self::is_response)) with a
    /// generic_nack is allowed but can ping-pong with a buggy peer.
    pub fn response(&self) -> Pdu {
        let seq = self.sequence_number.unwrap_or(0);
        let body = match self.kind {
            DecodeErrorKind::UnknownCommand(_) => None,
            _ => self
                .command_id
                .filter(|id| command::expects_response(*id))
                .and_then(Body::resp_for),
        };
        match body {
            Some(body) => Pdu {
                command_status: self.status(),
                sequence_number: seq,
                body,
            },
            None => Pdu::generic_nack(seq, self.status()),
        }
    }
}
