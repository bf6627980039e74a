//! Shared test kit: a fake carrier (SMSC), a tiny platform client (ESME) and
//! a config builder. Everything on 127.0.0.1, every wait bounded.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity
)]

pub mod script;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use optgate::codec::SmppCodec;
use optgate::config::Config;
use optgate::pdu::{
    command as cmd, status, tags, Bind, BindResp, Body, MessageIdResp, Pdu, Sm, Text,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

pub mod binary;
pub mod certs;
pub mod postgres;

/// Any byte stream a test peer speaks SMPP over (TCP or TLS).
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

/// A loopback port for a child process (optgate, Kannel) to listen on.
///
/// The port is only checked free here and bound later by the child, so it
/// is taken below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`): a port from `127.0.0.1:0` could be
/// handed meanwhile to any outgoing connection on the machine as its local
/// port (this is how a Kannel test once failed in CI with "Address already
/// in use"). Below that range only explicit binds compete; the start is
/// spread by process id and a counter keeps the ports of one test process
/// apart. Falls back to `127.0.0.1:0` where the range leaves no room.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let base = 10_000u32;
    if low > base + 1_000 {
        let span = low - base;
        let start = std::process::id().wrapping_mul(7919) % span;
        for _ in 0..span.min(2_000) {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let port = (base + (start + n) % span) as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A config for tests: optgate on 127.0.0.1:0, the carrier at `carrier`,
/// the store in `dir`. `extra` is appended TOML (accounts etc.).
pub fn config(carrier: &str, dir: &std::path::Path, extra: &str) -> Config {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
window = 10
bind_timeout = "2s"
inactivity_timeout = "30s"
shutdown_grace = "3s"

[upstream]
address = "{carrier}"
system_id = "optgate"
password = "secret"
response_timeout = "2s"
reconnect_min = "100ms"
reconnect_max = "500ms"
enquire_link_interval = "30s"

[store]
path = "{store}"
durability = "normal"

[admin]
listen = "127.0.0.1:0"

{extra}
"#,
        store = dir.join("optgate.db").display()
    );
    let cfg = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("test config: {e}"));
    cfg.validate()
        .unwrap_or_else(|e| panic!("test config: {e}"));
    cfg
}

/// Two accounts: `pbx` owns 14155550100, `crm` owns 14155550200.
pub const TWO_ACCOUNTS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
max_binds = 2

[[server.accounts]]
system_id = "crm"
password = "secret2"
numbers = ["+1 415 555 0200"]
max_binds = 2
"#;

// ---------------------------------------------------------------- carrier

/// What the fake carrier saw.
#[derive(Default)]
pub struct CarrierLog {
    pub submits: Vec<Pdu>,
    pub binds: usize,
    pub unbinds: usize,
}

/// A fake SMSC: accepts any bind, answers submit_sm with `c<N>` ids.
pub struct FakeCarrier {
    pub addr: std::net::SocketAddr,
    pub log: Arc<Mutex<CarrierLog>>,
    /// Writers of the bound connections, for injecting deliver_sm.
    conns: Arc<Mutex<Vec<mpsc::Sender<(Pdu, Option<oneshot::Sender<Pdu>>)>>>>,
    task: JoinHandle<()>,
    next_id: Arc<AtomicU32>,
    pub throttle_next: Arc<AtomicUsize>,
    pub delay_ms: Arc<AtomicU32>,
}

impl FakeCarrier {
    pub async fn start() -> FakeCarrier {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts on a given address (to come back on the same port).
    pub async fn start_on(addr: &str) -> FakeCarrier {
        Self::start_with(addr, None).await
    }

    /// A carrier that speaks SMPP over TLS only.
    pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> FakeCarrier {
        Self::start_with("127.0.0.1:0", Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    async fn start_with(addr: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> FakeCarrier {
        let listener = TcpListener::bind(addr).await.expect("carrier bind");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(CarrierLog::default()));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let next_id = Arc::new(AtomicU32::new(1));
        let throttle_next = Arc::new(AtomicUsize::new(0));
        let delay_ms = Arc::new(AtomicU32::new(0));
        let (l2, c2, n2, t2, d2) = (
            log.clone(),
            conns.clone(),
            next_id.clone(),
            throttle_next.clone(),
            delay_ms.clone(),
        );
        let task = tokio::spawn(async move {
            let mut handlers = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                let s: Box<dyn Io> = match &tls {
                    None => Box::new(s),
                    Some(a) => match a.accept(s).await {
                        Ok(t) => Box::new(t),
                        Err(_) => continue,
                    },
                };
                handlers.push(tokio::spawn(carrier_conn(
                    s,
                    l2.clone(),
                    c2.clone(),
                    n2.clone(),
                    t2.clone(),
                    d2.clone(),
                )));
            }
        });
        FakeCarrier {
            addr,
            log,
            conns,
            task,
            next_id,
            throttle_next,
            delay_ms,
        }
    }

    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn submits(&self) -> Vec<Pdu> {
        self.log.lock().unwrap().submits.clone()
    }

    /// Waits until the carrier saw at least `n` binds.
    pub async fn wait_binds(&self, n: usize) {
        wait_until(|| {
            self.log.lock().unwrap().binds >= n && !self.conns.lock().unwrap().is_empty()
        })
        .await;
    }

    /// Waits until `n` submits arrived.
    pub async fn wait_submits(&self, n: usize) -> Vec<Pdu> {
        wait_until(|| self.log.lock().unwrap().submits.len() >= n).await;
        self.submits()
    }

    /// Sends `pdu` (deliver_sm) on the first live connection and returns the
    /// response optgate gave.
    pub async fn deliver(&self, pdu: Pdu) -> Pdu {
        let tx = self
            .conns
            .lock()
            .unwrap()
            .iter()
            .find(|c| !c.is_closed())
            .cloned()
            .expect("no carrier connection");
        let (rtx, rrx) = oneshot::channel();
        tx.send((pdu, Some(rtx))).await.expect("carrier conn gone");
        tokio::time::timeout(WAIT, rrx)
            .await
            .expect("no deliver_sm_resp in time")
            .expect("conn dropped")
    }

    /// Like [`FakeCarrier::deliver`], on the `n`-th connection bound (0:
    /// the first): with several optgate instances binding to one carrier,
    /// a message "arrives on instance B's bind".
    pub async fn deliver_on(&self, n: usize, pdu: Pdu) -> Pdu {
        let tx = self.conns.lock().unwrap()[n].clone();
        let (rtx, rrx) = oneshot::channel();
        tx.send((pdu, Some(rtx))).await.expect("carrier conn gone");
        tokio::time::timeout(WAIT, rrx)
            .await
            .expect("no deliver_sm_resp in time")
            .expect("conn dropped")
    }

    /// Like [`FakeCarrier::deliver`], but `None` when no connection is live,
    /// it drops before answering, or no answer comes within `d`.
    pub async fn try_deliver(&self, pdu: Pdu, d: Duration) -> Option<Pdu> {
        let tx = self
            .conns
            .lock()
            .unwrap()
            .iter()
            .find(|c| !c.is_closed())
            .cloned()?;
        let (rtx, rrx) = oneshot::channel();
        tx.send((pdu, Some(rtx))).await.ok()?;
        tokio::time::timeout(d, rrx).await.ok()?.ok()
    }

    /// True while some bound connection is live.
    pub fn has_live_conn(&self) -> bool {
        self.conns.lock().unwrap().iter().any(|c| !c.is_closed())
    }

    /// Stops listening and drops every connection (the carrier vanishes).
    pub async fn kill(self) -> std::net::SocketAddr {
        self.task.abort();
        let conns: Vec<_> = self.conns.lock().unwrap().drain(..).collect();
        for c in conns {
            let _ = c.send((Pdu::new(0, Body::GenericNack), None)).await; // poison: handler exits
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.addr
    }
}

async fn carrier_conn(
    s: Box<dyn Io>,
    log: Arc<Mutex<CarrierLog>>,
    conns: Arc<Mutex<Vec<mpsc::Sender<(Pdu, Option<oneshot::Sender<Pdu>>)>>>>,
    next_id: Arc<AtomicU32>,
    throttle: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU32>,
) {
    let mut f = Framed::new(s, SmppCodec::default());
    let (tx, mut rx) = mpsc::channel::<(Pdu, Option<oneshot::Sender<Pdu>>)>(64);
    let mut waiting: std::collections::HashMap<u32, oneshot::Sender<Pdu>> = Default::default();
    let mut seq = 1000u32;
    loop {
        tokio::select! {
            inj = rx.recv() => {
                let Some((mut pdu, reply)) = inj else { return };
                if pdu.command_id() == cmd::GENERIC_NACK && reply.is_none() {
                    return; // killed
                }
                seq += 1;
                pdu.sequence_number = seq;
                if let Some(r) = reply { waiting.insert(seq, r); }
                if f.send(&pdu).await.is_err() { return; }
            }
            item = f.next() => {
                let Some(Ok(Ok(pdu))) = item else { return };
                let id = pdu.command_id();
                let seqn = pdu.sequence_number;
                let resp = match id {
                    cmd::BIND_TRANSCEIVER | cmd::BIND_TRANSMITTER | cmd::BIND_RECEIVER => {
                        log.lock().unwrap().binds += 1;
                        conns.lock().unwrap().push(tx.clone());
                        let body = Body::resp_for(id).unwrap();
                        let body = match body {
                            Body::BindTransceiverResp(_) => Body::BindTransceiverResp(BindResp::new(Bytes::from_static(b"FAKESMSC"), Some(0x34))),
                            Body::BindTransmitterResp(_) => Body::BindTransmitterResp(BindResp::new(Bytes::from_static(b"FAKESMSC"), Some(0x34))),
                            _ => Body::BindReceiverResp(BindResp::new(Bytes::from_static(b"FAKESMSC"), Some(0x34))),
                        };
                        Some(Pdu::new(seqn, body))
                    }
                    cmd::SUBMIT_SM | cmd::DATA_SM | cmd::SUBMIT_MULTI => {
                        log.lock().unwrap().submits.push(pdu.clone());
                        let d = delay_ms.load(Ordering::Relaxed);
                        if d > 0 { tokio::time::sleep(Duration::from_millis(u64::from(d))).await; }
                        if throttle.load(Ordering::Relaxed) > 0 {
                            throttle.fetch_sub(1, Ordering::Relaxed);
                            Some(Pdu::error_response_to(&pdu, status::ESME_RTHROTTLED))
                        } else {
                            let mid = format!("c{}", next_id.fetch_add(1, Ordering::Relaxed));
                            let body = match id {
                                cmd::SUBMIT_SM => Body::SubmitSmResp(MessageIdResp::new(mid)),
                                cmd::DATA_SM => Body::DataSmResp(MessageIdResp::new(mid)),
                                _ => Body::resp_for(id).unwrap(),
                            };
                            Some(Pdu::response_to(&pdu, 0, body))
                        }
                    }
                    cmd::ENQUIRE_LINK => Some(Pdu::new(seqn, Body::EnquireLinkResp)),
                    cmd::UNBIND => {
                        log.lock().unwrap().unbinds += 1;
                        let _ = f.send(&Pdu::new(seqn, Body::UnbindResp)).await;
                        return;
                    }
                    _ if cmd::is_response(id) => {
                        if let Some(w) = waiting.remove(&seqn) { let _ = w.send(pdu); }
                        None
                    }
                    _ => Some(Pdu::error_response_to(&pdu, status::ESME_RINVCMDID)),
                };
                if let Some(r) = resp {
                    if f.send(&r).await.is_err() { return; }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- platform

/// A minimal platform client over the real codec.
pub struct Esme {
    pub f: Framed<Box<dyn Io>, SmppCodec>,
    pub seq: u32,
}

impl Esme {
    /// A client over an already connected stream (e.g. TLS).
    pub fn over(s: impl Io + 'static) -> Esme {
        Esme {
            f: Framed::new(Box::new(s), SmppCodec::default()),
            seq: 1,
        }
    }

    pub async fn connect(addr: std::net::SocketAddr) -> Esme {
        let s = TcpStream::connect(addr).await.expect("connect to optgate");
        Esme::over(s)
    }

    /// Connects from a chosen local address (e.g. 127.0.0.2, to look like
    /// another platform host to optgate's per-IP checks).
    pub async fn connect_from(addr: std::net::SocketAddr, from: std::net::IpAddr) -> Esme {
        let sock = match from {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .expect("socket");
        sock.bind(std::net::SocketAddr::new(from, 0))
            .expect("bind local address");
        let s = sock.connect(addr).await.expect("connect to optgate");
        Esme::over(s)
    }

    pub fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    pub async fn send(&mut self, pdu: &Pdu) {
        self.f.send(pdu).await.expect("send to optgate");
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.f.get_mut().write_all(bytes).await.expect("raw send");
    }

    /// The next PDU, or panic after WAIT.
    pub async fn recv(&mut self) -> Pdu {
        match tokio::time::timeout(WAIT, self.f.next()).await {
            Ok(Some(Ok(Ok(p)))) => p,
            other => panic!("expected a PDU, got {other:?}"),
        }
    }

    /// The next PDU within `d`, or None (closed or nothing came).
    pub async fn try_recv(&mut self, d: Duration) -> Option<Pdu> {
        match tokio::time::timeout(d, self.f.next()).await {
            Ok(Some(Ok(Ok(p)))) => Some(p),
            _ => None,
        }
    }

    /// True when optgate closed the connection within WAIT.
    pub async fn closed(&mut self) -> bool {
        matches!(
            tokio::time::timeout(WAIT, async {
                loop {
                    match self.f.next().await {
                        None | Some(Err(_)) => return true,
                        Some(Ok(_)) => continue,
                    }
                }
            })
            .await,
            Ok(true)
        )
    }

    /// Binds with `command` and returns the bind_resp.
    pub async fn bind(&mut self, command: u32, system_id: &str, password: &str) -> Pdu {
        let b = Bind {
            system_id: Text::copy_from_slice(system_id.as_bytes()),
            password: Text::copy_from_slice(password.as_bytes()),
            interface_version: 0x34,
            ..Default::default()
        };
        let body = match command {
            cmd::BIND_TRANSMITTER => Body::BindTransmitter(Box::new(b)),
            cmd::BIND_RECEIVER => Body::BindReceiver(Box::new(b)),
            _ => Body::BindTransceiver(Box::new(b)),
        };
        let seq = self.next_seq();
        self.send(&Pdu::new(seq, body)).await;
        self.recv().await
    }

    /// Sends a request and waits for its response, answering any
    /// deliver_sm that comes first (which is then returned in `.1`).
    pub async fn request(&mut self, mut pdu: Pdu) -> (Pdu, Vec<Pdu>) {
        let seq = self.next_seq();
        pdu.sequence_number = seq;
        self.send(&pdu).await;
        let mut delivered = Vec::new();
        loop {
            let p = self.recv().await;
            if p.sequence_number == seq && cmd::is_response(p.command_id()) {
                return (p, delivered);
            }
            if p.command_id() == cmd::DELIVER_SM {
                self.ack(&p).await;
                delivered.push(p);
            }
        }
    }

    /// Answers a deliver_sm with OK.
    pub async fn ack(&mut self, p: &Pdu) {
        let r = Pdu::response_to(p, 0, Body::DeliverSmResp(MessageIdResp::new(Bytes::new())));
        self.send(&r).await;
    }

    /// Waits for the next deliver_sm, acknowledges it and returns it.
    pub async fn take_deliver(&mut self) -> Pdu {
        let p = self.expect_deliver().await;
        self.ack(&p).await;
        p
    }

    /// Waits for the next deliver_sm (answering enquire_links on the way).
    pub async fn expect_deliver(&mut self) -> Pdu {
        loop {
            let p = self.recv().await;
            match p.command_id() {
                cmd::DELIVER_SM => return p,
                cmd::ENQUIRE_LINK => {
                    self.send(&Pdu::new(p.sequence_number, Body::EnquireLinkResp))
                        .await
                }
                _ => panic!("expected deliver_sm, got {p:?}"),
            }
        }
    }
}

/// A bind_transceiver request (sequence number 1).
pub fn bind_pdu(system_id: &str, password: &str) -> Pdu {
    let b = Bind {
        system_id: Text::copy_from_slice(system_id.as_bytes()),
        password: Text::copy_from_slice(password.as_bytes()),
        interface_version: 0x34,
        ..Default::default()
    };
    Pdu::new(1, Body::BindTransceiver(Box::new(b)))
}

/// A submit_sm from `src` to `dst` with `text`.
pub fn submit(src: &str, dst: &str, text: &str) -> Pdu {
    Pdu::new(0, Body::SubmitSm(Box::new(sm(src, dst, text))))
}

/// The message id of a submit_sm_resp.
pub fn message_id(p: &Pdu) -> String {
    match &p.body {
        Body::SubmitSmResp(r) => {
            String::from_utf8_lossy(r.message_id.as_deref().unwrap_or_default()).into_owned()
        }
        other => panic!("not a submit_sm_resp: {other:?}"),
    }
}

/// A submit_sm that asks for a delivery receipt (registered_delivery 1).
pub fn submit_dlr(src: &str, dst: &str, text: &str) -> Pdu {
    let mut s = sm(src, dst, text);
    s.registered_delivery = 1;
    Pdu::new(0, Body::SubmitSm(Box::new(s)))
}

/// An MO deliver_sm from mobile `from` to business number `to`.
pub fn mo(from: &str, to: &str, text: &str) -> Pdu {
    Pdu::new(0, Body::DeliverSm(Box::new(sm(from, to, text))))
}

/// A receipt for carrier message `id`, addressed back to `to` from `from`.
pub fn receipt(id: &str, from: &str, to: &str) -> Pdu {
    let text = format!("id:{id} sub:001 dlvrd:001 submit date:2611270000 done date:2611270001 stat:DELIVRD err:000 text:x");
    let mut s = sm(from, to, &text);
    s.esm_class = 0x04;
    s.tlvs
        .set_cstring(tags::RECEIPTED_MESSAGE_ID, id.as_bytes());
    s.tlvs.set_u8(tags::MESSAGE_STATE, 2);
    Pdu::new(0, Body::DeliverSm(Box::new(s)))
}

pub fn sm(src: &str, dst: &str, text: &str) -> Sm {
    Sm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: Text::copy_from_slice(src.as_bytes()),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: Text::copy_from_slice(dst.as_bytes()),
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Default::default()
    }
}

/// Text of a submit/deliver.
pub fn text_of(p: &Pdu) -> String {
    match &p.body {
        Body::SubmitSm(s) | Body::DeliverSm(s) => {
            String::from_utf8_lossy(&s.short_message).into_owned()
        }
        _ => String::new(),
    }
}

/// Polls `f` every 20 ms until true; panics after WAIT.
/// Starts the daemon on `cfg` and waits until its carrier bind is up.
pub async fn start_daemon(carrier: &FakeCarrier, cfg: &Config) -> optgate::daemon::Daemon {
    let d = optgate::daemon::Daemon::start(cfg, None)
        .await
        .expect("daemon starts");
    carrier.wait_binds(1).await;
    wait_until(|| d.upstream_binds_up() >= 1).await;
    d
}

pub async fn wait_until(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        if tokio::time::Instant::now() > deadline {
            panic!("condition not reached within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Makes `paths` unwritable, also for root (`chattr +i`); undone on drop.
pub struct Immutable(pub Vec<std::path::PathBuf>);

impl Immutable {
    /// `None` when the file system does not support the immutable flag.
    pub fn apply(paths: &[std::path::PathBuf]) -> Option<Immutable> {
        let guard = Immutable(paths.to_vec());
        for p in paths {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return None;
            }
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(p)
                .status();
        }
    }
}
