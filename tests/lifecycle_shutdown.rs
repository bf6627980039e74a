//! The real `optgate` binary stopped by SIGTERM in the middle of a burst
//! (some submits with the carrier, some in the carrier bind's queue):
//! every submit the platform sent gets exactly one submit_sm_resp (the
//! carrier's answer, or a temporary error so the platform retries
//! elsewhere), none is left unanswered, and the process exits within the
//! grace period.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::binary::Setup;
use common::*;
use optgate::pdu::{command as cmd, status, Body, Pdu};

/// `shutdown_grace` in the test config.
const GRACE: Duration = Duration::from_secs(3);
const BURST: u32 = 300;

/// `crm` never binds: MOs to its number are stored for later.
const ACCOUNTS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[server.accounts]]
system_id = "crm"
password = "secret2"
numbers = ["14155550200"]
"#;

/// Statuses that tell a platform to try again (not a final refusal).
fn temporary(code: u32) -> bool {
    matches!(
        code,
        status::ESME_RTHROTTLED | status::ESME_RSYSERR | status::ESME_RMSGQFUL
    )
}

#[tokio::test]
async fn sigterm_mid_burst_answers_every_submit() {
    let s = Setup::new(ACCOUNTS).await;
    // A window of 400 on the platform side: the whole burst is in flight
    // at once. The carrier answers one submit per 5 ms, so at SIGTERM some
    // submits are with the carrier (100, half a second of its work), some
    // wait in the bind's queue or the session and the rest were refused at
    // once (queue full). The carrier answers one at a time and reaches
    // optgate's unbind only after every submit sent before it, which must
    // be by three quarters of `shutdown_grace` (2.25 s), when phase 2 stops
    // waiting: at 5 ms even the whole burst takes 1.5 s. (At 20 ms a submit
    // the test depended on how many of the waiting requests the bind still
    // sent in phase 1: 101 in most runs, 113–147 in some, which ran past
    // 2.25 s.)
    s.write(400, ACCOUNTS);
    s.carrier.delay_ms.store(5, Ordering::Relaxed);
    let mut og = s.start().await;
    let (mut p, st) = og.bind("pbx", "secret").await;
    assert_eq!(st, status::ESME_ROK);

    for i in 0..BURST {
        let mut req = submit("14155550100", "14155551234", &format!("burst {i}"));
        req.sequence_number = 1000 + i;
        p.send(&req).await;
    }
    // The first ESME_RTHROTTLED means the bind's queue is full: requests
    // are now with the carrier and in the queue behind them.
    let mut answers: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    loop {
        let pdu = p.recv().await;
        assert_eq!(pdu.command_id(), cmd::SUBMIT_SM_RESP);
        answers
            .entry(pdu.sequence_number)
            .or_default()
            .push(pdu.command_status);
        if pdu.command_status == status::ESME_RTHROTTLED {
            break;
        }
    }
    let t0 = Instant::now();
    og.signal("-TERM");
    // Phase 1: the carrier bind still serves; an MO arriving now is stored
    // and acknowledged.
    let carrier = s.carrier.clone();
    let mo_during_drain = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        carrier
            .try_deliver(mo("14155559999", "14155550200", "late MO"), GRACE)
            .await
    });

    let mut unbinds = 0;
    while let Some(pdu) = p.try_recv(GRACE + Duration::from_secs(2)).await {
        match pdu.command_id() {
            cmd::SUBMIT_SM_RESP => answers
                .entry(pdu.sequence_number)
                .or_default()
                .push(pdu.command_status),
            cmd::UNBIND => {
                unbinds += 1;
                p.send(&Pdu::new(pdu.sequence_number, Body::UnbindResp))
                    .await;
            }
            cmd::ENQUIRE_LINK => {
                p.send(&Pdu::new(pdu.sequence_number, Body::EnquireLinkResp))
                    .await
            }
            other => panic!("unexpected {other:#x}"),
        }
    }
    let exit = og.exited_within(GRACE + Duration::from_secs(3)).await;
    assert!(
        exit.is_some_and(|e| e.code() == Some(0)),
        "exit {exit:?}; log:\n{}",
        og.log()
    );
    assert!(
        t0.elapsed() < GRACE + Duration::from_secs(3),
        "stopped in {:?}",
        t0.elapsed()
    );
    assert_eq!(unbinds, 1, "the platform is unbound once");

    let missing: Vec<u32> = (1000..1000 + BURST)
        .filter(|s| !answers.contains_key(s))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {BURST} submits never answered (first: {:?}); log:\n{}",
        missing.len(),
        missing.first(),
        og.log()
    );
    let twice: Vec<_> = answers.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "answered more than once: {twice:?}");
    let ok = answers
        .values()
        .filter(|v| v[0] == status::ESME_ROK)
        .count();
    let mut by: BTreeMap<u32, usize> = BTreeMap::new();
    for v in answers.values() {
        *by.entry(v[0]).or_default() += 1;
    }
    eprintln!(
        "answers by status {by:?}; the carrier saw {} submits",
        s.carrier.submits().len()
    );
    let bad: Vec<_> = answers
        .iter()
        .filter(|(_, v)| v[0] != status::ESME_ROK && !temporary(v[0]))
        .collect();
    assert!(bad.is_empty(), "final refusals: {bad:?}");
    assert!(ok >= 20, "the carrier's answers are relayed ({ok} OK)");
    // The bind takes 100 requests in flight and queues 100 more (upstream
    // window 100); the rest of the burst is refused at once. What waits at
    // SIGTERM is either still sent in phase 1, as the carrier's answers free
    // the window, or refused with ESME_RTHROTTLED: which is a matter of
    // timing (where each request was at the signal; 101 to 201 reached the
    // carrier in runs of this test), so the split is not asserted, only that each was answered once (above)
    // and that the refusals are the temporary ESME_RTHROTTLED.
    let throttled = answers
        .values()
        .filter(|v| v[0] == status::ESME_RTHROTTLED)
        .count();
    assert!(throttled > 0, "the burst overflows the bind's queue");
    assert_eq!(s.carrier.log.lock().unwrap().unbinds, 1, "carrier unbound");
    let mo_resp = mo_during_drain.await.unwrap();
    assert_eq!(
        mo_resp.map(|r| r.command_status),
        Some(status::ESME_ROK),
        "an MO during phase 1 is stored and acknowledged"
    );
}
