//! Hand-built round trips of every PDU type, every decode error class with
//! its answer, and proptest round trips / no-panic properties.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use optgate::pdu::*;
use proptest::prelude::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn round_trip(pdu: &Pdu) -> Bytes {
    let bytes = pdu.to_bytes();
    assert_eq!(bytes.len(), pdu.encoded_len());
    assert_eq!(
        peek_header(&bytes).unwrap().command_length as usize,
        bytes.len()
    );
    let back = Pdu::decode(bytes.clone()).unwrap_or_else(|e| panic!("{pdu:?}: {e}"));
    assert_eq!(&back, pdu);
    assert_eq!(back.to_bytes(), bytes);
    bytes
}

fn sample_sm() -> Sm {
    let mut tlvs = Tlvs::new();
    tlvs.set_u16(tags::SAR_MSG_REF_NUM, 0x1234);
    tlvs.set_u8(tags::SAR_TOTAL_SEGMENTS, 2);
    tlvs.set_u8(tags::SAR_SEGMENT_SEQNUM, 1);
    tlvs.push(0x1401, vec![9, 9]); // vendor tag kept raw
    tlvs.push(0x1401, vec![]); // duplicate, empty value
    Sm {
        service_type: b("CMT"),
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: b("447700900999"),
        dest_addr_ton: 2,
        dest_addr_npi: 1,
        destination_addr: b("447700900123"),
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: b("261127043000000+"),
        validity_period: b("000001000000000R"),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 8,
        sm_default_msg_id: 0,
        short_message: Bytes::from_static(&[5, 0, 3, 1, 2, 1, 0, 0x41]),
        tlvs,
    }
}

#[test]
fn every_request_type_round_trips() {
    let bind = Bind {
        system_id: b("acct"),
        password: b("pw"),
        system_type: b("VMA"),
        interface_version: 0x34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: b("^44"),
        tlvs: Tlvs::new(),
    };
    let mut data_tlvs = Tlvs::new();
    data_tlvs.push(tags::MESSAGE_PAYLOAD, vec![b'x'; 1000]);
    data_tlvs.set_u16(tags::SOURCE_PORT, 9200);
    data_tlvs.set_u16(tags::DESTINATION_PORT, 2948);
    data_tlvs.push(tags::ALERT_ON_MESSAGE_DELIVERY, Bytes::new());
    let data_sm = DataSm {
        service_type: b("WAP"),
        source_addr: b(&"9".repeat(64)),
        destination_addr: b("447700900123"),
        esm_class: 0x04,
        registered_delivery: 1,
        data_coding: 4,
        tlvs: data_tlvs,
        ..DataSm::default()
    };
    assert!(data_sm.is_receipt());
    assert_eq!(data_sm.message_bytes().len(), 1000);
    let mut an_tlvs = Tlvs::new();
    an_tlvs.set_u8(tags::MS_AVAILABILITY_STATUS, 0);
    let bodies = vec![
        Body::BindTransmitter(bind.clone()),
        Body::BindReceiver(bind.clone()),
        Body::BindTransceiver(bind),
        Body::Outbind(Outbind {
            system_id: b("smsc"),
            password: b("pw"),
            tlvs: Tlvs::new(),
        }),
        Body::Unbind,
        Body::EnquireLink,
        Body::SubmitSm(sample_sm()),
        Body::DeliverSm(sample_sm()),
        Body::SubmitMulti(SubmitMulti {
            service_type: b(""),
            source_addr_ton: 5,
            source_addr: b("BRAND"),
            dests: vec![
                DestAddress::Sme {
                    ton: 1,
                    npi: 1,
                    addr: b("447700900001"),
                },
                DestAddress::DistributionList(b("friends")),
                DestAddress::Sme {
                    ton: 0,
                    npi: 0,
                    addr: b(""),
                },
            ],
            short_message: b("hello all"),
            registered_delivery: 1,
            tlvs: Tlvs(vec![Tlv::new(tags::USER_MESSAGE_REFERENCE, vec![0, 7])]),
            ..SubmitMulti::default()
        }),
        Body::DataSm(data_sm),
        Body::QuerySm(QuerySm {
            message_id: b("abc123"),
            source_addr: b("12345"),
            ..QuerySm::default()
        }),
        Body::CancelSm(CancelSm {
            message_id: b(""),
            source_addr: b("12345"),
            destination_addr: b("447700900123"),
            ..CancelSm::default()
        }),
        Body::ReplaceSm(ReplaceSm {
            message_id: b("42"),
            source_addr: b("12345"),
            short_message: b("new text"),
            ..ReplaceSm::default()
        }),
        Body::AlertNotification(AlertNotification {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: b("447700900123"),
            esme_addr: b("12345"),
            tlvs: an_tlvs,
            ..AlertNotification::default()
        }),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let pdu = Pdu::new(i as u32 + 1, body);
        assert!(!command::is_response(pdu.command_id()));
        round_trip(&pdu);
    }
}

