//! A real SMPP client nobody here wrote: python `smpplib` (PyPI) as a platform
//! in front of optgate, with the fake carrier behind it.
//!
//! The interpreter comes from `$OPTGATE_TEST_PYTHON`, then `.venv/bin/python`,
//! then `python3`; the first one that can `import smpplib` is used. If none
//! can, the test fails and says how to set one up (`scripts/test` always does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::script::Script;
use common::*;
use optgate::pdu::{Body, Pdu, Sm};
use optgate::text::coding::{self, DefaultAlphabet};
use optgate::text::udh;
use serde_json::Value;

const SCRIPT: &str = "tests/peers/smpplib_client.py";
// Must match the script.
const GSM_TEXT: &str = "@ £ $ { } GSM";
const UCS2_TEXT: &str = "Привет 你好";
const SOURCE: &str = "14155550100";
const DEST: &str = "14155551234";

/// The interpreter that can import smpplib, or a failure telling how to get one.
fn python() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = "install it with `scripts/test` (or `python3 -m venv .venv && \
        .venv/bin/pip install smpplib==2.2.4`)";
    let imports = |py: &str| {
        Command::new(py)
            .args(["-c", "import smpplib"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Some(py) = std::env::var("OPTGATE_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    {
        assert!(
            imports(&py),
            "OPTGATE_TEST_PYTHON={py} cannot import smpplib: {setup}"
        );
        return py;
    }
    let venv: PathBuf = root.join(".venv/bin/python");
    let candidates = [venv.display().to_string(), "python3".to_string()];
    candidates
        .into_iter()
        .find(|py| imports(py))
        .unwrap_or_else(|| {
            panic!("python smpplib is missing (no .venv/bin/python or python3 imports it): {setup}")
        })
}

/// Starts the smpplib client script against optgate at `addr`.
/// With `ca`, over TLS trusting that CA file.
fn start_script(
    addr: std::net::SocketAddr,
    system_id: &str,
    password: &str,
    ca: Option<&str>,
) -> Script {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT);
    let port = addr.port().to_string();
    let mut cmd = Command::new(python());
    cmd.arg(&script)
        .args(["127.0.0.1", &port, system_id, password, SOURCE, DEST])
        .args(ca)
        .stdin(Stdio::null());
    Script::spawn("smpplib", cmd)
}

fn sm_of(p: &Pdu) -> &Sm {
    match &p.body {
        Body::SubmitSm(s) => s,
        other => panic!("not a submit_sm: {other:?}"),
    }
}

fn decode(sm: &Sm, body: &[u8]) -> String {
    coding::decode(sm.data_coding, body, DefaultAlphabet::Gsm7).expect("a text coding")
}

/// The three messages smpplib sent, as the carrier got them.
fn check_carrier_bytes(submits: &[Pdu]) -> String {
    assert_eq!(submits.len(), 4, "1 GSM + 1 UCS-2 + 2 parts");
    let sms: Vec<&Sm> = submits.iter().map(sm_of).collect();
    for sm in &sms {
        assert_eq!(&sm.source_addr[..], SOURCE.as_bytes());
        assert_eq!(&sm.destination_addr[..], DEST.as_bytes());
        assert_eq!(sm.registered_delivery, 1);
    }
    let singles: Vec<&&Sm> = sms.iter().filter(|s| s.esm_class & 0x40 == 0).collect();
    let gsm = singles
        .iter()
        .find(|s| s.data_coding == 0)
        .expect("GSM submit");
    // '@' is 0x00 and '{' '}' are escapes: byte-exact through the proxy.
    assert_eq!(
        &gsm.short_message[..11],
        &[0x00, 0x20, 0x01, 0x20, 0x02, 0x20, 0x1B, 0x28, 0x20, 0x1B, 0x29]
    );
    assert_eq!(decode(gsm, &gsm.short_message), GSM_TEXT);
    let ucs2 = singles.iter().find(|s| s.data_coding == 8).expect("UCS-2");
    assert_eq!(decode(ucs2, &ucs2.short_message), UCS2_TEXT);

    let mut parts: Vec<(udh::Concat, String)> = sms
        .iter()
        .filter(|s| s.esm_class & 0x40 != 0)
        .map(|s| {
            assert_eq!(s.data_coding, 0);
            let (h, len) = udh::parse(&s.short_message).expect("a UDH");
            let c = h.concat().expect("a concatenation IE");
            (c, decode(s, &s.short_message[len..]))
        })
        .collect();
    assert_eq!(parts.len(), 2);
    parts.sort_by_key(|(c, _)| c.seq);
    assert_eq!(parts[0].0.reference, parts[1].0.reference, "one reference");
    assert_eq!(
        parts
            .iter()
            .map(|(c, _)| (c.total, c.seq))
            .collect::<Vec<_>>(),
        [(2, 1), (2, 2)]
    );
    parts.into_iter().map(|(_, t)| t).collect()
}

#[tokio::test]
async fn smpplib_platform_end_to_end() {
    end_to_end(false).await;
}

/// The same over optgate's TLS listener, with a certificate made now.
#[tokio::test]
async fn smpplib_platform_end_to_end_over_tls() {
    end_to_end(true).await;
}

async fn end_to_end(tls: bool) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = common::certs::Ca::new(dir.path(), "optgate-test");
    let server = ca.leaf("server", "localhost", &["localhost", "127.0.0.1"]);
    let extra = if tls {
        format!(
            "{TWO_ACCOUNTS}\n[server.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
            server.cert(),
            server.key()
        )
    } else {
        TWO_ACCOUNTS.to_string()
    };
    let mut cfg = config(&carrier.address(), dir.path(), &extra);
    let grace = Duration::from_secs(5);
    cfg.server.shutdown_grace = grace;
    let d = common::start_daemon(&carrier, &cfg).await;

    let mut py = if tls {
        start_script(d.tls_addr().unwrap(), "pbx", "secret", Some(&ca.path()))
    } else {
        start_script(d.smpp_addr(), "pbx", "secret", None)
    };
    let bound = py.next().await;
    assert_eq!(bound["event"], "bound");
    assert_eq!(bound["status"], 0);
    // smpplib's first sequence number is 2; the answer must carry it back.
    assert_eq!(bound["sequence"], 2);
    assert_eq!(bound["system_id"], "optgate");

    let events = py.until("ready").await;
    let sent: Vec<&Value> = events.iter().filter(|e| e["event"] == "sent").collect();
    let resps: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "submit_sm_resp")
        .collect();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2]["parts"], 2, "make_parts split the long text");
    let mut want: Vec<u64> = sent
        .iter()
        .flat_map(|e| e["sequences"].as_array().unwrap().clone())
        .map(|s| s.as_u64().unwrap())
        .collect();
    let mut got: Vec<u64> = resps
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "every submit answered under its own sequence");
    assert!(resps.iter().all(|e| e["status"] == 0));

    let long = check_carrier_bytes(&carrier.wait_submits(4).await);
    assert_eq!(long, sent[2]["text"].as_str().unwrap());

    // An MO in UCS-2 and a receipt for the first message.
    let mut m = mo("14155553333", SOURCE, "");
    if let Body::DeliverSm(s) = &mut m.body {
        s.data_coding = 8;
        s.short_message = coding::encode("Grüße ☺", 8, DefaultAlphabet::Gsm7)
            .unwrap()
            .into();
    }
    assert_eq!(carrier.deliver(m).await.command_status, 0);
    let first_id = resps[0]["message_id"].as_str().unwrap().to_string();
    let r = carrier.deliver(receipt(&first_id, DEST, SOURCE)).await;
    assert_eq!(r.command_status, 0);

    let events = py.until("done").await;
    let delivered: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "deliver_sm")
        .collect();
    assert_eq!(delivered.len(), 2);
    let mo = delivered.iter().find(|e| e["esm_class"] == 0).expect("MO");
    assert_eq!(mo["text"], "Grüße ☺");
    assert_eq!(mo["source"], "14155553333");
    let dlr = delivered.iter().find(|e| e["esm_class"] == 4).expect("DLR");
    assert_eq!(dlr["receipted_message_id"], first_id.as_str());
    assert!(dlr["text"]
        .as_str()
        .unwrap()
        .contains(&format!("id:{first_id}")));

    // smpplib never answers our unbind: shutdown must still finish in grace.
    let t0 = Instant::now();
    d.shutdown(grace).await;
    let took = t0.elapsed();
    let rest = py.until("closed").await;
    assert!(
        rest.iter().any(|e| e["event"] == "unbind"),
        "smpplib saw optgate's unbind: {rest:?}"
    );
    assert!(took < grace, "shutdown took {took:?}, grace {grace:?}");
    let status = py.child().wait().unwrap();
    assert!(status.success(), "script exit {status:?}");
}
