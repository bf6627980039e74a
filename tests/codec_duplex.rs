//! The codec driven through `tokio::io::duplex` at many buffer sizes, so
//! frames arrive split across reads and many frames arrive in one read.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use optgate::codec::{encode_into, CodecError, SmppCodec};
use optgate::pdu::{
    command, status, tags, Body, DecodeErrorKind, MessageIdResp, Pdu, Sm, Text, Tlvs,
};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{FramedRead, FramedWrite};

const SIZES: [usize; 8] = [1, 2, 3, 7, 16, 64, 512, 4096];

fn fixtures() -> Vec<Bytes> {
    let dir = format!("{}/fixtures/pdus", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let hex = text.lines().nth(1).unwrap().trim();
            let raw: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            Bytes::from(raw)
        })
        .collect()
}

fn big_payload_submit(seq: u32) -> Pdu {
    let mut tlvs = Tlvs::new();
    tlvs.push(tags::MESSAGE_PAYLOAD, vec![b'z'; 65_535]);
    Pdu::new(
        seq,
        Body::SubmitSm(Box::new(Sm {
            destination_addr: Text::from_static(b"447700900123"),
            tlvs,
            ..Sm::default()
        })),
    )
}

/// Writes `bytes` into one end of a duplex of `size` and collects what the
/// codec yields on the other end, the stream's terminal error included.
async fn read_all(
    size: usize,
    bytes: Bytes,
) -> Vec<Result<Result<Pdu, optgate::pdu::DecodeError>, CodecError>> {
    let (mut tx, rx) = tokio::io::duplex(size);
    let writer = tokio::spawn(async move {
        // The reader may stop early (bad length); a broken pipe is fine.
        let _ = tx.write_all(&bytes).await;
        let _ = tx.shutdown().await;
    });
    let mut out = Vec::new();
    let mut frames = FramedRead::new(rx, SmppCodec::default());
    while let Some(item) = frames.next().await {
        out.push(item);
    }
    drop(frames);
    writer.await.unwrap();
    out
}

#[tokio::test]
async fn fixture_stream_arrives_intact_at_every_buffer_size() {
    let frames = fixtures();
    let mut stream = BytesMut::new();
    for f in &frames {
        stream.put_slice(f);
    }
    let big = big_payload_submit(99);
    encode_into(&big, &mut stream);
    let stream = stream.freeze();
    for size in SIZES {
        let got = read_all(size, stream.clone()).await;
        assert_eq!(got.len(), frames.len() + 1, "size {size}");
        for (item, want) in got.iter().zip(&frames) {
            let pdu = item.as_ref().unwrap().as_ref().unwrap();
            assert_eq!(&pdu.to_bytes(), want, "size {size}");
        }
        let last = got.last().unwrap().as_ref().unwrap().as_ref().unwrap();
        assert_eq!(last, &big, "64 KiB message_payload at size {size}");
    }
}

#[tokio::test]
async fn framed_write_and_read_agree() {
    let pdus: Vec<Pdu> = (1..=50)
        .map(|i| match i % 3 {
            0 => Pdu::new(i, Body::EnquireLink),
            1 => Pdu::new(i, Body::SubmitSmResp(MessageIdResp::new(format!("id{i}")))),
            _ => Pdu {
                command_status: status::ESME_RTHROTTLED,
                sequence_number: i,
                body: Body::SubmitSmResp(MessageIdResp::default()),
            },
        })
        .collect();
    for size in SIZES {
        let (tx, rx) = tokio::io::duplex(size);
        let sent = pdus.clone();
        let writer = tokio::spawn(async move {
            let mut w = FramedWrite::new(tx, SmppCodec::default());
            for (i, p) in sent.iter().enumerate() {
                if i % 2 == 0 {
                    w.send(p).await.unwrap();
                } else {
                    w.send(p.clone()).await.unwrap();
                }
            }
            SinkExt::<Pdu>::close(&mut w).await.unwrap();
        });
        let got: Vec<Pdu> = FramedRead::new(rx, SmppCodec::default())
            .map(|r| r.unwrap().unwrap())
            .collect()
            .await;
        writer.await.unwrap();
        assert_eq!(got, pdus, "size {size}");
    }
}

