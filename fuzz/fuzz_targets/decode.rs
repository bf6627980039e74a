//! Feeds arbitrary bytes to `Pdu::decode` (as one frame) and to the codec
//! (as a stream). Decoding must never panic, and every PDU that decodes must
//! re-encode to exactly the bytes it came from. The pass-through readers
//! (`SubmitHead`, `SubmitRespHead`) must read a frame only when it decodes.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use optgate::codec::SmppCodec;
use optgate::pdu::{Pdu, SubmitHead, SubmitRespHead};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    if SubmitHead::read(&frame).is_some() || SubmitRespHead::read(&frame).is_some() {
        assert!(Pdu::decode(frame.clone()).is_ok(), "a head read off a frame that does not decode");
    }
    if let Ok(pdu) = Pdu::decode(frame.clone()) {
        assert_eq!(pdu.to_bytes(), frame, "round trip of a single frame");
        assert_eq!(pdu.encoded_len(), frame.len());
    } else if let Err(e) = Pdu::decode(frame) {
        // The answer to any error must itself encode and decode cleanly.
        let answer = e.response();
        assert_eq!(Pdu::decode(answer.to_bytes()).ok(), Some(answer));
    }

    let mut codec = SmppCodec::new(4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(item)) = codec.decode(&mut buf) {
        if let Ok(pdu) = item {
            let again = Pdu::decode(pdu.to_bytes());
            assert_eq!(again.as_ref().ok(), Some(&pdu), "codec round trip");
        }
    }
});
