//! Allocation-free helpers shared by the simulator and the load generator:
//! in-place framing of a read buffer, header writing, a pacer for fixed
//! rates, message ids and the receipt date format.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::time::Instant;

use crate::pdu::{peek_header, Header, HEADER_LEN};

/// Read buffers start at this size and are topped up to it before each read.
pub const READ_BUF: usize = 256 * 1024;
/// Output a connection gathers before it writes even with input waiting.
pub const GATHER_LIMIT: usize = 64 * 1024;
/// Largest frame either tool accepts; longer ones lose framing.
pub const MAX_FRAME: usize = 70_000;

/// Why framing was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad command_length {0}")]
pub struct BadLength(pub u32);

/// Walks the whole frames at the front of `buf`, calling `f` with each
/// header and frame slice, then drops the consumed bytes. A partial frame
/// stays in `buf` for the next read. Frames are borrowed, never copied.
pub fn for_each_frame<F>(buf: &mut BytesMut, mut f: F) -> Result<(), BadLength>
where
    F: FnMut(Header, &[u8]),
{
    let mut pos = 0;
    let mut result = Ok(());
    while let Some(h) = buf.get(pos..).and_then(peek_header) {
        let len = h.command_length as usize;
        if !(HEADER_LEN..=MAX_FRAME).contains(&len) {
            result = Err(BadLength(h.command_length));
            break;
        }
        let Some(frame) = buf.get(pos..pos + len) else {
            break;
        };
        f(h, frame);
        pos += len;
    }
    bytes::Buf::advance(buf, pos);
    result
}

/// Appends a 16-byte header for a PDU whose body is `body_len` bytes.
pub fn put_header(dst: &mut BytesMut, body_len: usize, command_id: u32, status: u32, seq: u32) {
    let len = u32::try_from(HEADER_LEN + body_len).unwrap_or(u32::MAX);
    dst.put_u32(len);
    dst.put_u32(command_id);
    dst.put_u32(status);
    dst.put_u32(seq);
}

/// Appends a header-only PDU (e.g. enquire_link_resp, an error response).
pub fn put_empty(dst: &mut BytesMut, command_id: u32, status: u32, seq: u32) {
    put_header(dst, 0, command_id, status, seq);
}

/// The (esm_class, registered_delivery) octets of a submit_sm or
/// deliver_sm frame, found by skipping the C-strings before them; `None`
/// if the body is short. Lets the hot paths classify without decoding.
pub fn sm_flags(frame: &[u8]) -> Option<(u8, u8)> {
    let mut pos = HEADER_LEN;
    let skip_cstr = |pos: &mut usize| -> Option<()> {
        let rest = frame.get(*pos..)?;
        *pos += rest.iter().position(|&b| b == 0)? + 1;
        Some(())
    };
    skip_cstr(&mut pos)?; // service_type
    pos += 2;
    skip_cstr(&mut pos)?; // source_addr
    pos += 2;
    skip_cstr(&mut pos)?; // destination_addr
    let esm_class = *frame.get(pos)?;
    pos += 3; // esm_class, protocol_id, priority_flag
    skip_cstr(&mut pos)?; // schedule_delivery_time
    skip_cstr(&mut pos)?; // validity_period
    Some((esm_class, *frame.get(pos)?))
}

/// A 16-hex-digit message id for `n`, written without allocating.
pub fn hex_id(n: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xF) as usize];
    }
    out
}

/// Spreads events evenly at a fixed rate: `due` says how many may go now.
/// A rate of 0 or less means no limit.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    per_sec: f64,
    taken: u64,
}

impl Pacer {
    /// A pacer starting now; the first event is due at once.
    pub fn new(per_sec: f64) -> Pacer {
        Pacer {
            start: Instant::now(),
            per_sec,
            taken: 0,
        }
    }

    /// True when this pacer limits anything.
    pub fn limited(&self) -> bool {
        self.per_sec > 0.0
    }

    /// How many events may be taken at `now` (u64::MAX when unlimited).
    pub fn due(&self, now: Instant) -> u64 {
        if !self.limited() {
            return u64::MAX;
        }
        let allowed = (now - self.start).as_secs_f64() * self.per_sec + 1.0;
        (allowed as u64).saturating_sub(self.taken)
    }

    /// Records that `n` events went.
    pub fn take(&mut self, n: u64) {
        self.taken += n;
    }

    /// When the next event becomes due (at least 1 ms ahead, the timer's
    /// resolution, so a high rate wakes in batches instead of spinning).
    pub fn next_at(&self) -> Instant {
        let secs = self.taken as f64 / self.per_sec.max(f64::MIN_POSITIVE);
        let at = self.start + Duration::from_secs_f64(secs.min(1e9));
        at.max(Instant::now() + Duration::from_millis(1))
    }
}

pub use crate::pdu::receipt::receipt_date;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{Body, Pdu, Sm};

    #[test]
    fn frames_are_walked_and_partial_tail_kept() {
        let mut buf = BytesMut::new();
        Pdu::new(1, Body::EnquireLink).encode(&mut buf);
        Pdu::new(2, Body::EnquireLink).encode(&mut buf);
        let third = Pdu::new(3, Body::EnquireLink).to_bytes();
        buf.extend_from_slice(&third[..7]);
        let mut seqs = vec![];
        for_each_frame(&mut buf, |h, f| seqs.push((h.sequence_number, f.len()))).unwrap();
        assert_eq!(seqs, vec![(1, 16), (2, 16)]);
        assert_eq!(&buf[..], &third[..7]);
        buf.extend_from_slice(&third[7..]);
        buf.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        seqs.clear();
        assert_eq!(
            for_each_frame(&mut buf, |h, _| seqs.push((h.sequence_number, 0))),
            Err(BadLength(1))
        );
        assert_eq!(
            seqs,
            vec![(3, 0)],
            "whole frames before the bad one are handled"
        );
    }

    #[test]
    fn flags_are_found_past_cstrings() {
        let sm = Sm {
            service_type: "CMT".into(),
            source_addr: "14155550100".into(),
            destination_addr: "15550001".into(),
            validity_period: "000001000000000R".into(),
            esm_class: 0x40,
            registered_delivery: 0x11,
            short_message: "hi".into(),
            ..Sm::default()
        };
        let frame = Pdu::new(7, Body::SubmitSm(Box::new(sm))).to_bytes();
        assert_eq!(sm_flags(&frame), Some((0x40, 0x11)));
        assert_eq!(sm_flags(&frame[..20]), None);
    }

    #[test]
    fn ids_and_dates() {
        assert_eq!(&hex_id(0x1234_abcd), b"000000001234abcd");
        // 2024-02-29 13:45 UTC
        assert_eq!(&receipt_date(1_709_214_300), b"2402291345");
        assert_eq!(&receipt_date(0), b"7001010000");
    }

    #[test]
    fn pacer_spreads_events() {
        let p = Pacer::new(1000.0);
        let now = p.start;
        assert_eq!(p.due(now), 1);
        assert_eq!(p.due(now + Duration::from_millis(10)), 11);
        assert_eq!(Pacer::new(0.0).due(now), u64::MAX);
    }
}
