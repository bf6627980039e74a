//! MTs decided in the store while the session reads on: a burst to
//! recipients the consent cache does not know yet reaches the carrier in
//! the order the platform sent it (also the pass-through MTs between them),
//! and an unbind sent right behind the burst is acted on only after every
//! one of its submits was handed to the carrier. (Answers the carrier has
//! not given by then are not relayed: a platform that unbinds with
//! requests outstanding loses their answers, as before.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use optgate::pdu::{command as cmd, Body, Pdu};

const CAMPAIGN: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550199"]

[[campaigns]]
id = "order"
brand = "Order"
numbers = ["14155550100"]
outbound_unknown = "allow"
attachment = "none"
"#;

const BURST: usize = 150;

#[tokio::test]
async fn a_burst_of_uncached_recipients_keeps_its_order_and_the_unbind_comes_last() {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), CAMPAIGN);
    cfg.server.window = 200;
    let d = common::start_daemon(&carrier, &cfg).await;
    let mut p = Esme::connect(d.smpp_addr()).await;
    p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;

    // Every fifth message from the sender outside the campaign (passes
    // without a decision); the others each to a new recipient, so each
    // needs the store.
    let mut seqs = Vec::new();
    for i in 0..BURST {
        let from = if i % 5 == 4 {
            "14155550199"
        } else {
            "14155550100"
        };
        let mut pdu = submit(from, &format!("1415556{i:04}"), &i.to_string());
        pdu.sequence_number = p.next_seq();
        seqs.push(pdu.sequence_number);
        p.send(&pdu).await;
    }
    let unbind_seq = p.next_seq();
    p.send(&Pdu::new(unbind_seq, Body::Unbind)).await;

    let mut answered = Vec::new();
    loop {
        let pdu = tokio::time::timeout(Duration::from_secs(20), p.recv())
            .await
            .expect("every submit and the unbind answered");
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => {
                assert_eq!(
                    pdu.command_status, 0,
                    "submit {} refused",
                    pdu.sequence_number
                );
                answered.push(pdu.sequence_number);
            }
            cmd::UNBIND_RESP => {
                assert_eq!(pdu.sequence_number, unbind_seq);
                break;
            }
            other => panic!("unexpected PDU {other:#x}"),
        }
    }
    assert!(
        answered.iter().all(|s| seqs.contains(s)),
        "answers only to the burst's submits"
    );
    let texts: Vec<String> = carrier
        .wait_submits(BURST)
        .await
        .iter()
        .map(text_of)
        .collect();
    let sent: Vec<String> = (0..BURST).map(|i| i.to_string()).collect();
    assert_eq!(
        texts, sent,
        "the carrier got the burst in the order it was sent"
    );
}
