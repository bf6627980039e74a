//! Real SMPP software nobody here wrote: node-smpp (npm package `smpp`) on
//! both sides of optgate — as a platform binding to it, and as the carrier
//! SMSC optgate binds to.
//!
//! node comes from `$OPTGATE_TEST_NODE`, else `node`; the package must be in
//! `tests/peers/node/node_modules` (`npm ci --prefix tests/peers/node`, which
//! `scripts/test` does). Without them the tests fail and say how to set them up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::script::Script;
use common::*;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, tags, Body};
use optgate::text::coding::{self, DefaultAlphabet};
use serde_json::Value;

// Must match tests/peers/node/platform.js.
const ASCII_TEXT: &str = "Hello from node-smpp";
const UCS2_TEXT: &str = "Привет 你好";
const SOURCE: &str = "14155550100";
const DEST: &str = "14155551234";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/node")
}

/// The node binary, after checking node-smpp is installed next to the scripts.
fn node() -> String {
    let node = std::env::var("OPTGATE_TEST_NODE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "node".into());
    let ok = Command::new(&node)
        .arg("-e")
        .arg("require('smpp')")
        .current_dir(node_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "node ({node}) with node-smpp is missing: install it with `scripts/test` \
         (or `npm ci --prefix tests/peers/node`)"
    );
    node
}

/// A running node script: its JSON lines arrive on `events`.
/// Starts a node-smpp script from `tests/peers/node`.
fn start_script(script: &str, args: &[&str], env: &[(&str, String)]) -> Script {
    let mut cmd = Command::new(node());
    cmd.arg(node_dir().join(script))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(node_dir())
        // carrier.js exits when its stdin closes, i.e. when we drop it.
        .stdin(Stdio::piped());
    Script::spawn("node", cmd)
}

fn of<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// A CA and a server certificate for localhost / 127.0.0.1 in `dir`.
fn pki(dir: &Path) -> (common::certs::Ca, common::certs::Files) {
    let ca = common::certs::Ca::new(dir, "optgate-test");
    let server = ca.leaf("server", "localhost", &["localhost", "127.0.0.1"]);
    (ca, server)
}

#[tokio::test]
async fn nodesmpp_platform_end_to_end() {
    platform_end_to_end(false).await;
}

/// node-smpp as a platform over optgate's TLS listener (`ssmpp://`).
#[tokio::test]
async fn nodesmpp_platform_end_to_end_over_tls() {
    platform_end_to_end(true).await;
}

async fn platform_end_to_end(tls: bool) {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, server) = pki(dir.path());
    let extra = if tls {
        format!(
            "{TWO_ACCOUNTS}\n[server.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
            server.cert(),
            server.key()
        )
    } else {
        TWO_ACCOUNTS.to_string()
    };
    let cfg = config(&carrier.address(), dir.path(), &extra);
    let d = common::start_daemon(&carrier, &cfg).await;

    let (port, env) = if tls {
        (
            d.tls_addr().unwrap().port().to_string(),
            vec![("SMPP_TLS_CA", ca.path())],
        )
    } else {
        (d.smpp_addr().port().to_string(), vec![])
    };
    let mut js = start_script(
        "platform.js",
        &["127.0.0.1", &port, "pbx", "secret", SOURCE, DEST],
        &env,
    );
    let bound = js.next().await;
    assert_eq!(bound["event"], "bound");
    assert_eq!(bound["status"], 0);
    // node-smpp binds as SMPP 5.0 and numbers from 1; optgate answers 3.4.
    assert_eq!(bound["interface_version"], 0x50);
    assert_eq!(bound["sequence"], 1);
    assert_eq!(bound["sc_interface_version"], 0x34);

    let events = js.until("ready").await;
    let resps = of(&events, "submit_sm_resp");
    assert_eq!(resps.len(), 2);
    assert!(resps.iter().all(|r| r["status"] == 0), "{resps:?}");
    // node-smpp chose data_coding 1 (IA5) for ASCII and 8 for the rest.
    assert_eq!(resps[0]["data_coding"], 1);
    assert_eq!(resps[1]["data_coding"], 8);

    let subs = carrier.wait_submits(2).await;
    let sms: Vec<_> = subs
        .iter()
        .map(|p| match &p.body {
            Body::SubmitSm(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        (sms[0].data_coding, &sms[0].short_message[..]),
        (1, ASCII_TEXT.as_bytes())
    );
    let ucs2 = coding::decode(8, &sms[1].short_message, DefaultAlphabet::Gsm7).unwrap();
    assert_eq!((sms[1].data_coding, ucs2.as_str()), (8, UCS2_TEXT));
    for s in &sms {
        assert_eq!(&s.source_addr[..], SOURCE.as_bytes());
        assert_eq!(&s.destination_addr[..], DEST.as_bytes());
    }

    // An MO and a receipt for the first message reach node-smpp.
    let resp = carrier.deliver(mo("14155553333", SOURCE, "Hi node")).await;
    assert_eq!(resp.command_status, 0);
    let first_id = resps[0]["message_id"].as_str().unwrap().to_string();
    let resp = carrier.deliver(receipt(&first_id, DEST, SOURCE)).await;
    assert_eq!(resp.command_status, 0);

    let events = js.until("done").await;
    let got = of(&events, "deliver_sm");
    assert_eq!(got.len(), 2);
    let m = got.iter().find(|e| e["esm_class"] == 0).expect("MO");
    assert_eq!(
        (m["source"].as_str(), m["text"].as_str()),
        (Some("14155553333"), Some("Hi node"))
    );
    let r = got.iter().find(|e| e["esm_class"] == 4).expect("receipt");
    assert_eq!(r["receipted_message_id"], first_id.as_str());

    // node-smpp's own unbind is answered OK.
    let rest = js.until("closed").await;
    let unbind = of(&rest, "unbind_resp");
    assert_eq!(unbind.len(), 1, "{rest:?}");
    assert_eq!(unbind[0]["status"], 0);
    let status = js.child().wait().unwrap();
    assert!(status.success(), "script exit {status:?}");
    d.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn nodesmpp_carrier_end_to_end() {
    carrier_end_to_end(false).await;
}

/// optgate binds over TLS to node-smpp's secure server, verifying its
/// certificate against a CA made for the test.
#[tokio::test]
async fn nodesmpp_carrier_end_to_end_over_tls() {
    carrier_end_to_end(true).await;
}

async fn carrier_end_to_end(tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, server) = pki(dir.path());
    let env = if tls {
        vec![
            ("SMPP_TLS_CERT", server.cert()),
            ("SMPP_TLS_KEY", server.key()),
        ]
    } else {
        vec![]
    };
    let mut smsc = start_script("carrier.js", &[], &env);
    let listening = smsc.next().await;
    assert_eq!(listening["event"], "listening");
    let addr = format!("127.0.0.1:{}", listening["port"]);
    let extra = if tls {
        format!(
            "{TWO_ACCOUNTS}\n[upstream.tls]\nenabled = true\nca = \"{}\"\nserver_name = \"localhost\"\n",
            ca.path()
        )
    } else {
        TWO_ACCOUNTS.to_string()
    };
    let cfg = config(&addr, dir.path(), &extra);
    let d = Daemon::start(&cfg, None).await.expect("daemon starts");
    let bind = smsc.until("bind").await.pop().unwrap();
    assert_eq!(
        (bind["command"].as_str(), bind["system_id"].as_str()),
        (Some("bind_transceiver"), Some("optgate"))
    );
    assert_eq!(bind["interface_version"], 0x34);
    // The bind is up once optgate read node's bind_resp, not when node read
    // the bind: before that a submit is answered ESME_RTHROTTLED.
    wait_until(|| d.upstream_binds_up() >= 1).await;

    let mut p = Esme::connect(d.smpp_addr()).await;
    let r = p.bind(cmd::BIND_TRANSCEIVER, "pbx", "secret").await;
    assert_eq!(r.command_status, 0);
    let mut msg = submit(SOURCE, DEST, "@ £ $ GSM via node");
    if let Body::SubmitSm(s) = &mut msg.body {
        s.short_message = coding::encode("@ £ $ GSM via node", 0, DefaultAlphabet::Gsm7)
            .unwrap()
            .into();
        s.registered_delivery = 1;
    }
    let (resp, mut delivered) = p.request(msg).await;
    assert_eq!(resp.command_status, 0);
    let Body::SubmitSmResp(r) = &resp.body else {
        panic!("{resp:?}")
    };
    assert_eq!(
        r.message_id.as_deref(),
        Some(&b"N1"[..]),
        "node-smpp's id passes through"
    );

    let seen = smsc.until("submit_sm").await.pop().unwrap();
    assert_eq!(seen["data_coding"], 0);
    assert_eq!(seen["text"], "@ £ $ GSM via node", "node decoded GSM 03.38");
    assert_eq!(
        (seen["source"].as_str(), seen["destination"].as_str()),
        (Some(SOURCE), Some(DEST))
    );

    // The node carrier's MO and receipt reach the platform.
    while delivered.len() < 2 {
        delivered.push(p.take_deliver().await);
    }
    let sms: Vec<_> = delivered
        .iter()
        .map(|p| match &p.body {
            Body::DeliverSm(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let m = sms.iter().find(|s| s.esm_class == 0).expect("MO");
    assert_eq!(&m.short_message[..], b"Reply from node");
    assert_eq!(&m.source_addr[..], DEST.as_bytes());
    let r = sms
        .iter()
        .find(|s| s.esm_class & 0x04 != 0)
        .expect("receipt");
    assert_eq!(
        r.tlvs.get_cstring(tags::RECEIPTED_MESSAGE_ID).as_deref(),
        Some(&b"N1"[..])
    );

    // optgate acknowledged both at the carrier.
    let events = smsc.until("deliver_sm_resp").await;
    let mut acks = of(&events, "deliver_sm_resp").len();
    while acks < 2 {
        if smsc.next().await["event"] == "deliver_sm_resp" {
            acks += 1;
        }
    }

    // On shutdown optgate unbinds from the node carrier.
    d.shutdown(Duration::from_secs(3)).await;
    smsc.until("unbind").await;
}
