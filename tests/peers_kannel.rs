//! A real SMPP client nobody here wrote: Kannel 1.4 (Debian package
//! `kannel`) as the platform in front of optgate, with the fake carrier
//! behind it. Kannel's boxes run as child processes on loopback ports; the
//! test talks to Kannel over its HTTP sendsms interface and catches its MO and
//! receipt callbacks with a small HTTP sink.
//!
//! Kannel writes numbers without `+` as national (TON 2), so the optgate
//! account owns its number in international form and routing relies on
//! number normalisation (`[numbers] default_country_code = "1"`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod kannel;

use std::time::Duration;

use common::*;
use kannel::{urlencode, Kannel, Mode, Setup, Sink};
use optgate::daemon::Daemon;
use optgate::pdu::{Body, Pdu, Sm};
use optgate::text::coding::{self, DefaultAlphabet};
use optgate::text::udh;

/// The business number as Kannel writes it (national, TON 2) and as the
/// account and the carrier know it (international).
const FROM_NATIONAL: &str = "4155550100";
const FROM_INTL: &str = "14155550100";
const TO_NATIONAL: &str = "4155551234";
const TO_INTL: &str = "14155551234";
const GSM_TEXT: &str = "@ £ $ { } GSM";
const UCS2_TEXT: &str = "Привет 你好";

fn account(system_id: &str) -> String {
    format!(
        r#"
[[server.accounts]]
system_id = "{system_id}"
password = "kpass"
numbers = ["+{FROM_INTL}"]
max_binds = 2
"#
    )
}

struct Rig {
    carrier: FakeCarrier,
    // Kept alive for the whole test.
    _daemon: Daemon,
    sink: Sink,
    kannel: Kannel,
    _dir: tempfile::TempDir,
}

async fn rig(system_id: &str, mode: Mode, extra: &str) -> Rig {
    rig_with(system_id, mode, extra, false).await
}

/// With `tls`, Kannel binds to optgate's TLS listener (`use-ssl`),
/// trusting a CA made for the test.
async fn rig_with(system_id: &str, mode: Mode, extra: &str, tls: bool) -> Rig {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = common::certs::Ca::new(dir.path(), "optgate-test");
    let server = ca.leaf("server", "localhost", &["localhost", "127.0.0.1"]);
    let mut toml = format!("{}{extra}", account(system_id));
    if tls {
        toml.push_str(&format!(
            "\n[server.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
            server.cert(),
            server.key()
        ));
    }
    let cfg = config(&carrier.address(), dir.path(), &toml);
    let daemon = common::start_daemon(&carrier, &cfg).await;
    let sink = Sink::start().await;
    let kannel = Kannel::start(&Setup {
        optgate: if tls {
            daemon.tls_addr().unwrap()
        } else {
            daemon.smpp_addr()
        },
        system_id: system_id.into(),
        password: "kpass".into(),
        mode,
        sink: sink.addr,
        tls_ca: tls.then(|| ca.path()),
    })
    .await;
    Rig {
        carrier,
        _daemon: daemon,
        sink,
        kannel,
        _dir: dir,
    }
}

fn sm_of(p: &Pdu) -> &Sm {
    match &p.body {
        Body::SubmitSm(s) => s,
        other => panic!("not a submit_sm: {other:?}"),
    }
}

/// The dlr-url for a message tagged `tag`; Kannel fills in %d (type) and %A.
fn dlr_url(sink: &Sink, tag: &str) -> String {
    urlencode(&format!(
        "http://{}/dlr?tag={tag}&type=%d&reply=%A&to=%p",
        sink.addr
    ))
}

/// sendsms `text` (GSM by default) from the national sender; extra params.
async fn send(r: &Rig, to: &str, text: &str, tag: &str, extra: &[(&str, String)]) {
    let mut params = vec![
        ("from", FROM_NATIONAL.to_string()),
        ("to", to.to_string()),
        ("text", urlencode(text)),
        ("dlr-mask", "31".to_string()),
        ("dlr-url", dlr_url(&r.sink, tag)),
    ];
    params.extend_from_slice(extra);
    let (status, body) = r.kannel.sendsms(&params).await;
    assert_eq!(status, 202, "sendsms answered {status} {body}");
}