#[test]
fn every_response_type_round_trips_full_empty_and_header_only() {
    let unsuccess = vec![
        UnsuccessSme {
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: b("447700900001"),
            error_status_code: status::ESME_RINVDSTADR,
        },
        UnsuccessSme {
            dest_addr_ton: 0,
            dest_addr_npi: 0,
            destination_addr: b(""),
            error_status_code: 0x0000_0401,
        },
    ];
    let full = vec![
        Body::BindTransceiverResp(BindResp::new("optgate", Some(0x34))),
        Body::BindTransmitterResp(BindResp::new("optgate", None)),
        Body::BindReceiverResp(BindResp {
            system_id: Some(b("")),
            tlvs: Tlvs::new(),
        }),
        Body::SubmitSmResp(MessageIdResp::new("0000000000000042")),
        Body::DeliverSmResp(MessageIdResp::new("")),
        Body::DataSmResp(MessageIdResp {
            message_id: Some(b("7")),
            tlvs: Tlvs(vec![
                Tlv::new(tags::DELIVERY_FAILURE_REASON, vec![1]),
                Tlv::new(tags::NETWORK_ERROR_CODE, vec![3, 0, 1]),
            ]),
        }),
        Body::SubmitMultiResp(SubmitMultiResp {
            message_id: Some(b("m1")),
            unsuccess_smes: Some(unsuccess),
            tlvs: Tlvs::new(),
        }),
        Body::SubmitMultiResp(SubmitMultiResp {
            message_id: Some(b("m2")),
            unsuccess_smes: Some(vec![]),
            tlvs: Tlvs::new(),
        }),
        Body::SubmitMultiResp(SubmitMultiResp {
            message_id: Some(b("m3")),
            unsuccess_smes: None,
            tlvs: Tlvs::new(),
        }),
        Body::QuerySmResp(QuerySmResp {
            message_id: Some(b("abc")),
            state: Some(QueryState {
                final_date: b("261127043000000+"),
                message_state: 2,
                error_code: 0,
            }),
            tlvs: Tlvs::new(),
        }),
        Body::QuerySmResp(QuerySmResp {
            message_id: Some(b("abc")),
            state: Some(QueryState {
                final_date: b(""),
                message_state: 1,
                error_code: 0,
            }),
            tlvs: Tlvs::new(),
        }),
        Body::UnbindResp,
        Body::EnquireLinkResp,
        Body::CancelSmResp,
        Body::ReplaceSmResp,
        Body::GenericNack,
    ];
    for body in full {
        round_trip(&Pdu::new(3, body));
    }
    // Header-only error responses of every request type: exactly 16 bytes.
    for id in [
        command::BIND_TRANSMITTER,
        command::BIND_RECEIVER,
        command::BIND_TRANSCEIVER,
        command::SUBMIT_SM,
        command::DELIVER_SM,
        command::SUBMIT_MULTI,
        command::DATA_SM,
        command::QUERY_SM,
        command::CANCEL_SM,
        command::REPLACE_SM,
        command::UNBIND,
        command::ENQUIRE_LINK,
    ] {
        let req = Pdu::new(77, Body::EnquireLink);
        let resp = Pdu::response_to(&req, status::ESME_RSYSERR, Body::resp_for(id).unwrap());
        let bytes = round_trip(&resp);
        assert_eq!(bytes.len(), 16);
        assert_eq!(resp.command_id(), id | command::RESPONSE_BIT);
        assert_eq!(resp.sequence_number, 77);
    }
    assert_eq!(Body::resp_for(command::OUTBIND), None);
    assert_eq!(Body::resp_for(command::SUBMIT_SM_RESP), None);
}

