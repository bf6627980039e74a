//! nom decoders over one length-checked frame.
//!
//! Every parser runs on the body slice only, with nom's `complete` parsers,
//! so running out of input is an error, never a request for more.
//! short_message and TLV values become `Bytes` slices of the frame (no
//! copy, no allocation); C-strings become [`Text`](super::Text), copied
//! inline when short (no allocation, and no reference count on the frame
//! to take and release per field).

use bytes::Bytes;
use nom::bytes::complete::{take, take_till};
use nom::number::complete::{be_u16, be_u32, be_u8};

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

    pub(super) fn is_empty(&self) -> bool {
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

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, Kind> {
        let (rest, v) = be_u8::<_, NomError>(self.rest).map_err(|_| Kind::Truncated { field })?;
        self.rest = rest;
        Ok(v)
    }

    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, Kind> {
        let (rest, v) = be_u32::<_, NomError>(self.rest).map_err(|_| Kind::Truncated { field })?;
        self.rest = rest;
        Ok(v)
    }

    /// A C-string without its NUL. Any length is accepted as long as the
    /// NUL is inside the body; maximum lengths are `validate()`'s job.
    pub(super) fn cstr(&mut self, field: &'static str) -> Result<super::Text, Kind> {
        let (from, len) = self.cstr_span(field)?;
        Ok(super::Text::from_frame(self.frame, from, len))
    }

    /// Steps over a C-string.
    pub(super) fn skip_cstr(&mut self, field: &'static str) -> Result<(), Kind> {
        self.cstr_span(field).map(|_| ())
    }

    /// Steps over a C-string: the body from where it starts, and its
    /// length without the NUL.
    fn cstr_span(&mut self, field: &'static str) -> Result<(&'a [u8], usize), Kind> {
        // A plain scan beats a SIMD search on strings this short.
        let from = self.rest;
        let (rest, s) = take_till::<_, _, NomError>(|b| b == 0)(from)
            .map_err(|_| Kind::UnterminatedCString { field })?;
        // `rest` is empty when no NUL was found before the body's end.
        let Some(after_nul) = rest.get(1..) else {
            return Err(Kind::UnterminatedCString { field });
        };
        self.rest = after_nul;
        Ok((from, s.len()))
    }

    /// sm_length followed by that many octets of short_message.
    pub(super) fn short_message(&mut self) -> Result<Bytes, Kind> {
        let s = self.sm_slice()?;
        Ok(self.share(s))
    }

    /// short_message as a slice of the body (no reference count taken).
    pub(super) fn sm_slice(&mut self) -> Result<&'a [u8], Kind> {
        let sm_length = self.u8("sm_length")?;
        let available = self.rest.len();
        let (rest, s) = take::<_, _, NomError>(sm_length)(self.rest).map_err(|_| {
            Kind::ShortMessageOverrun {
                sm_length,
                available,
            }
        })?;
        self.rest = rest;
        Ok(s)
    }

    /// TLVs until the body is exhausted.
    pub(super) fn tlvs(&mut self) -> Result<Tlvs, Kind> {
        let mut out = Vec::new();
        while let Some((tag, value)) = self.next_tlv()? {
            out.push(Tlv {
                tag,
                value: self.share(value),
            });
        }
        Ok(Tlvs(out))
    }

    /// The next TLV's tag and value (a slice of the body); `None` at the
    /// body's end.
    pub(super) fn next_tlv(&mut self) -> Result<Option<(u16, &'a [u8])>, Kind> {
        if self.rest.is_empty() {
            return Ok(None);
        }
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
        let (rest, value) = take::<_, _, NomError>(length)(rest).map_err(|_| Kind::TlvOverrun {
            tag,
            length,
            available,
        })?;
        self.rest = rest;
        Ok(Some((tag, value)))
    }

    pub(super) fn header_only(&self, body: Body) -> Result<Body, Kind> {
        if self.is_empty() {
            Ok(body)
        } else {
            Err(Kind::UnexpectedBody {
                len: self.rest.len(),
            })
        }
    }
}

/// A body read field by field from a [`Reader`] (generated for every body
/// by `body!` in `layout.rs`).
pub(crate) trait Decode: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, Kind>;
}

/// A boxed body decodes as its contents.
impl<T: Decode> Decode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Box<T>, Kind> {
        T::decode(r).map(Box::new)
    }
}
