//! Hand-built round trips of every PDU type, header-only and empty-body
//! responses, and the response constructors.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use optgate::pdu::*;

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
        service_type: b("CMT").into(),
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: b("447700900999").into(),
        dest_addr_ton: 2,
        dest_addr_npi: 1,
        destination_addr: b("447700900123").into(),
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: b("261127043000000+").into(),
        validity_period: b("000001000000000R").into(),
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
        system_id: b("acct").into(),
        password: b("pw").into(),
        system_type: b("VMA").into(),
        interface_version: 0x34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: b("^44").into(),
        tlvs: Tlvs::new(),
    };
    let mut data_tlvs = Tlvs::new();
    data_tlvs.push(tags::MESSAGE_PAYLOAD, vec![b'x'; 1000]);
    data_tlvs.set_u16(tags::SOURCE_PORT, 9200);
    data_tlvs.set_u16(tags::DESTINATION_PORT, 2948);
    data_tlvs.push(tags::ALERT_ON_MESSAGE_DELIVERY, Bytes::new());
    let data_sm = DataSm {
        service_type: b("WAP").into(),
        source_addr: b(&"9".repeat(64)).into(),
        destination_addr: b("447700900123").into(),
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
        Body::BindTransmitter(Box::new(bind.clone())),
        Body::BindReceiver(Box::new(bind.clone())),
        Body::BindTransceiver(Box::new(bind)),
        Body::Outbind(Box::new(Outbind {
            system_id: b("smsc").into(),
            password: b("pw").into(),
            tlvs: Tlvs::new(),
        })),
        Body::Unbind,
        Body::EnquireLink,
        Body::SubmitSm(Box::new(sample_sm())),
        Body::DeliverSm(Box::new(sample_sm())),
        Body::SubmitMulti(Box::new(SubmitMulti {
            service_type: b("").into(),
            source_addr_ton: 5,
            source_addr: b("BRAND").into(),
            dests: vec![
                DestAddress::Sme {
                    ton: 1,
                    npi: 1,
                    addr: b("447700900001").into(),
                },
                DestAddress::DistributionList(b("friends").into()),
                DestAddress::Sme {
                    ton: 0,
                    npi: 0,
                    addr: b("").into(),
                },
            ],
            short_message: b("hello all"),
            registered_delivery: 1,
            tlvs: Tlvs(vec![Tlv::new(tags::USER_MESSAGE_REFERENCE, vec![0, 7])]),
            ..SubmitMulti::default()
        })),
        Body::DataSm(Box::new(data_sm)),
        Body::QuerySm(Box::new(QuerySm {
            message_id: b("abc123").into(),
            source_addr: b("12345").into(),
            ..QuerySm::default()
        })),
        Body::CancelSm(Box::new(CancelSm {
            message_id: b("").into(),
            source_addr: b("12345").into(),
            destination_addr: b("447700900123").into(),
            ..CancelSm::default()
        })),
        Body::ReplaceSm(Box::new(ReplaceSm {
            message_id: b("42").into(),
            source_addr: b("12345").into(),
            short_message: b("new text"),
            ..ReplaceSm::default()
        })),
        Body::AlertNotification(Box::new(AlertNotification {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: b("447700900123").into(),
            esme_addr: b("12345").into(),
            tlvs: an_tlvs,
            ..AlertNotification::default()
        })),
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
            destination_addr: b("447700900001").into(),
            error_status_code: status::ESME_RINVDSTADR,
        },
        UnsuccessSme {
            dest_addr_ton: 0,
            dest_addr_npi: 0,
            destination_addr: b("").into(),
            error_status_code: 0x0000_0401,
        },
    ];
    let full = vec![
        Body::BindTransceiverResp(BindResp::new("optgate", Some(0x34))),
        Body::BindTransmitterResp(BindResp::new("optgate", None)),
        Body::BindReceiverResp(BindResp {
            system_id: Some(b("").into()),
            tlvs: Tlvs::new(),
        }),
        Body::SubmitSmResp(MessageIdResp::new("0000000000000042")),
        Body::DeliverSmResp(MessageIdResp::new("")),
        Body::DataSmResp(MessageIdResp {
            message_id: Some(b("7").into()),
            tlvs: Tlvs(vec![
                Tlv::new(tags::DELIVERY_FAILURE_REASON, vec![1]),
                Tlv::new(tags::NETWORK_ERROR_CODE, vec![3, 0, 1]),
            ]),
        }),
        Body::SubmitMultiResp(Box::new(SubmitMultiResp {
            message_id: Some(b("m1").into()),
            unsuccess_smes: Some(unsuccess),
            tlvs: Tlvs::new(),
        })),
        Body::SubmitMultiResp(Box::new(SubmitMultiResp {
            message_id: Some(b("m2").into()),
            unsuccess_smes: Some(vec![]),
            tlvs: Tlvs::new(),
        })),
        Body::SubmitMultiResp(Box::new(SubmitMultiResp {
            message_id: Some(b("m3").into()),
            unsuccess_smes: None,
            tlvs: Tlvs::new(),
        })),
        Body::QuerySmResp(Box::new(QuerySmResp {
            message_id: Some(b("abc").into()),
            state: Some(QueryState {
                final_date: b("261127043000000+").into(),
                message_state: 2,
                error_code: 0,
            }),
            tlvs: Tlvs::new(),
        })),
        Body::QuerySmResp(Box::new(QuerySmResp {
            message_id: Some(b("abc").into()),
            state: Some(QueryState {
                final_date: b("").into(),
                message_state: 1,
                error_code: 0,
            }),
            tlvs: Tlvs::new(),
        })),
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
    s.source_addr = b(&"1".repeat(40)).into();
    let pdu = Pdu::new(1, Body::SubmitSm(Box::new(s)));
    round_trip(&pdu);
    let err = pdu.validate().unwrap_err();
    assert_eq!(
        (err.field, err.status),
        ("source_addr", status::ESME_RINVSRCADR)
    );
}

#[test]
fn error_responses_are_built_from_requests() {
    let req = Pdu::new(31, Body::SubmitSm(Box::new(sample_sm())));
    let r = Pdu::error_response_to(&req, status::ESME_RTHROTTLED);
    assert_eq!(
        (r.sequence_number, r.command_status),
        (31, status::ESME_RTHROTTLED)
    );
    assert_eq!(r.body, Body::SubmitSmResp(MessageIdResp::default()));
    let nack = Pdu::error_response_to(&Pdu::new(4, Body::GenericNack), status::ESME_RINVCMDID);
    assert_eq!(nack, Pdu::generic_nack(4, status::ESME_RINVCMDID));
}