#[test]
fn over_long_c_string_decodes_round_trips_and_fails_validation() {
    let mut s = sample_sm();
    s.source_addr = b(&"1".repeat(40));
    let pdu = Pdu::new(1, Body::SubmitSm(s));
    round_trip(&pdu);
    let err = pdu.validate().unwrap_err();
    assert_eq!(
        (err.field, err.status),
        ("source_addr", status::ESME_RINVSRCADR)
    );
}

#[test]
fn error_responses_are_built_from_requests() {
    let req = Pdu::new(31, Body::SubmitSm(sample_sm()));
    let r = Pdu::error_response_to(&req, status::ESME_RTHROTTLED);
    assert_eq!(
        (r.sequence_number, r.command_status),
        (31, status::ESME_RTHROTTLED)
    );
    assert_eq!(r.body, Body::SubmitSmResp(MessageIdResp::default()));
    let nack = Pdu::error_response_to(&Pdu::new(4, Body::GenericNack), status::ESME_RINVCMDID);
    assert_eq!(nack, Pdu::generic_nack(4, status::ESME_RINVCMDID));
}

// ---- decode errors -------------------------------------------------------

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
        Body::SubmitMultiResp(SubmitMultiResp::default()),
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

// ---- proptest -----------------------------------------------------------

fn cstr() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(1u8..=255, 0..24).prop_map(Bytes::from)
}

fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    prop::collection::vec(
        (any::<u16>(), octets(12)).prop_map(|(t, v)| Tlv::new(t, v)),
        0..4,
    )
    .prop_map(Tlvs)
}

fn sm_strategy() -> impl Strategy<Value = Sm> {
    let a = (cstr(), any::<[u8; 4]>(), cstr(), cstr(), any::<[u8; 3]>());
    let b = (cstr(), cstr(), any::<[u8; 4]>(), octets(255), tlvs());
    (a, b).prop_map(
        |((st, addr_tn, src, dst, f3), (sched, val, f4, sm, tlvs))| Sm {
            service_type: st,
            source_addr_ton: addr_tn[0],
            source_addr_npi: addr_tn[1],
            source_addr: src,
            dest_addr_ton: addr_tn[2],
            dest_addr_npi: addr_tn[3],
            destination_addr: dst,
            esm_class: f3[0],
            protocol_id: f3[1],
            priority_flag: f3[2],
            schedule_delivery_time: sched,
            validity_period: val,
            registered_delivery: f4[0],
            replace_if_present_flag: f4[1],
            data_coding: f4[2],
            sm_default_msg_id: f4[3],
            short_message: sm,
            tlvs,
        },
    )
}

fn dest() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), cstr()).prop_map(|(ton, npi, addr)| DestAddress::Sme {
            ton,
            npi,
            addr
        }),
        cstr().prop_map(DestAddress::DistributionList),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (sm_strategy(), prop::collection::vec(dest(), 0..5)).prop_map(|(s, dests)| SubmitMulti {
        service_type: s.service_type,
        source_addr_ton: s.source_addr_ton,
        source_addr_npi: s.source_addr_npi,
        source_addr: s.source_addr,
        dests,
        esm_class: s.esm_class,
        protocol_id: s.protocol_id,
        priority_flag: s.priority_flag,
        schedule_delivery_time: s.schedule_delivery_time,
        validity_period: s.validity_period,
        registered_delivery: s.registered_delivery,
        replace_if_present_flag: s.replace_if_present_flag,
        data_coding: s.data_coding,
        sm_default_msg_id: s.sm_default_msg_id,
        short_message: s.short_message,
        tlvs: s.tlvs,
    })
}

