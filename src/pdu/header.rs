//! The 16-byte PDU header.

/// Size of the SMPP header, and the smallest legal `command_length`.
pub const HEADER_LEN: usize = 16;

/// The four header fields, as they appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Length of the whole PDU, header included.
    pub command_length: u32,
    /// Command id; bit 31 set for responses.
    pub command_id: u32,
    /// Result in responses; should be 0 in requests but is kept as sent.
    pub command_status: u32,
    /// Correlates a response with its request.
    pub sequence_number: u32,
}

/// Reads the header from the first 16 bytes of `buf` without checking any
/// field. `None` when fewer than 16 bytes are available.
pub fn peek_header(buf: &[u8]) -> Option<Header> {
    let head = buf.get(..HEADER_LEN)?;
    let word = |i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&head[i..i + 4]);
        u32::from_be_bytes(w)
    };
    Some(Header {
        command_length: word(0),
        command_id: word(4),
        command_status: word(8),
        sequence_number: word(12),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_fields_and_refuses_short_input() {
        let raw = [
            0, 0, 0, 0x10, 0x80, 0, 0, 0x15, 0, 0, 0, 0x58, 0, 0, 0x22, 0xf5,
        ];
        let h = peek_header(&raw).unwrap();
        assert_eq!(h.command_length, 16);
        assert_eq!(h.command_id, 0x8000_0015);
        assert_eq!(h.command_status, 0x58);
        assert_eq!(h.sequence_number, 0x22f5);
        assert_eq!(peek_header(&raw[..15]), None);
    }
}
