//! Property tests: arbitrary valid PDUs round-trip byte-exact; arbitrary
//! and corrupted bytes never panic the decoder.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use optgate::pdu::*;
use proptest::prelude::*;

// Up to 40 octets: C-strings kept inline and longer ones (which only a
// non-conforming PDU has) both round-trip.
fn cstr() -> impl Strategy<Value = Text> {
    prop::collection::vec(1u8..=255, 0..40).prop_map(Text::from)
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
        bind().prop_map(|b| Body::BindTransmitter(Box::new(b))),
        bind().prop_map(|b| Body::BindReceiver(Box::new(b))),
        bind().prop_map(|b| Body::BindTransceiver(Box::new(b))),
        bind_resp().prop_map(Body::BindTransmitterResp),
        bind_resp().prop_map(Body::BindReceiverResp),
        bind_resp().prop_map(Body::BindTransceiverResp),
        (cstr(), cstr(), tlvs()).prop_map(|(s, p, tlvs)| Body::Outbind(Box::new(Outbind {
            system_id: s,
            password: p,
            tlvs
        }))),
        Just(Body::Unbind),
        Just(Body::UnbindResp),
        Just(Body::GenericNack),
        sm_strategy().prop_map(|b| Body::SubmitSm(Box::new(b))),
        id_resp().prop_map(Body::SubmitSmResp),
        sm_strategy().prop_map(|b| Body::DeliverSm(Box::new(b))),
        id_resp().prop_map(Body::DeliverSmResp),
        submit_multi().prop_map(|b| Body::SubmitMulti(Box::new(b))),
        multi_resp().prop_map(|b| Body::SubmitMultiResp(Box::new(b))),
        sm_strategy().prop_map(|s| Body::DataSm(Box::new(DataSm {
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
        }))),
        id_resp().prop_map(Body::DataSmResp),
        (cstr(), any::<u8>(), any::<u8>(), cstr(), tlvs()).prop_map(|(m, t, n, a, tlvs)| {
            Body::QuerySm(Box::new(QuerySm {
                message_id: m,
                source_addr_ton: t,
                source_addr_npi: n,
                source_addr: a,
                tlvs,
            }))
        }),
        query_resp().prop_map(|b| Body::QuerySmResp(Box::new(b))),
        (sm_strategy(), cstr()).prop_map(|(s, m)| Body::CancelSm(Box::new(CancelSm {
            service_type: s.service_type,
            message_id: m,
            source_addr_ton: s.source_addr_ton,
            source_addr_npi: s.source_addr_npi,
            source_addr: s.source_addr,
            dest_addr_ton: s.dest_addr_ton,
            dest_addr_npi: s.dest_addr_npi,
            destination_addr: s.destination_addr,
            tlvs: s.tlvs,
        }))),
        Just(Body::CancelSmResp),
        (sm_strategy(), cstr()).prop_map(|(s, m)| Body::ReplaceSm(Box::new(ReplaceSm {
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
        }))),
        Just(Body::ReplaceSmResp),
        Just(Body::EnquireLink),
        Just(Body::EnquireLinkResp),
        (sm_strategy(), any::<[u8; 2]>()).prop_map(|(s, f)| Body::AlertNotification(Box::new(
            AlertNotification {
                source_addr_ton: s.source_addr_ton,
                source_addr_npi: s.source_addr_npi,
                source_addr: s.source_addr,
                esme_addr_ton: f[0],
                esme_addr_npi: f[1],
                esme_addr: s.destination_addr,
                tlvs: s.tlvs,
            }
        ))),
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