fn decode(sm: &Sm, body: &[u8]) -> String {
    coding::decode(sm.data_coding, body, DefaultAlphabet::Gsm7).expect("a text coding")
}

/// 200 GSM characters: Kannel splits them into two parts of 153 septets.
fn long_text() -> String {
    "The quick brown fox jumps over the lazy dog 0123456789. ".repeat(4)[..200].to_string()
}

/// The three messages of the transceiver scenario as the carrier got them:
/// byte-exact GSM, UCS-2, and two concatenated parts that reassemble.
fn check_submits(subs: &[Pdu]) {
    assert_eq!(subs.len(), 4, "1 GSM + 1 UCS-2 + 2 parts");
    let sms: Vec<&Sm> = subs.iter().map(sm_of).collect();
    for sm in &sms {
        // optgate forwards Kannel's national addresses unchanged.
        assert_eq!(
            (sm.source_addr_ton, &sm.source_addr[..]),
            (2, FROM_NATIONAL.as_bytes())
        );
        assert_eq!(
            (sm.dest_addr_ton, &sm.destination_addr[..]),
            (2, TO_NATIONAL.as_bytes())
        );
    }
    let gsm = sms[0];
    assert_eq!((gsm.data_coding, gsm.registered_delivery), (0, 0x11));
    // '@' is 0x00, '{' '}' are escapes: byte-exact through the proxy.
    assert_eq!(&gsm.short_message[..], b"\x00 \x01 \x02 \x1b( \x1b) GSM");
    let ucs2 = sms[1];
    assert_eq!(ucs2.data_coding, 8);
    assert_eq!(decode(ucs2, &ucs2.short_message), UCS2_TEXT);

    let mut text = String::new();
    for (i, sm) in sms[2..].iter().enumerate() {
        assert_eq!(sm.esm_class & 0x40, 0x40, "UDH indicator");
        let (h, len) = udh::parse(&sm.short_message).expect("a UDH");
        let c = h.concat().expect("a concatenation IE");
        assert_eq!((c.total, usize::from(c.seq)), (2, i + 1));
        // Kannel asks for a receipt on the first part only.
        let want = if i == 0 { 0x11 } else { 0 };
        assert_eq!(sm.registered_delivery, want, "part {}", i + 1);
        text.push_str(&decode(sm, &sm.short_message[len..]));
    }
    assert_eq!(text, long_text());
}

#[tokio::test]
async fn kannel_transceiver_end_to_end() {
    let mut r = rig("kannel", Mode::Transceiver, "").await;

    send(&r, TO_NATIONAL, GSM_TEXT, "gsm", &[]).await;
    r.carrier.wait_submits(1).await;
    let ucs2 = [("charset", "UTF-8".into()), ("coding", "2".into())];
    send(&r, TO_NATIONAL, UCS2_TEXT, "ucs2", &ucs2).await;
    r.carrier.wait_submits(2).await;
    send(&r, TO_NATIONAL, &long_text(), "long", &[]).await;
    check_submits(&r.carrier.wait_submits(4).await);

    // Each submit_sm_resp OK reached Kannel: its "SMSC accepted" report.
    for tag in ["gsm", "ucs2", "long"] {
        r.sink
            .wait(&format!("ACK for {tag}"), |h| {
                h.path == "/dlr" && h.get("tag") == tag && h.get("type") == "8"
            })
            .await;
    }

    // Receipts for the GSM message and the first long part, by carrier id
    // (the fake carrier numbers its ids c1, c2, ... in arrival order).
    for (id, tag) in [("c1", "gsm"), ("c3", "long")] {
        let resp = r.carrier.deliver(receipt(id, TO_INTL, FROM_INTL)).await;
        assert_eq!(resp.command_status, 0);
        let dlr = r
            .sink
            .wait(&format!("receipt for {tag}"), |h| {
                h.path == "/dlr" && h.get("tag") == tag && h.get("type") == "1"
            })
            .await;
        assert!(dlr.get("reply").contains(&format!("id:{id}")), "{dlr:?}");
    }

    // An MO to the business number reaches Kannel's get-url.
    let resp = r
        .carrier
        .deliver(mo("14155553333", FROM_INTL, "Hello from a phone"))
        .await;
    assert_eq!(resp.command_status, 0);
    let m = r.sink.wait("MO", |h| h.path == "/mo").await;
    assert_eq!(m.get("text"), "Hello from a phone");
    assert_eq!(m.get("from"), "+14155553333");
    assert_eq!(m.get("to"), format!("+{FROM_INTL}"));
    assert_eq!(m.get("coding"), "0");

    // Kannel's own unbind at shutdown: optgate answers it, status 0.
    shutdown_cleanly(&mut r, 1).await;
}

