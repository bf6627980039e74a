//! Hostile input: mutated and random PDUs from several connections while a
//! good platform keeps working, absurd `command_length`s, connections that
//! never bind, password guessing, foreign sender numbers, odd admin URLs.
//! RSS is read from /proc/self/status (the daemon runs in this process), so
//! the tests run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod http;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use optgate::config::Config;
use optgate::daemon::Daemon;
use optgate::pdu::{command as cmd, status, Body, DataSm, DestAddress, Pdu, SubmitMulti, Text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ACCOUNTS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "ACME"]

[[server.accounts]]
system_id = "fuzz"
password = "fuzz"
numbers = ["14155550150"]
max_binds = 50

[[server.accounts]]
system_id = "anyone"
password = "secret"
numbers = ["14155550300"]
allow_any_sender = true
"#;

/// Resident set size of this process in KiB.
fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

struct Rig {
    _carrier: FakeCarrier,
    _dir: tempfile::TempDir,
    d: Daemon,
}

async fn rig(tune: impl FnOnce(&mut Config)) -> Rig {
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&carrier.address(), dir.path(), ACCOUNTS);
    tune(&mut cfg);
    let d = Daemon::start(&cfg, None).await.expect("daemon starts");
    carrier.wait_binds(1).await;
    Rig {
        _carrier: carrier,
        _dir: dir,
        d,
    }
}

async fn bound_from(addr: SocketAddr, from: &str, id: &str, pw: &str) -> (Esme, u32) {
    let mut e = Esme::connect_from(addr, from.parse().unwrap()).await;
    let st = e.bind(cmd::BIND_TRANSCEIVER, id, pw).await.command_status;
    (e, st)
}

// ---------------------------------------------------------------- (a) fuzz

/// xorshift64*: a small seeded generator, enough for mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pdus");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "hex") {
            let text = std::fs::read_to_string(&path).unwrap();
            let hex: String = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<String>()
                .split_whitespace()
                .collect();
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            out.push(bytes);
        }
    }
    assert!(out.len() >= 20, "fixtures found: {}", out.len());
    out
}

/// One hostile input: random bytes, or a fixture with 1-4 mutations, half
/// of them with `command_length` fixed up so the body parsers get it.
fn hostile(rng: &mut Rng, fx: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(10) == 0 {
        return (0..rng.below(200)).map(|_| rng.next() as u8).collect();
    }
    let mut b = fx[rng.below(fx.len())].clone();
    for _ in 0..=rng.below(4) {
        let i = rng.below(b.len());
        match rng.below(5) {
            0 if !b.is_empty() => b[i] ^= 1 << rng.below(8),
            1 if !b.is_empty() => b[i] = rng.next() as u8,
            2 => b.insert(i, rng.next() as u8),
            3 if !b.is_empty() => {
                b.remove(i);
            }
            _ => b.truncate(i.max(16)),
        }
    }
    if rng.below(2) == 0 && b.len() >= 4 {
        let len = (b.len() as u32).to_be_bytes();
        b[..4].copy_from_slice(&len);
    }
    b
}

/// Reads (and drops) what optgate answered; false when it closed.
async fn drain(e: &mut Esme) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_millis(2), e.f.next()).await {
            Err(_) => return true,
            Ok(Some(Ok(Ok(_)))) => {}
            Ok(_) => return false,
        }
    }
}

/// Sends hostile input until `stop`, reconnecting (and half the time binding
/// first) whenever optgate closes. Returns (inputs sent, reconnects).
async fn fuzzer(addr: SocketAddr, seed: u64, stop: Arc<AtomicBool>) -> (u64, u64) {
    let fx = fixtures();
    let mut rng = Rng(seed);
    let (mut sent, mut reconnects) = (0u64, 0u64);
    'conn: while !stop.load(Ordering::Relaxed) {
        reconnects += 1;
        let mut e = Esme::connect_from(addr, "127.0.0.2".parse().unwrap()).await;
        if rng.below(2) == 0 {
            e.bind(cmd::BIND_TRANSCEIVER, "fuzz", "fuzz").await;
        }
        while !stop.load(Ordering::Relaxed) {
            let b = hostile(&mut rng, &fx);
            sent += 1;
            if e.f.get_mut().write_all(&b).await.is_err() || !drain(&mut e).await {
                continue 'conn;
            }
        }
    }
    (sent, reconnects)
}