/// Canonical optional response body: TLVs only when the id is present.
fn id_resp() -> impl Strategy<Value = MessageIdResp> {
    prop::option::of((cstr(), tlvs())).prop_map(|o| match o {
        Some((id, tlvs)) => MessageIdResp {
            message_id: Some(id),
            tlvs,
        },
        None => MessageIdResp::default(),
    })
}

fn unsuccess() -> impl Strategy<Value = UnsuccessSme> {
    (any::<u8>(), any::<u8>(), cstr(), any::<u32>()).prop_map(|(t, n, a, e)| UnsuccessSme {
        dest_addr_ton: t,
        dest_addr_npi: n,
        destination_addr: a,
        error_status_code: e,
    })
}

fn multi_resp() -> impl Strategy<Value = SubmitMultiResp> {
    let list = prop::collection::vec(unsuccess(), 0..4);
    prop::option::of((cstr(), prop::option::of((list, tlvs())))).prop_map(|o| match o {
        None => SubmitMultiResp::default(),
        Some((id, None)) => SubmitMultiResp {
            message_id: Some(id),
            unsuccess_smes: None,
            tlvs: Tlvs::new(),
        },
        Some((id, Some((l, tlvs)))) => SubmitMultiResp {
            message_id: Some(id),
            unsuccess_smes: Some(l),
            tlvs,
        },
    })
}

fn query_resp() -> impl Strategy<Value = QuerySmResp> {
    let state = (cstr(), any::<u8>(), any::<u8>()).prop_map(|(d, s, e)| QueryState {
        final_date: d,
        message_state: s,
        error_code: e,
    });
    prop::option::of((cstr(), prop::option::of((state, tlvs())))).prop_map(|o| match o {
        None => QuerySmResp::default(),
        Some((id, None)) => QuerySmResp {
            message_id: Some(id),
            state: None,
            tlvs: Tlvs::new(),
        },
        Some((id, Some((s, tlvs)))) => QuerySmResp {
            message_id: Some(id),
            state: Some(s),
            tlvs,
        },
    })
}

fn bind() -> impl Strategy<Value = Bind> {
    (cstr(), cstr(), cstr(), any::<[u8; 3]>(), cstr(), tlvs()).prop_map(|(s, p, t, f, r, tlvs)| {
        Bind {
            system_id: s,
            password: p,
            system_type: t,
            interface_version: f[0],
            addr_ton: f[1],
            addr_npi: f[2],
            address_range: r,
            tlvs,
        }
    })
}