#[tokio::test]
async fn bad_body_mid_stream_is_reported_and_stream_continues() {
    let mut stream = BytesMut::new();
    encode_into(&Pdu::new(1, Body::EnquireLink), &mut stream);
    // submit_sm whose source_addr has no NUL before the end of the body.
    stream.put_slice(&[
        0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 1, b'4',
    ]);
    // unknown command id.
    stream.put_slice(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 3]);
    encode_into(&Pdu::new(4, Body::Unbind), &mut stream);
    let stream = stream.freeze();
    for size in SIZES {
        let got = read_all(size, stream.clone()).await;
        assert_eq!(got.len(), 4, "size {size}");
        assert_eq!(
            got[0].as_ref().unwrap().as_ref().unwrap().body,
            Body::EnquireLink
        );
        let bad = got[1].as_ref().unwrap().as_ref().unwrap_err();
        assert_eq!(
            (bad.sequence_number, bad.command_id),
            (Some(2), Some(command::SUBMIT_SM))
        );
        assert_eq!(
            bad.kind,
            DecodeErrorKind::UnterminatedCString {
                field: "source_addr"
            }
        );
        let answer = bad.response();
        assert_eq!(
            (
                answer.command_id(),
                answer.sequence_number,
                answer.command_status
            ),
            (command::SUBMIT_SM_RESP, 2, status::ESME_RINVPARLEN)
        );
        let unknown = got[2].as_ref().unwrap().as_ref().unwrap_err();
        assert_eq!(
            unknown.response(),
            Pdu::generic_nack(3, status::ESME_RINVCMDID)
        );
        let last = got[3].as_ref().unwrap().as_ref().unwrap();
        assert_eq!((last.sequence_number, &last.body), (4, &Body::Unbind));
    }
}

#[tokio::test]
async fn bad_length_ends_the_stream() {
    for bad_len in [0u32, 15, 70_001, u32::MAX] {
        let mut stream = BytesMut::new();
        encode_into(&Pdu::new(1, Body::EnquireLink), &mut stream);
        stream.put_u32(bad_len);
        stream.put_slice(&[0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 2]);
        encode_into(&Pdu::new(3, Body::EnquireLink), &mut stream);
        let stream = stream.freeze();
        for size in SIZES {
            let got = read_all(size, stream.clone()).await;
            assert_eq!(
                got.len(),
                2,
                "size {size} len {bad_len}: nothing after the bad length"
            );
            assert_eq!(
                got[0].as_ref().unwrap().as_ref().unwrap().sequence_number,
                1
            );
            assert!(
                matches!(got[1], Err(CodecError::BadLength { command_length }) if command_length == bad_len)
            );
        }
    }
}

#[tokio::test]
async fn configured_maximum_is_enforced_and_eof_mid_frame_is_an_error() {
    let big = big_payload_submit(5).to_bytes();
    let mut codec_small = FramedRead::new(&big[..], SmppCodec::new(1024));
    let err = codec_small.next().await.unwrap().unwrap_err();
    assert!(
        matches!(err, CodecError::BadLength { command_length } if command_length as usize == big.len())
    );

    let got = read_all(64, big.slice(..big.len() - 1)).await;
    assert_eq!(got.len(), 1);
    assert!(
        matches!(got[0], Err(CodecError::Io(_))),
        "truncated final frame"
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use tokio_util::codec::Decoder;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary bytes fed in arbitrary chunks never panic the codec;
        /// every PDU it yields re-encodes to the frame it came from.
        #[test]
        fn arbitrary_chunked_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600), chunk in 1usize..64) {
            let mut codec = SmppCodec::new(512);
            let mut buf = BytesMut::new();
            'outer: for part in data.chunks(chunk) {
                buf.extend_from_slice(part);
                loop {
                    match codec.decode(&mut buf) {
                        Ok(Some(Ok(pdu))) => prop_assert_eq!(Pdu::decode(pdu.to_bytes()).ok(), Some(pdu)),
                        Ok(Some(Err(e))) => prop_assert!(e.sequence_number.is_some()),
                        Ok(None) => break,
                        Err(CodecError::BadLength { .. }) => break 'outer,
                        Err(CodecError::Io(e)) => prop_assert!(false, "unexpected io error {e}"),
                    }
                }
            }
        }
    }
}