#[tokio::test]
async fn mutated_and_random_pdus_do_not_disturb_a_good_platform() {
    let _serial = SERIAL.lock().await;
    let r = rig(|c| c.server.failed_bind_limit = 1_000_000).await;
    let addr = r.d.smpp_addr();
    let (mut good, st) = bound_from(addr, "127.0.0.1", "pbx", "secret").await;
    assert_eq!(st, 0);
    let before = rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let fuzzers: Vec<_> = (0..4)
        .map(|i| tokio::spawn(fuzzer(addr, 0x9E37_79B9_7F4A_7C15 ^ (i + 1), stop.clone())))
        .collect();
    let until = Instant::now() + Duration::from_secs(3);
    let mut answered = 0;
    while Instant::now() < until {
        let (a, _) = good
            .request(submit("14155550100", "14155551234", "hi"))
            .await;
        assert_eq!(a.command_status, 0, "the good platform keeps working");
        answered += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut sent, mut reconnects) = (0, 0);
    for f in fuzzers {
        let (s, c) = tokio::time::timeout(WAIT, f).await.unwrap().unwrap();
        sent += s;
        reconnects += c;
    }
    let after = rss_kib();
    eprintln!(
        "RESULT fuzz inputs={sent} connections={reconnects} good_submits_answered={answered} \
         rss_before_kib={before} rss_after_kib={after}"
    );
    assert!(sent > 1000, "the fuzzers ran ({sent})");
    assert!(answered > 20);
    assert!(after < before + 100 * 1024, "RSS {before} → {after} KiB");
    // Still serving new binds.
    let (_e, st) = bound_from(addr, "127.0.0.1", "pbx", "secret").await;
    assert_eq!(st, 0);
    r.d.shutdown(Duration::from_secs(2)).await;
}

// ------------------------------------------------------- (b) command_length

#[tokio::test]
async fn absurd_command_lengths_close_without_allocating() {
    let _serial = SERIAL.lock().await;
    let r = rig(|_| {}).await;
    let before = rss_kib();
    for _ in 0..50 {
        for len in [0xFFFF_FFFFu32, 15] {
            let mut e = Esme::connect(r.d.smpp_addr()).await;
            let mut h = len.to_be_bytes().to_vec();
            h.extend_from_slice(&[0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1]);
            e.send_raw(&h).await;
            let nack = e.recv().await;
            assert_eq!(nack.command_id(), cmd::GENERIC_NACK);
            assert_eq!(nack.command_status, status::ESME_RINVCMDLEN);
            assert!(e.closed().await, "connection closed after {len:#x}");
        }
    }
    let after = rss_kib();
    eprintln!("RESULT command_length rss_before_kib={before} rss_after_kib={after}");
    assert!(after < before + 16 * 1024, "RSS {before} → {after} KiB");
    r.d.shutdown(Duration::from_secs(2)).await;
}

// ------------------------------------------------- (c) connections, no bind

#[tokio::test]
async fn connections_that_never_bind_are_closed_and_max_connections_holds() {
    let _serial = SERIAL.lock().await;
    const MAX: usize = 250;
    const IDLE: usize = 500;
    let timeout = Duration::from_secs(1);
    let r = rig(|c| {
        c.server.max_connections = MAX as u32;
        c.server.bind_timeout = timeout;
    })
    .await;
    let addr = r.d.smpp_addr();
    let closed = Arc::new(AtomicUsize::new(0));
    // Connections closed well before `timeout`: the refused ones.
    let refused = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let connected = Instant::now();
        let (closed, refused) = (closed.clone(), refused.clone());
        idle.push(tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(WAIT * 2, s.read(&mut buf)).await;
            assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
            if connected.elapsed() < timeout * 9 / 10 {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            closed.fetch_add(1, Ordering::Relaxed);
        }));
    }
    // A session is closed `timeout` after its accept; the connections over
    // MAX are refused at once (closed within the 500 ms bind wait).
    let early = start + timeout * 2 - Duration::from_millis(200);
    tokio::time::sleep_until(early.into()).await;
    let closed_early = closed.load(Ordering::Relaxed);
    // Then a platform finds a free slot and is served.
    let (mut p, st) = bound_from(addr, "127.0.0.1", "pbx", "secret").await;
    assert_eq!(st, 0, "the waiting platform is served once a slot frees");
    let bound_after = start.elapsed();
    for t in idle {
        t.await.unwrap();
    }
    eprintln!(
        "RESULT never-bind connections={IDLE} max_connections={MAX} refused_at_once={} \
         closed_before_2x_timeout={closed_early} platform_bound_after_ms={} all_closed_after_ms={}",
        refused.load(Ordering::Relaxed),
        bound_after.as_millis(),
        start.elapsed().as_millis()
    );
    assert_eq!(
        refused.load(Ordering::Relaxed),
        IDLE - MAX,
        "exactly the connections over {MAX} are refused at once"
    );
    assert_eq!(closed.load(Ordering::Relaxed), IDLE);
    let (a, _) = p.request(submit("14155550100", "14155551234", "ok")).await;
    assert_eq!(a.command_status, 0);
    r.d.shutdown(Duration::from_secs(2)).await;
}

// ------------------------------------------------------- (d) guessing