/// Kannel's bearerbox binds over TLS (`use-ssl`): a message, its receipt
/// and an MO end to end.
#[tokio::test]
async fn kannel_over_tls_end_to_end() {
    let mut r = rig_with("kannel", Mode::Transceiver, "", true).await;
    send(&r, TO_NATIONAL, GSM_TEXT, "gsm", &[]).await;
    let subs = r.carrier.wait_submits(1).await;
    assert_eq!(
        &sm_of(&subs[0]).short_message[..],
        b"\x00 \x01 \x02 \x1b( \x1b) GSM"
    );
    r.sink
        .wait("ACK for gsm", |h| {
            h.path == "/dlr" && h.get("tag") == "gsm" && h.get("type") == "8"
        })
        .await;
    let resp = r.carrier.deliver(receipt("c1", TO_INTL, FROM_INTL)).await;
    assert_eq!(resp.command_status, 0);
    let dlr = r
        .sink
        .wait("receipt for gsm", |h| {
            h.path == "/dlr" && h.get("tag") == "gsm" && h.get("type") == "1"
        })
        .await;
    assert!(dlr.get("reply").contains("id:c1"), "{dlr:?}");
    let resp = r
        .carrier
        .deliver(mo("14155553333", FROM_INTL, "Hello over TLS"))
        .await;
    assert_eq!(resp.command_status, 0);
    let m = r.sink.wait("MO", |h| h.path == "/mo").await;
    assert_eq!(m.get("text"), "Hello over TLS");
    shutdown_cleanly(&mut r, 1).await;
}

/// Stops Kannel through its admin /shutdown and checks that each of its
/// `binds` sent an unbind that optgate answered with an OK unbind_resp.
async fn shutdown_cleanly(r: &mut Rig, binds: usize) {
    r.kannel.shutdown().await;
    let pdus = r.kannel.pdus();
    let unbinds = pdus.iter().filter(|(sent, n, _)| *sent && n == "unbind");
    let resps: Vec<u32> = pdus
        .iter()
        .filter(|(sent, n, _)| !*sent && n == "unbind_resp")
        .map(|(_, _, s)| *s)
        .collect();
    assert_eq!(unbinds.count(), binds, "{pdus:?}");
    assert_eq!(resps, vec![0; binds], "{pdus:?}");
    assert!(
        !pdus
            .iter()
            .any(|(sent, n, _)| !*sent && n == "generic_nack"),
        "{pdus:?}"
    );
}

#[tokio::test]
async fn kannel_transmitter_receiver_pair() {
    let mut r = rig("kannel_pair", Mode::Pair, "").await;
    let binds: Vec<(String, u32)> = r
        .kannel
        .pdus()
        .into_iter()
        .filter(|(sent, n, _)| !sent && n.starts_with("bind_"))
        .map(|(_, n, s)| (n, s))
        .collect();
    let mut names: Vec<&str> = binds.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["bind_receiver_resp", "bind_transmitter_resp"]);
    assert!(binds.iter().all(|(_, s)| *s == 0), "{binds:?}");

    send(&r, TO_NATIONAL, GSM_TEXT, "pair", &[]).await;
    let subs = r.carrier.wait_submits(1).await;
    assert_eq!(
        &sm_of(&subs[0]).destination_addr[..],
        TO_NATIONAL.as_bytes()
    );
    r.sink
        .wait("ACK", |h| h.get("tag") == "pair" && h.get("type") == "8")
        .await;

    // Receipt and MO come back over the receiver bind.
    let resp = r.carrier.deliver(receipt("c1", TO_INTL, FROM_INTL)).await;
    assert_eq!(resp.command_status, 0);
    r.sink
        .wait("receipt", |h| {
            h.get("tag") == "pair" && h.get("type") == "1"
        })
        .await;
    let resp = r
        .carrier
        .deliver(mo("14155553333", FROM_INTL, "pair mo"))
        .await;
    assert_eq!(resp.command_status, 0);
    r.sink
        .wait("MO", |h| h.path == "/mo" && h.get("text") == "pair mo")
        .await;

    shutdown_cleanly(&mut r, 2).await;
}