fn bind_resp() -> impl Strategy<Value = BindResp> {
    id_resp().prop_map(|r| BindResp {
        system_id: r.message_id,
        tlvs: r.tlvs,
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        bind().prop_map(Body::BindTransmitter),
        bind().prop_map(Body::BindReceiver),
        bind().prop_map(Body::BindTransceiver),
        bind_resp().prop_map(Body::BindTransmitterResp),
        bind_resp().prop_map(Body::BindReceiverResp),
        bind_resp().prop_map(Body::BindTransceiverResp),
        (cstr(), cstr(), tlvs()).prop_map(|(s, p, tlvs)| Body::Outbind(Outbind {
            system_id: s,
            password: p,
            tlvs
        })),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::GenericNack),
        sm_strategy().prop_map(Body::SubmitSm),
        id_resp().prop_map(Body::SubmitSmResp),
        sm_strategy().prop_map(Body::DeliverSm),
        id_resp().prop_map(Body::DeliverSmResp),
        submit_multi().prop_map(Body::SubmitMulti),
        multi_resp().prop_map(Body::SubmitMultiResp),
        sm_strategy().prop_map(|s| Body::DataSm(DataSm {
            service_type: s.service_type,
            source_addr_ton: s.source_addr_ton,
            source_addr_npi: s.source_addr_npi,
            source_addr: s.source_addr,
            dest_addr_ton: s.dest_addr_ton,
            dest_addr_npi: s.dest_addr_npi,
            destination_addr: s.destination_addr,
            esm_class: s.esm_class,
            registered_delivery: s.registered_delivery,
            data_coding: s.data_coding,
            tlvs: s.tlvs,
        })),
        id_resp().prop_map(Body::DataSmResp),
        (cstr(), any::<u8>(), any::<u8>(), cstr(), tlvs()).prop_map(|(m, t, n, a, tlvs)| {
            Body::QuerySm(QuerySm {
                message_id: m,
                source_addr_ton: t,
                source_addr_npi: n,
                source_addr: a,
                tlvs,
            })
        }),
        query_resp().prop_map(Body::QuerySmResp),
        (sm_strategy(), cstr()).prop_map(|(s, m)| Body::CancelSm(CancelSm {
            service_type: s.service_type,
            message_id: m,
            source_addr_ton: s.source_addr_ton,
            source_addr_npi: s.source_addr_npi,
            source_addr: s.source_addr,
            dest_addr_ton: s.dest_addr_ton,
            dest_addr_npi: s.dest_addr_npi,
            destination_addr: s.destination_addr,
            tlvs: s.tlvs,
        })),
        Just(Body::CancelSmResp),
        (sm_strategy(), cstr()).prop_map(|(s, m)| Body::ReplaceSm(ReplaceSm {
            message_id: m,
            source_addr_ton: s.source_addr_ton,
            source_addr_npi: s.source_addr_npi,
            source_addr: s.source_addr,
            schedule_delivery_time: s.schedule_delivery_time,
            validity_period: s.validity_period,
            registered_delivery: s.registered_delivery,
            sm_default_msg_id: s.sm_default_msg_id,
            short_message: s.short_message,
            tlvs: s.tlvs,
        })),
        Just(Body::ReplaceSmResp),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        (sm_strategy(), any::<[u8; 2]>()).prop_map(|(s, f)| Body::AlertNotification(
            AlertNotification {
                source_addr_ton: s.source_addr_ton,
                source_addr_npi: s.source_addr_npi,
                source_addr: s.source_addr,
                esme_addr_ton: f[0],
                esme_addr_npi: f[1],
                esme_addr: s.destination_addr,
                tlvs: s.tlvs,
            }
        )),
    ]
}

/// Any valid PDU.
pub fn pdu() -> impl Strategy<Value = Pdu> {
    (any::<u32>(), any::<u32>(), body()).prop_map(|(status, seq, body)| Pdu {
        command_status: status,
        sequence_number: seq,
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_valid_pdus_round_trip_byte_exact(p in pdu()) {
        let bytes = p.to_bytes();
        prop_assert_eq!(bytes.len(), p.encoded_len());
        let back = Pdu::decode(bytes.clone());
        prop_assert_eq!(back.as_ref(), Ok(&p));
        prop_assert_eq!(back.unwrap().to_bytes(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_decoded_frames_round_trip(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let frame = Bytes::from(data);
        match Pdu::decode(frame.clone()) {
            Ok(p) => prop_assert_eq!(p.to_bytes(), frame),
            Err(e) => { let _ = e.response().to_bytes(); }
        }
    }

    #[test]
    fn corrupted_valid_pdus_never_panic(p in pdu(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut raw = BytesMut::from(&p.to_bytes()[..]);
        let i = pos.index(raw.len());
        raw[i] = byte;
        let keep = 16 + cut.index(raw.len() - 15);
        let mut raw = raw.split_to(keep.min(raw.len()));
        let len = raw.len() as u32;
        raw[..4].copy_from_slice(&len.to_be_bytes());
        let frame = raw.freeze();
        if let Ok(q) = Pdu::decode(frame.clone()) {
            prop_assert_eq!(q.to_bytes(), frame);
        }
    }
}

#[test]
fn header_and_direction_helpers() {
    let p = Pdu::new(9, Body::SubmitSm(sample_sm()));
    let h = p.header();
    assert_eq!(h, peek_header(&p.to_bytes()).unwrap());
    assert!(!p.is_response());
    assert!(Pdu::generic_nack(1, 3).is_response());
    let err = Pdu::decode(frame(command::SUBMIT_SM_RESP, 1, b"x")).unwrap_err();
    assert!(err.is_response());
    let err = Pdu::decode(frame(command::SUBMIT_SM, 1, b"x")).unwrap_err();
    assert!(!err.is_response());
}
