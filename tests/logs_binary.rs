//! Logs fit their destination: the real binary with stderr to a file writes
//! no ANSI escape codes, and a platform sending a flood of malformed PDUs
//! and bad binds gets at most one warning a second, the next one saying
//! how many were suppressed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::binary::Setup;
use optgate::pdu::status;

const PBX: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;

/// A well-framed PDU with an unknown command id: answered generic_nack.
fn bad_pdu(seq: u8) -> [u8; 16] {
    [0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, seq]
}

#[tokio::test]
async fn a_log_file_has_no_colour_and_peer_warnings_are_rate_limited() {
    let s = Setup::new(PBX).await;
    let og = s.start().await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);

    // 200 malformed PDUs within well under a second: one warning line.
    let started = Instant::now();
    for i in 0..200u32 {
        p.send_raw(&bad_pdu(i as u8)).await;
        p.recv().await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "too slow to test"
    );
    og.wait_log("malformed PDU answered", 1).await;
    // After the second is over, the next one passes with the count.
    tokio::time::sleep_until((started + Duration::from_millis(1100)).into()).await;
    p.send_raw(&bad_pdu(1)).await;
    p.recv().await;
    og.wait_log("malformed PDU answered", 2).await;
    let log = og.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("malformed PDU answered"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[1].contains("suppressed=199"), "{}", lines[1]);

    // Refused binds from one address are limited the same way (the limit
    // is per address, over all its warnings: let this second pass first).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    for _ in 0..10 {
        let (_, st) = og.bind("pbx", "wrong").await;
        assert_ne!(st, status::ESME_ROK);
    }
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "too slow to test"
    );
    og.wait_log("bind refused", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = og.log();
    assert_eq!(log.matches("bind refused").count(), 1, "{log}");

    // Text logs into a file: no escape codes at all.
    assert!(log.contains("optgate started"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file:\n{log:?}"
    );
}