const CAMPAIGN: &str = r#"
[[campaigns]]
id = "kc"
brand = "KannelCo"
numbers = ["+14155550100"]
outbound_unknown = "allow"
"#;
const OPTED_OUT: &str = "KannelCo: You are now opted-out and will receive no further messages";
const MOBILE_INTL: &str = "14155559999";
const MOBILE_NATIONAL: &str = "4155559999";

/// Submits the carrier saw for the mobile, however its number was written.
fn to_mobile(c: &FakeCarrier) -> Vec<Sm> {
    c.submits()
        .iter()
        .map(|p| sm_of(p).clone())
        .filter(|s| s.destination_addr.ends_with(MOBILE_NATIONAL.as_bytes()))
        .collect()
}

#[tokio::test]
async fn kannel_consent_stop_end_to_end() {
    let mut r = rig("kannel_consent", Mode::Transceiver, CAMPAIGN).await;

    // Before the STOP the campaign allows messages to the mobile.
    send(&r, MOBILE_NATIONAL, "Your order shipped", "before", &[]).await;
    r.carrier.wait_submits(1).await;

    // STOP at the carrier: Kannel's get-url sees the MO, the carrier gets
    // optgate's opt-out response.
    let resp = r.carrier.deliver(mo(MOBILE_INTL, FROM_INTL, "STOP")).await;
    assert_eq!(resp.command_status, 0);
    let m = r.sink.wait("STOP MO", |h| h.path == "/mo").await;
    assert_eq!(
        (m.get("text"), m.get("from")),
        ("STOP", format!("+{MOBILE_INTL}").as_str())
    );
    let subs = r.carrier.wait_submits(2).await;
    let response = sm_of(&subs[1]);
    assert_eq!(&response.destination_addr[..], MOBILE_INTL.as_bytes());
    assert_eq!(text_of(&subs[1]), OPTED_OUT);

    // Kannel's next message to the mobile is refused with the permanent
    // opted_out code, which Kannel reports as an SMSC reject (DLR 16).
    send(&r, MOBILE_NATIONAL, "One more thing", "after", &[]).await;
    let nack = r
        .sink
        .wait("reject", |h| {
            h.get("tag") == "after" && h.get("type") == "16"
        })
        .await;
    assert!(nack.get("reply").contains("0x00000400"), "{nack:?}");

    // Kannel does not retry it: with sms-resend-freq = 1 a retry would be
    // due within a second. A later message to someone else is the barrier.
    tokio::time::sleep(Duration::from_secs(3)).await;
    send(&r, TO_NATIONAL, "barrier", "barrier", &[]).await;
    r.carrier.wait_submits(3).await;
    let mobile: Vec<String> = to_mobile(&r.carrier)
        .iter()
        .map(|s| String::from_utf8_lossy(&s.short_message).into_owned())
        .collect();
    // The campaign's default footer went on the first message.
    assert_eq!(
        mobile,
        ["Your order shipped\nReply STOP to opt out.", OPTED_OUT]
    );
    let rejected = r
        .kannel
        .pdus()
        .into_iter()
        .filter(|(sent, n, s)| !sent && n == "submit_sm_resp" && *s == 0x400)
        .count();
    assert_eq!(rejected, 1, "one submit_sm_resp 0x400, no retry");

    shutdown_cleanly(&mut r, 1).await;
}
