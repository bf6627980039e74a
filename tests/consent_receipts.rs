//! Receipts for released held messages reach the platform under the
//! optgate id it was given, whatever shape the carrier's receipt has:
//! `id:` or `ID:` in the text, deliver_sm or data_sm, with or without the
//! receipted_message_id TLV.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use optgate::pdu::{command as cmd, tags, Body, DataSm, MessageIdResp, Pdu, Text};

const OPTIN: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[campaigns]]
id = "optin"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"
"#;

const BIZ: &str = "14155550100";
const MOBILE: &str = "14155559001";

/// The shapes of receipt a carrier may send for message `id`.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// deliver_sm, text `ID:...`, no TLV.
    DeliverUpperText,
    /// data_sm, text `id:...` in message_payload and the TLV.
    DataSmWithTlv,
    /// data_sm, text `Id:...` in message_payload only.
    DataSmTextOnly,
}

fn receipt_text(key: &str, id: &str) -> String {
    format!("{key}{id} sub:001 dlvrd:001 submit date:2611270000 done date:2611270001 stat:DELIVRD err:000 text:x")
}

fn carrier_receipt(shape: Shape, id: &str) -> Pdu {
    match shape {
        Shape::DeliverUpperText => {
            let mut s = sm(MOBILE, BIZ, &receipt_text("ID:", id));
            s.esm_class = 0x04;
            Pdu::new(0, Body::DeliverSm(Box::new(s)))
        }
        Shape::DataSmWithTlv | Shape::DataSmTextOnly => {
            let (key, tlv) = match shape {
                Shape::DataSmWithTlv => ("id:", true),
                _ => ("Id:", false),
            };
            let mut d = DataSm {
                source_addr_ton: 1,
                source_addr_npi: 1,
                source_addr: Text::from_static(MOBILE.as_bytes()),
                dest_addr_ton: 1,
                dest_addr_npi: 1,
                destination_addr: Text::from_static(BIZ.as_bytes()),
                esm_class: 0x04,
                ..Default::default()
            };
            d.tlvs
                .set(tags::MESSAGE_PAYLOAD, receipt_text(key, id).into_bytes());
            if tlv {
                d.tlvs
                    .set_cstring(tags::RECEIPTED_MESSAGE_ID, id.as_bytes());
            }
            Pdu::new(0, Body::DataSm(Box::new(d)))
        }
    }
}

/// The text and receipted_message_id of a receipt the platform got.
fn seen(p: &Pdu) -> (String, Option<String>) {
    let (text, tlvs) = match &p.body {
        Body::DeliverSm(s) => (s.message_bytes().clone(), &s.tlvs),
        Body::DataSm(d) => (d.message_bytes().clone(), &d.tlvs),
        other => panic!("not a receipt: {other:?}"),
    };
    let tlv = tlvs
        .receipted_message_id()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    (String::from_utf8_lossy(&text).into_owned(), tlv)
}

/// The next deliver_sm / data_sm to the platform, acknowledged.
async fn take_receipt(p: &mut Esme) -> Pdu {
    loop {
        let pdu = p.recv().await;
        let resp = match pdu.command_id() {
            cmd::DELIVER_SM => Body::DeliverSmResp(MessageIdResp::new(Bytes::new())),
            cmd::DATA_SM => Body::DataSmResp(MessageIdResp::new(Bytes::new())),
            cmd::ENQUIRE_LINK => {
                p.send(&Pdu::new(pdu.sequence_number, Body::EnquireLinkResp))
                    .await;
                continue;
            }
            other => panic!("unexpected {other:#x}"),
        };
        p.send(&Pdu::response_to(&pdu, 0, resp)).await;
        return pdu;
    }
}

#[tokio::test]
async fn receipts_of_released_messages_carry_the_optgate_id_in_every_shape() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&carrier.address(), dir.path(), OPTIN);
    let daemon = common::start_daemon(&carrier, &cfg).await;
    let mut p = Esme::connect(daemon.smpp_addr()).await;
    let bound = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(bound.command_status, 0);

    let shapes = [
        Shape::DeliverUpperText,
        Shape::DataSmWithTlv,
        Shape::DataSmTextOnly,
    ];
    // One held message per shape, each asking for a receipt.
    let mut held_ids = Vec::new();
    for (i, _) in shapes.iter().enumerate() {
        let mut req = submit(BIZ, MOBILE, &format!("held {i}"));
        if let Body::SubmitSm(s) = &mut req.body {
            s.registered_delivery = 1;
        }
        let (a, _) = p.request(req).await;
        assert_eq!(a.command_status, 0, "held messages are accepted");
        let Body::SubmitSmResp(r) = &a.body else {
            panic!("{a:?}")
        };
        held_ids.push(String::from_utf8_lossy(r.message_id.as_deref().unwrap()).into_owned());
    }
    // START releases them; the MO reaches the platform.
    assert_eq!(
        carrier
            .deliver(mo(MOBILE, BIZ, "start"))
            .await
            .command_status,
        0
    );
    wait_until(|| {
        carrier
            .submits()
            .iter()
            .filter(|s| text_of(s).starts_with("held "))
            .count()
            == shapes.len()
    })
    .await;
    let m = take_receipt(&mut p).await;
    assert_eq!(text_of(&m), "start");

    for (i, shape) in shapes.iter().enumerate() {
        // The fake carrier's ids are c<N> in the order it received submits.
        let n = carrier
            .submits()
            .iter()
            .position(|s| text_of(s) == format!("held {i}"))
            .unwrap();
        let carrier_id = format!("c{}", n + 1);
        let resp = carrier.deliver(carrier_receipt(*shape, &carrier_id)).await;
        assert_eq!(resp.command_status, 0, "{shape:?} acknowledged");
        let dlr = tokio::time::timeout(Duration::from_secs(10), take_receipt(&mut p))
            .await
            .unwrap();
        let (text, tlv) = seen(&dlr);
        let held = &held_ids[i];
        assert!(
            !text.contains(&carrier_id),
            "{shape:?}: the carrier's id is gone from the text: {text}"
        );
        assert!(
            text[..3].eq_ignore_ascii_case("id:") && text[3..].starts_with(&format!("{held} ")),
            "{shape:?}: the text carries the optgate id {held}: {text}"
        );
        match shape {
            Shape::DataSmWithTlv => assert_eq!(tlv.as_deref(), Some(held.as_str()), "{shape:?}"),
            _ => assert_eq!(tlv, None, "{shape:?}: no TLV added"),
        }
        assert_eq!(
            dlr.command_id(),
            carrier_receipt(*shape, "x").command_id(),
            "{shape:?}: the platform gets the command the carrier sent"
        );
    }
    daemon.shutdown(Duration::from_secs(2)).await;
}
