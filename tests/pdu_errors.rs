//! Every decode error class yields the right kind, command_status, echoed
//! sequence number and answer PDU.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use optgate::pdu::*;

fn round_trip(pdu: &Pdu) {
    let bytes = pdu.to_bytes();
    assert_eq!(Pdu::decode(bytes).as_ref(), Ok(pdu));
}

fn sample_sm() -> Sm {
    Sm {
        source_addr: Text::from_static(b"12345"),
        short_message: Bytes::from_static(b"hi"),
        ..Sm::default()
    }
}

/// A frame with a correct command_length around `body`.
fn frame(id: u32, seq: u32, body: &[u8]) -> Bytes {
    let mut f = BytesMut::new();
    f.put_u32(16 + body.len() as u32);
    f.put_u32(id);
    f.put_u32(0);
    f.put_u32(seq);
    f.put_slice(body);
    f.freeze()
}

/// Body of a valid submit_sm up to and including short_message.
fn submit_body(sm_length: u8, message: &[u8]) -> Vec<u8> {
    let mut v =
        b"\0\x01\x01447700900999\0\x01\x01447700900123\0\x00\x00\x00\0\0\x00\x00\x00\x00".to_vec();
    v.push(sm_length);
    v.extend_from_slice(message);
    v
}

fn check(frame: Bytes, kind: DecodeErrorKind, status: u32, answer: Body) {
    let h = peek_header(&frame);
    let err = Pdu::decode(frame).unwrap_err();
    assert_eq!(err.kind, kind);
    assert_eq!(err.status(), status);
    assert_eq!(err.sequence_number, h.map(|h| h.sequence_number));
    let resp = err.response();
    assert_eq!(resp.body, answer);
    assert_eq!(resp.command_status, status);
    assert_eq!(resp.sequence_number, h.map_or(0, |h| h.sequence_number));
    round_trip(&resp);
}

#[test]
fn each_error_class_has_its_status_and_answer() {
    let submit_resp = Body::SubmitSmResp(MessageIdResp::default());
    check(
        Bytes::from_static(&[0, 0, 0, 16, 0, 0, 0, 4]),
        DecodeErrorKind::ShortFrame { len: 8 },
        status::ESME_RINVCMDLEN,
        submit_resp.clone(),
    );
    let mut f = BytesMut::from(&frame(command::ENQUIRE_LINK, 8, &[])[..]);
    f[3] = 20;
    check(
        f.freeze(),
        DecodeErrorKind::LengthMismatch {
            command_length: 20,
            frame_len: 16,
        },
        status::ESME_RINVCMDLEN,
        Body::EnquireLinkResp,
    );
    check(
        frame(0x99, 2, &[]),
        DecodeErrorKind::UnknownCommand(0x99),
        status::ESME_RINVCMDID,
        Body::GenericNack,
    );
    check(
        frame(0x8000_0099, 2, &[]),
        DecodeErrorKind::UnknownCommand(0x8000_0099),
        status::ESME_RINVCMDID,
        Body::GenericNack,
    );
    check(
        frame(command::UNBIND, 5, &[0]),
        DecodeErrorKind::UnexpectedBody { len: 1 },
        status::ESME_RINVCMDLEN,
        Body::UnbindResp,
    );

    let no_nul = b"\0\x01\x014477009";
    check(
        frame(command::SUBMIT_SM, 6, no_nul),
        DecodeErrorKind::UnterminatedCString {
            field: "source_addr",
        },
        status::ESME_RINVPARLEN,
        submit_resp.clone(),
    );
    let cut = &submit_body(0, b"")[..17];
    check(
        frame(command::SUBMIT_SM, 7, cut),
        DecodeErrorKind::Truncated {
            field: "dest_addr_npi",
        },
        status::ESME_RINVCMDLEN,
        submit_resp.clone(),
    );
    check(
        frame(command::SUBMIT_SM, 8, &submit_body(10, b"short")),
        DecodeErrorKind::ShortMessageOverrun {
            sm_length: 10,
            available: 5,
        },
        status::ESME_RINVMSGLEN,
        submit_resp.clone(),
    );

    for stray in 1..=3 {
        let mut body = submit_body(2, b"hi");
        body.extend_from_slice(&[0x04, 0x24, 0, 0][..stray]);
        check(
            frame(command::SUBMIT_SM, 9, &body),
            DecodeErrorKind::TrailingBytes { len: stray },
            status::ESME_RINVOPTPARSTREAM,
            submit_resp.clone(),
        );
    }
    let mut body = submit_body(0, b"");
    body.extend_from_slice(&[0x04, 0x24, 0x01, 0x00, b'a', b'b']);
    check(
        frame(command::SUBMIT_SM, 10, &body),
        DecodeErrorKind::TlvOverrun {
            tag: 0x0424,
            length: 256,
            available: 2,
        },
        status::ESME_RINVOPTPARSTREAM,
        submit_resp,
    );

    let multi = b"\0\x05\x00BRAND\0\x01\x03x\0";
    check(
        frame(command::SUBMIT_MULTI, 11, multi),
        DecodeErrorKind::InvalidDestFlag(3),
        status::ESME_RINVDESTFLAG,
        Body::SubmitMultiResp(Box::default()),
    );

    // Unreadable bodies of non-requests are answered with generic_nack.
    check(
        frame(command::SUBMIT_SM_RESP, 12, b"123"),
        DecodeErrorKind::UnterminatedCString {
            field: "message_id",
        },
        status::ESME_RINVPARLEN,
        Body::GenericNack,
    );
    check(
        frame(command::ALERT_NOTIFICATION, 13, &[1, 1]),
        DecodeErrorKind::UnterminatedCString {
            field: "source_addr",
        },
        status::ESME_RINVPARLEN,
        Body::GenericNack,
    );
    check(
        frame(command::DATA_SM, 14, b"\0\x01"),
        DecodeErrorKind::Truncated {
            field: "source_addr_npi",
        },
        status::ESME_RINVCMDLEN,
        Body::DataSmResp(DataSmResp::default()),
    );
}

#[test]
fn header_and_direction_helpers() {
    let p = Pdu::new(9, Body::SubmitSm(Box::new(sample_sm())));
    let h = p.header();
    assert_eq!(h, peek_header(&p.to_bytes()).unwrap());
    assert!(!p.is_response());
    assert!(Pdu::generic_nack(1, 3).is_response());
    let err = Pdu::decode(frame(command::SUBMIT_SM_RESP, 1, b"x")).unwrap_err();
    assert!(err.is_response());
    let err = Pdu::decode(frame(command::SUBMIT_SM, 1, b"x")).unwrap_err();
    assert!(!err.is_response());
}
