//! Several real `optgate` processes on one PostgreSQL (README "Running
//! several instances"): failover under load with SIGKILL, and HAProxy (the
//! shipped config/haproxy.cfg) in front of two instances with a python
//! smpplib platform that reconnects through it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::{config_text, Optgate};
use common::script::Script;
use common::*;
use optgate::pdu::Body;

const ACCOUNT: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550300"]
max_binds = 8

[[campaigns]]
id = "open"
brand = "ACME"
numbers = ["14155550100"]
outbound_unknown = "allow"

[[campaigns]]
id = "optin"
brand = "ACME"
numbers = ["14155550300"]
outbound_unknown = "require_opt_in"
"#;

/// The sender of campaign `optin` (messages to unknown recipients held).
const HOLDING: &str = "14155550300";
const OPT_IN_REQUEST: &str = "ACME: Reply START to receive messages from ACME. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";

const SENDER: &str = "14155550100";

/// One instance's files and ports.
struct Instance {
    dir: PathBuf,
    file: PathBuf,
    smpp: u16,
    admin: u16,
}

impl Instance {
    fn new(root: &Path, name: &str, carrier: &FakeCarrier, url: &str) -> Instance {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let (smpp, admin) = (free_port(), free_port());
        let text = config_text(smpp, admin, &carrier.address(), &dir, 10, ACCOUNT).replace(
            "[store]\n",
            &format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\ninstance = \"{name}\"\n"),
        );
        let file = dir.join("optgate.toml");
        std::fs::write(&file, text).unwrap();
        Instance {
            dir,
            file,
            smpp,
            admin,
        }
    }

    /// Starts it; waits for READY and for the carrier to have seen `binds`.
    async fn start(&self, carrier: &FakeCarrier, binds: usize) -> Optgate {
        let og = Optgate::start(&self.dir, &self.file, self.smpp);
        assert_eq!(og.notified().await, "READY=1", "{}", og.log());
        carrier.wait_binds(binds).await;
        og
    }

    fn admin(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.admin).parse().unwrap()
    }
}