fn failed_binds(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("optgate_failed_binds_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn password_guessing_is_rate_limited_and_counted() {
    let _serial = SERIAL.lock().await;
    let r = rig(|_| {}).await;
    let (addr, admin) = (r.d.smpp_addr(), r.d.admin_addr());
    let counted_before = failed_binds(&http::get(admin, "/metrics").await.body);
    let mut codes = std::collections::BTreeMap::<u32, u32>::new();
    for i in 0..100 {
        let (mut e, st) = bound_from(addr, "127.0.0.3", "pbx", &format!("g{i}")).await;
        *codes.entry(st).or_default() += 1;
        assert!(e.closed().await);
    }
    let (_, st) = bound_from(addr, "127.0.0.3", "pbx", "secret").await;
    assert_eq!(st, status::ESME_RBINDFAIL, "blocked even with the password");
    let (_, st) = bound_from(addr, "127.0.0.1", "pbx", "secret").await;
    assert_eq!(st, 0, "other addresses are not affected");
    let counted = failed_binds(&http::get(admin, "/metrics").await.body) - counted_before;
    eprintln!("RESULT guessing codes={codes:?} failed_binds_total+={counted}");
    assert_eq!(codes.get(&status::ESME_RINVPASWD), Some(&5), "{codes:?}");
    assert_eq!(codes.get(&status::ESME_RBINDFAIL), Some(&95), "{codes:?}");
    assert!(counted >= 101, "every refusal counted: {counted}");
    r.d.shutdown(Duration::from_secs(2)).await;
}

// -------------------------------------------------------- (e) senders

fn data_sm(src: &str) -> Pdu {
    Pdu::new(
        0,
        Body::DataSm(Box::new(DataSm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: Text::copy_from_slice(src.as_bytes()),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: Text::from_static(b"14155551234"),
            ..Default::default()
        })),
    )
}

fn submit_multi(src: &str) -> Pdu {
    Pdu::new(
        0,
        Body::SubmitMulti(Box::new(SubmitMulti {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: Text::copy_from_slice(src.as_bytes()),
            dests: vec![DestAddress::Sme {
                ton: 1,
                npi: 1,
                addr: Text::from_static(b"14155551234"),
            }],
            short_message: Bytes::from_static(b"multi"),
            ..Default::default()
        })),
    )
}

/// A submit_sm whose source has TON 0 (unknown): national forms allowed.
fn national(src: &str) -> Pdu {
    let mut p = submit(src, "14155551234", "national");
    if let Body::SubmitSm(s) = &mut p.body {
        s.source_addr_ton = 0;
        s.source_addr_npi = 0;
    }
    p
}

fn alnum(src: &str) -> Pdu {
    let mut p = submit(src, "14155551234", "from a name");
    if let Body::SubmitSm(s) = &mut p.body {
        s.source_addr_ton = 5;
        s.source_addr_npi = 0;
    }
    p
}

#[tokio::test]
async fn senders_the_account_does_not_own_are_refused() {
    let _serial = SERIAL.lock().await;
    let r = rig(|_| {}).await;
    let addr = r.d.smpp_addr();
    let (mut pbx, st) = bound_from(addr, "127.0.0.1", "pbx", "secret").await;
    assert_eq!(st, 0);
    let cases = [
        ("own number", submit("14155550100", "14155551234", "x"), 0),
        ("own number, national form", national("(415) 555-0100"), 0),
        ("listed name", alnum("acme"), 0),
        (
            "foreign number",
            submit("14155550199", "14155551234", "x"),
            0x0A,
        ),
        ("foreign data_sm", data_sm("14155550199"), 0x0A),
        ("foreign submit_multi", submit_multi("14155550199"), 0x0A),
        ("unlisted name", alnum("OTHER"), 0x0A),
        ("own data_sm", data_sm("14155550100"), 0),
        ("own submit_multi", submit_multi("14155550100"), 0),
    ];
    for (what, pdu, want) in cases {
        let (a, _) = pbx.request(pdu).await;
        assert_eq!(a.command_status, want, "{what}");
    }
    let (mut any, st) = bound_from(addr, "127.0.0.1", "anyone", "secret").await;
    assert_eq!(st, 0);
    for pdu in [submit("14155550199", "14155551234", "x"), alnum("OTHER")] {
        assert_eq!(
            any.request(pdu).await.0.command_status,
            0,
            "allow_any_sender"
        );
    }
    r.d.shutdown(Duration::from_secs(2)).await;
}

// -------------------------------------------------------- (f) admin

#[tokio::test]
async fn admin_urls_with_quotes_and_semicolons_get_json_4xx_never_500() {
    let _serial = SERIAL.lock().await;
    let r = rig(|_| {}).await;
    let admin = r.d.admin_addr();
    let ok = http::get(admin, "/readyz?x=%27;--").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["ready"], true);
    let m = http::get(admin, "/metrics?name=%27%3B%20DROP%20TABLE%20consent;--").await;
    assert_eq!(m.status, 200);
    for path in [
        "/api/consent/%27;--",
        "/readyz/%27;DROP%20TABLE%20consent;--",
        "/%22%3B%20--",
        "/api/consent?recipient=%27%20OR%201=1;--",
    ] {
        let a = http::get(admin, path).await;
        assert_eq!(a.status, 404, "{path}: {a:?}");
        assert!(a.json()["error"].is_string(), "{path}: {a:?}");
    }
    // A token on a read endpoint changes nothing; a write method is refused.
    let a = http::request(
        admin,
        "GET",
        "/healthz",
        &[("Authorization", "Bearer ';--")],
    )
    .await;
    assert_eq!(a.status, 200);
    let a = http::request(
        admin,
        "POST",
        "/readyz",
        &[("Authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(a.status, 405, "{a:?}");
    r.d.shutdown(Duration::from_secs(2)).await;
}
