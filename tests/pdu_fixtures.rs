//! Real captured PDUs (fixtures/pdus/*.hex) decode to the right type and
//! fields and re-encode byte-identically.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use optgate::pdu::{command, status, tags, Body, Pdu};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn raw(name: &str) -> Bytes {
    let path = format!("{}/fixtures/pdus/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().nth(1).unwrap().trim();
    Bytes::from(hex(line))
}

/// Decodes a fixture, checks the byte-exact round trip, returns the PDU.
fn load(name: &str) -> Pdu {
    let bytes = raw(name);
    let pdu = Pdu::decode(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(pdu.to_bytes(), bytes, "{name} re-encodes identically");
    assert_eq!(pdu.encoded_len(), bytes.len(), "{name} encoded_len");
    pdu
}

fn sm(pdu: &Pdu) -> &optgate::pdu::Sm {
    match &pdu.body {
        Body::SubmitSm(s) | Body::DeliverSm(s) => s,
        other => panic!("not an Sm: {other:?}"),
    }
}

#[test]
fn every_fixture_round_trips_with_the_indexed_command_and_sequence() {
    let index = std::fs::read_to_string(format!(
        "{}/fixtures/pdus/INDEX.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut seen = 0;
    for line in index.lines().filter(|l| l.contains(".hex |")) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cols[1].trim_end_matches(".hex");
        let len: usize = cols[3].parse().unwrap();
        let id = u32::from_str_radix(cols[4].trim_start_matches("0x"), 16).unwrap();
        let seq: u32 = cols[5].parse().unwrap();
        let pdu = load(name);
        assert_eq!(pdu.encoded_len(), len, "{name}");
        assert_eq!(pdu.command_id(), id, "{name}");
        assert_eq!(command::command_name(id), cols[2], "{name}");
        assert_eq!(pdu.sequence_number, seq, "{name}");
        seen += 1;
    }
    let files = std::fs::read_dir(format!("{}/fixtures/pdus", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "hex")
        })
        .count();
    assert_eq!(seen, files, "INDEX.md lists every fixture");
    assert!(seen >= 42);
}

#[test]
fn binds_carry_credentials_and_interface_version() {
    let Body::BindTransceiver(b) = load("kannel_bind_transceiver").body else {
        panic!()
    };
    assert_eq!(b.system_id, "kannel");
    assert_eq!(b.password, "secret");
    assert_eq!(b.system_type, "");
    assert_eq!((b.interface_version, b.addr_ton, b.addr_npi), (0x34, 0, 0));
    assert_eq!(b.address_range, "");

    let Body::BindTransmitter(b) = load("kannel_bind_transmitter").body else {
        panic!()
    };
    assert_eq!(
        (&b.system_id[..], &b.password[..], &b.system_type[..]),
        (&b"foo"[..], &b"bar"[..], &b"VMA"[..])
    );
    let Body::BindReceiver(b) = load("kannel_bind_receiver").body else {
        panic!()
    };
    assert_eq!(b.system_type, "VMA");
    let Body::BindTransceiver(b) = load("nodesmpp_client_bind_transceiver").body else {
        panic!()
    };
    assert_eq!(b.system_id, "nodeload0");
    assert_eq!(b.interface_version, 0x50);
    let p = load("smpplib_bind_transceiver");
    assert_eq!(p.sequence_number, 2);
    let Body::BindTransceiver(b) = p.body else {
        panic!()
    };
    assert_eq!(b.system_id, "pyesme");
}

#[test]
fn bind_responses_with_and_without_system_id() {
    let Body::BindTransceiverResp(r) = load("nodesmpp_bind_transceiver_resp").body else {
        panic!()
    };
    assert_eq!(r.system_id.as_deref(), Some(&b"SMSCSIM"[..]));
    assert_eq!(r.tlvs.sc_interface_version(), None);
    let Body::BindTransmitterResp(r) = load("drivesmpp_bind_transmitter_resp").body else {
        panic!()
    };
    assert_eq!(
        r.system_id.as_deref(),
        Some(&b""[..]),
        "17 bytes: empty C-string, not absent"
    );
    let Body::BindReceiverResp(r) = load("drivesmpp_bind_receiver_resp").body else {
        panic!()
    };
    assert_eq!(r.system_id.as_deref(), Some(&b""[..]));
}

#[test]
fn kannel_gsm7_submit_keeps_at_sign_inside_short_message() {
    let p = load("kannel_submit_sm_gsm7");
    let s = sm(&p);
    assert_eq!(s.source_addr, "KANNEL");
    assert_eq!((s.source_addr_ton, s.source_addr_npi), (5, 0));
    assert_eq!(s.destination_addr, "447700900123");
    assert_eq!((s.dest_addr_ton, s.dest_addr_npi), (2, 1));
    assert_eq!(
        (s.esm_class, s.registered_delivery, s.data_coding),
        (0x03, 0x11, 0)
    );
    assert_eq!(s.short_message.len(), 0x21);
    assert!(s.short_message.starts_with(b"Hello GSM7 from Kannel "));
    assert!(s
        .short_message
        .ends_with(&[0x00, 0x20, 0x01, 0x20, 0x02, 0x20, 0x1b, 0x28, 0x1b, 0x29]));
    assert!(!s.udhi() && !s.is_receipt());
    assert!(s.tlvs.is_empty());
}

#[test]
fn ucs2_submits_and_mo() {
    let s = load("kannel_submit_sm_ucs2");
    let s = sm(&s);
    assert_eq!(s.data_coding, 8);
    assert_eq!(s.source_addr, "447700900999");
    assert_eq!((s.source_addr_ton, s.source_addr_npi), (1, 1));
    assert_eq!(&s.short_message[..4], &[0x04, 0x1f, 0x04, 0x40]); // "Пр"
    assert_eq!(&s.short_message[s.short_message.len() - 2..], &[0x26, 0x3a]); // ☺

    let p = load("smpplib_submit_sm_ucs2");
    assert_eq!(
        (
            sm(&p).data_coding,
            sm(&p).registered_delivery,
            sm(&p).source_addr.as_ref()
        ),
        (8, 1, &b"PYESME"[..])
    );

    let p = load("nodesmpp_deliver_sm_mo_ucs2");
    assert!(matches!(p.body, Body::DeliverSm(_)));
    assert_eq!(sm(&p).data_coding, 8);
    assert_eq!(sm(&p).short_message.len(), 0x12);
}

#[test]
fn concatenated_parts_expose_udh_and_more_messages_tlv() {
    let p1 = load("kannel_submit_sm_long_gsm7_part1");
    let s = sm(&p1);
    assert_eq!(s.esm_class, 0x43);
    assert!(s.udhi());
    assert_eq!(&s.short_message[..6], &[0x05, 0x00, 0x03, 0x02, 0x02, 0x01]);
    assert_eq!(s.short_message.len(), 159);
    assert_eq!(s.tlvs.get_u8(tags::MORE_MESSAGES_TO_SEND), Some(1));
    assert_eq!(s.registered_delivery, 0x11);

    let p2 = load("kannel_submit_sm_long_gsm7_part2");
    assert_eq!(
        &sm(&p2).short_message[..6],
        &[0x05, 0x00, 0x03, 0x02, 0x02, 0x02]
    );
    assert!(sm(&p2).tlvs.is_empty());
    assert_eq!(sm(&p2).registered_delivery, 0);

    let u1 = load("kannel_submit_sm_long_ucs2_part1");
    assert_eq!((sm(&u1).data_coding, sm(&u1).short_message.len()), (8, 140));
    assert_eq!(
        &sm(&u1).short_message[..6],
        &[0x05, 0x00, 0x03, 0x03, 0x02, 0x01]
    );
    let u2 = load("kannel_submit_sm_long_ucs2_part2");
    assert_eq!(
        &sm(&u2).short_message[..6],
        &[0x05, 0x00, 0x03, 0x03, 0x02, 0x02]
    );

    let py1 = load("smpplib_submit_sm_long_gsm7_part1");
    let py2 = load("smpplib_submit_sm_long_gsm7_part2");
    assert_eq!(sm(&py1).esm_class, 0x40);
    assert_eq!(
        &sm(&py1).short_message[..6],
        &[0x05, 0x00, 0x03, 0x89, 0x02, 0x01]
    );
    assert_eq!(
        &sm(&py2).short_message[..6],
        &[0x05, 0x00, 0x03, 0x89, 0x02, 0x02]
    );
}

#[test]
fn plain_and_minimal_submits() {
    let p = load("kannel_submit_sm_plain");
    let s = sm(&p);
    assert_eq!(s.short_message, "load test message");
    assert_eq!(
        (s.source_addr.as_ref(), s.source_addr_ton, s.source_addr_npi),
        (&b"12345"[..], 2, 1)
    );
    assert_eq!(s.registered_delivery, 0);

    let p = load("nodesmpp_client_submit_sm");
    assert_eq!(sm(&p).data_coding, 1);
    assert_eq!(sm(&p).source_addr, "NODELOAD");

    let p = load("smpplib_submit_sm_minimal");
    let s = sm(&p);
    assert_eq!(s.source_addr, "A");
    assert_eq!(
        (s.source_addr_ton, s.dest_addr_ton, s.data_coding),
        (0, 0, 0)
    );
    assert_eq!(s.short_message, "hi");
    assert_eq!(s.schedule_delivery_time, "");
    assert_eq!(s.message_bytes(), "hi");

    let p = load("smpplib_submit_sm_gsm7");
    assert_eq!(sm(&p).short_message.len(), 0x22);
}

#[test]
fn delivery_receipt_is_recognised_with_its_tlvs() {
    let p = load("nodesmpp_deliver_sm_receipt");
    let s = sm(&p);
    assert!(s.is_receipt());
    assert_eq!(s.esm_class, 0x04);
    assert_eq!(s.source_addr, "447700900123");
    assert_eq!(s.destination_addr, "KANNEL");
    assert!(s
        .short_message
        .starts_with(b"id:00000001 sub:001 dlvrd:001 submit date:"));
    assert_eq!(s.tlvs.receipted_message_id().unwrap(), "00000001");
    assert_eq!(s.tlvs.message_state(), Some(2));
    assert_eq!(s.tlvs.len(), 2);
}

#[test]
fn mo_deliver_and_odd_drive_smpp_deliver() {
    let p = load("nodesmpp_deliver_sm_mo_gsm7");
    let s = sm(&p);
    assert_eq!(
        (s.source_addr.as_ref(), s.destination_addr.as_ref()),
        (&b"447700900001"[..], &b"12345"[..])
    );
    assert_eq!(s.short_message, "MO hello Kannel");
    assert!(!s.is_receipt());

    let p = load("drivesmpp_deliver_sm_seq0");
    assert_eq!(p.sequence_number, 0);
    let s = sm(&p);
    assert_eq!(s.esm_class, 0);
    assert_eq!(s.short_message, "1");
    assert_eq!(
        (s.source_addr.as_ref(), s.destination_addr.as_ref()),
        (&b"456"[..], &b"123"[..])
    );
    assert_eq!(
        s.tlvs.receipted_message_id().unwrap(),
        "receipted_message_id"
    );
    assert!(s.is_receipt(), "receipted_message_id TLV marks a receipt");
}

#[test]
fn message_id_responses_absent_empty_and_filled() {
    let p = load("nodesmpp_submit_sm_resp");
    let Body::SubmitSmResp(r) = &p.body else {
        panic!()
    };
    assert_eq!(r.message_id.as_deref(), Some(&b"00000001"[..]));
    assert_eq!(p.command_status, status::ESME_ROK);

    let p = load("nodesmpp_submit_sm_resp_throttled");
    assert_eq!(p.command_status, status::ESME_RTHROTTLED);
    let Body::SubmitSmResp(r) = &p.body else {
        panic!()
    };
    assert_eq!(r.message_id, None, "header-only error response");

    for name in ["kannel_deliver_sm_resp", "smpplib_deliver_sm_resp"] {
        let Body::DeliverSmResp(r) = load(name).body else {
            panic!()
        };
        assert_eq!(r.message_id.as_deref(), Some(&b""[..]), "{name}: lone 00");
    }
}

#[test]
fn header_only_pdus() {
    let p = load("nodesmpp_generic_nack");
    assert_eq!(
        (p.body.clone(), p.command_status),
        (Body::GenericNack, status::ESME_RINVCMDID)
    );
    assert_eq!(load("kannel_unbind").sequence_number, 0x22f5);
    assert_eq!(load("nodesmpp_unbind_resp").body, Body::UnbindResp);
    assert_eq!(load("smpplib_enquire_link").body, Body::EnquireLink);
    assert_eq!(load("kannel_enquire_link_resp").body, Body::EnquireLinkResp);
}