/// A platform bound to `og` that answers every deliver_sm and records its
/// text, until the connection ends.
fn receiver(mut p: Esme, seen: Arc<Mutex<Vec<String>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let idle_until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < idle_until {
            match p.try_recv(Duration::from_millis(200)).await {
                Some(m) if matches!(m.body, Body::DeliverSm(_)) => {
                    seen.lock().unwrap().push(text_of(&m));
                    p.ack(&m).await;
                }
                Some(_) => {}
                // Nothing came, or the instance died (then nothing ever will).
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
}

/// SIGKILL one of two instances while MOs (some of them STOPs) pour in on
/// both carrier binds and platforms are bound to both: every MO either
/// instance acknowledged to the carrier reaches the platform (duplicates
/// counted and printed: the deliveries the dead instance had handed out
/// and whose delete it had not committed), every STOP is kept, and each
/// opt-out confirmation goes out at most once.
#[tokio::test]
async fn sigkill_under_load_loses_no_acknowledged_mo_or_stop() {
    let url = common::postgres::shared().create_db();
    let carrier = FakeCarrier::start().await;
    let root = tempfile::tempdir().unwrap();
    let ia = Instance::new(root.path(), "gw-a", &carrier, &url);
    let ib = Instance::new(root.path(), "gw-b", &carrier, &url);
    let a = ia.start(&carrier, 1).await;
    let b = ib.start(&carrier, 2).await;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let (pa, _) = a.bind("pbx", "secret").await;
    let (pb, _) = b.bind("pbx", "secret").await;
    let ra = receiver(pa, seen.clone());
    let rb = receiver(pb, seen.clone());

    let total = 200;
    let mut acked: Vec<String> = Vec::new();
    let mut stops: Vec<String> = Vec::new();
    let mut a = Some(a);
    for i in 0..total {
        if i == total / 2 {
            a.take().unwrap().sigkill().await;
        }
        let (text, from) = if i % 10 == 0 {
            ("STOP".to_string(), format!("1415556{:04}", i))
        } else {
            (format!("m{i:03}"), "14155557777".to_string())
        };
        // Before the kill: alternate between the two instances' binds.
        let conn = if a.is_some() { i % 2 } else { 1 };
        let resp = carrier.deliver_on(conn, mo(&from, SENDER, &text)).await;
        if resp.command_status == 0 {
            if text == "STOP" {
                stops.push(from.clone());
            }
            acked.push(if text == "STOP" {
                format!("STOP {from}")
            } else {
                text
            });
        }
    }
    // Everything acknowledged arrives (on B's platform after the kill).
    let want = acked.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = seen.lock().unwrap().len();
        if got >= want || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen_texts = seen.lock().unwrap().clone();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for t in &seen_texts {
        *count.entry(t.clone()).or_default() += 1;
    }
    let stop_count = seen_texts.iter().filter(|t| *t == "STOP").count();
    let plain_missing: Vec<&String> = acked
        .iter()
        .filter(|t| t.starts_with('m') && !count.contains_key(*t))
        .collect();
    assert!(
        plain_missing.is_empty(),
        "acknowledged MOs lost: {plain_missing:?}"
    );
    assert!(
        stop_count >= stops.len(),
        "STOP MOs delivered: {stop_count} of {}",
        stops.len()
    );
    println!(
        "failover: {} MOs acknowledged ({} STOPs), {} delivered to the platform, {} duplicates",
        want,
        stops.len(),
        seen_texts.len(),
        seen_texts.len() - want
    );

    // Every STOP is kept: the survivor refuses each of those recipients,
    // and sent each confirmation at most once.
    let (mut p, _) = b.bind("pbx", "secret").await;
    for to in &stops {
        let (r, _) = p.request(submit(SENDER, to, "after")).await;
        assert_eq!(r.command_status, 0x400, "STOP from {to} kept");
        let confirmations = carrier
            .submits()
            .iter()
            .filter(|s| matches!(&s.body, Body::SubmitSm(x) if &x.destination_addr[..] == to.as_bytes()))
            .count();
        assert!(confirmations <= 1, "{to}: {confirmations} confirmations");
    }
    ra.abort();
    rb.abort();
}

/// The shipped config/haproxy.cfg, addresses from the environment.
fn haproxy(lb: u16, a: &Instance, b: &Instance, log: &Path) -> Child {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/haproxy.cfg");
    Command::new("/usr/sbin/haproxy")
        .arg("-db")
        .arg("-f")
        .arg(cfg)
        .env("OPTGATE_LB_BIND", format!("127.0.0.1:{lb}"))
        .env("OPTGATE_A_SMPP", format!("127.0.0.1:{}", a.smpp))
        .env("OPTGATE_A_ADMIN_PORT", a.admin.to_string())
        .env("OPTGATE_B_SMPP", format!("127.0.0.1:{}", b.smpp))
        .env("OPTGATE_B_ADMIN_PORT", b.admin.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("haproxy (apt-get install haproxy; scripts/test installs it)")
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Platform binds on instance `admin` (from its metrics).
async fn platform_binds(admin: std::net::SocketAddr) -> usize {
    let m = http::get(admin, "/metrics").await.body;
    m.lines()
        .filter(|l| l.starts_with("optgate_binds{") && l.contains("side=\"platform\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}

/// HAProxy in TCP mode with /readyz health checks in front of two
/// instances; a python smpplib platform sends through it; the instance it
/// is bound to is SIGKILLed mid-run; it reconnects through HAProxy to the
/// other and finishes.
#[tokio::test]
async fn haproxy_in_front_of_two_instances_survives_a_kill() {
    let url = common::postgres::shared().create_db();
    let carrier = FakeCarrier::start().await;
    let root = tempfile::tempdir().unwrap();
    let ia = Instance::new(root.path(), "gw-a", &carrier, &url);
    let ib = Instance::new(root.path(), "gw-b", &carrier, &url);
    let a = ia.start(&carrier, 1).await;
    let b = ib.start(&carrier, 2).await;
    let lb = free_port();
    let hlog = root.path().join("haproxy.log");
    let _haproxy = Kill(haproxy(lb, &ia, &ib, &hlog));
    // Both servers up in HAProxy's eyes: a connection through it binds.
    let lb_addr: std::net::SocketAddr = format!("127.0.0.1:{lb}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = tokio::net::TcpStream::connect(lb_addr).await {
            let mut e = Esme::over(s);
            e.send(&bind_pdu("pbx", "secret")).await;
            if let Some(r) = e.try_recv(Duration::from_secs(2)).await {
                if r.command_status == 0 {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no bind through HAProxy: {}",
            std::fs::read_to_string(&hlog).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let count = 300;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/smpplib_lb.py");
    let mut c = Command::new(python());
    c.arg(&script)
        .args([
            "127.0.0.1",
            &lb.to_string(),
            "pbx",
            "secret",
            SENDER,
            "1415558",
        ])
        .arg(count.to_string())
        .stdin(Stdio::null());
    let mut s = Script::spawn("smpplib", c);
    assert_eq!(s.next().await["event"], "bound");
    assert_eq!(s.next().await["event"], "progress");
    // Kill the instance the platform is bound to.
    let on_a = platform_binds(ia.admin()).await > 0;
    let (victim, survivor) = if on_a { (a, b) } else { (b, a) };
    victim.sigkill().await;
    let events = s.until("done").await;
    let done = events.last().unwrap();
    println!("through HAProxy after a SIGKILL: {done}");
    assert_eq!(done["acked"], count);
    assert!(done["reconnects"].as_u64().unwrap() >= 1, "{events:?}");
    assert!(
        events.iter().any(|e| e["event"] == "bound"),
        "rebound through HAProxy"
    );
    assert!(carrier.submits().len() >= count);
    drop(survivor);
}

/// The interpreter that can import smpplib (see tests/peers_smpplib.rs).
fn python() -> String {
    let ok = |py: &str| {
        Command::new(py)
            .args(["-c", "import smpplib"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    std::env::var("OPTGATE_TEST_PYTHON")
        .ok()
        .into_iter()
        .chain([venv.display().to_string(), "python3".into()])
        .find(|p| ok(p))
        .expect("python smpplib is missing: run scripts/test once (it makes .venv)")
}

/// Three real processes, the platform bound to each: MOs arriving on all
/// three carrier binds are delivered exactly once in all (one instance
/// holds the account's delivery claim); SIGKILL that one and the next MOs
/// reach the platform through another.
#[tokio::test]
async fn three_instances_deliver_each_mo_once_and_take_over_from_a_dead_one() {
    let url = common::postgres::shared().create_db();
    let carrier = FakeCarrier::start().await;
    let root = tempfile::tempdir().unwrap();
    let names = ["gw-a", "gw-b", "gw-c"];
    let mut cfgs = Vec::new();
    let mut ogs = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let inst = Instance::new(root.path(), n, &carrier, &url);
        ogs.push(Some(inst.start(&carrier, i + 1).await));
        cfgs.push(inst);
    }
    let seen: Vec<Arc<Mutex<Vec<String>>>> = (0..3).map(|_| Arc::default()).collect();
    let mut readers = Vec::new();
    for (i, og) in ogs.iter().enumerate() {
        let (p, st) = og.as_ref().unwrap().bind("pbx", "secret").await;
        assert_eq!(st, 0);
        readers.push(receiver(p, seen[i].clone()));
    }
    let n = 90;
    for i in 0..n {
        let r = carrier
            .deliver_on(i % 3, mo("14155557601", SENDER, &format!("x{i:03}")))
            .await;
        assert_eq!(r.command_status, 0);
    }
    let total = || seen.iter().map(|s| s.lock().unwrap().len()).sum::<usize>();
    let deadline = Instant::now() + Duration::from_secs(20);
    while total() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let per: Vec<usize> = seen.iter().map(|s| s.lock().unwrap().len()).collect();
    let mut all: Vec<String> = seen
        .iter()
        .flat_map(|s| s.lock().unwrap().clone())
        .collect();
    assert_eq!(all.len(), n, "exactly once in all: {per:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n);
    println!("three instances: deliveries per instance's platform bind {per:?}");

    // Kill the deliverer; the next MOs (on a survivor's carrier bind) go
    // out through another instance.
    let owner = per.iter().position(|&c| c > 0).unwrap();
    ogs[owner].take().unwrap().sigkill().await;
    let other = (owner + 1) % 3;
    for i in 0..10 {
        let r = carrier
            .deliver_on(other, mo("14155557601", SENDER, &format!("y{i:03}")))
            .await;
        assert_eq!(r.command_status, 0);
    }
    let survivors = || {
        (0..3)
            .filter(|k| *k != owner)
            .map(|k| {
                seen[k]
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|t| t.starts_with('y'))
                    .count()
            })
            .sum::<usize>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while survivors() < 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(survivors(), 10, "a survivor took the account over");
    for r in readers {
        r.abort();
    }
    let _ = cfgs;
}

/// Held messages survive the death of the instance that held them: five
/// messages held through instance A (opt-in requests queued in the shared
/// outbox), A SIGKILLed, then START from each recipient through B's carrier
/// bind: each held message reaches the carrier exactly once, through B, and
/// each recipient got its opt-in request (duplicates printed: a request A
/// had handed to the carrier but not marked done).
#[tokio::test]
async fn held_messages_and_the_outbox_survive_a_sigkill() {
    let url = common::postgres::shared().create_db();
    let carrier = FakeCarrier::start().await;
    let root = tempfile::tempdir().unwrap();
    let ia = Instance::new(root.path(), "gw-a", &carrier, &url);
    let ib = Instance::new(root.path(), "gw-b", &carrier, &url);
    let a = ia.start(&carrier, 1).await;
    let b = ib.start(&carrier, 2).await;
    let (mut pa, _) = a.bind("pbx", "secret").await;
    let recipients: Vec<String> = (0..5).map(|i| format!("1415556{:04}", 9000 + i)).collect();
    for to in &recipients {
        let (r, _) = pa
            .request(submit(HOLDING, to, &format!("held for {to}")))
            .await;
        assert_eq!(r.command_status, 0, "held messages are accepted");
    }
    a.sigkill().await;
    drop(pa);
    let texts_to = |to: &str| -> Vec<String> {
        carrier
            .submits()
            .iter()
            .filter(|p| matches!(&p.body, Body::SubmitSm(s) if &s.destination_addr[..] == to.as_bytes()))
            .map(text_of)
            .collect()
    };
    // Whoever holds the outbox now sends the opt-in requests A left.
    let deadline = Instant::now() + Duration::from_secs(20);
    while recipients
        .iter()
        .any(|to| !texts_to(to).iter().any(|t| t == OPT_IN_REQUEST))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for to in &recipients {
        let r = carrier.deliver_on(1, mo(to, HOLDING, "START")).await;
        assert_eq!(r.command_status, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let held = |to: &str| {
        texts_to(to)
            .iter()
            .filter(|t| t.starts_with("held for"))
            .count()
    };
    while recipients.iter().any(|to| held(to) == 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut requests = 0;
    for to in &recipients {
        assert_eq!(
            held(to),
            1,
            "{to}: the held message exactly once: {:?}",
            texts_to(to)
        );
        let n = texts_to(to).iter().filter(|t| *t == OPT_IN_REQUEST).count();
        assert!(n >= 1, "{to}: no opt-in request: {:?}", texts_to(to));
        requests += n;
    }
    println!(
        "holds across a SIGKILL: 5 held, 5 released once; opt-in requests sent {requests} for 5 recipients"
    );
    drop(b);
}
