//! The carrier simulator: an SMSC that accepts binds, answers submits with
//! unique message ids (optionally after a delay, without holding up other
//! PDUs), sends delivery receipts, injects MOs (a share of them "STOP") and
//! returns a share of ESME_RTHROTTLED. One task per connection; see
//! [`conn`] for the I/O discipline that keeps it off the critical path.

mod conn;
mod fast;
pub mod inject;
mod make;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the simulated carrier does.
#[derive(Debug, Clone)]
pub struct CarrierOpts {
    /// Where to listen; port 0 picks a free one (see [`Carrier::addr`]).
    pub listen: SocketAddr,
    /// Delay before each submit response (and its receipt); 0 = at once.
    pub delay: Duration,
    /// Send a delivery receipt for each submit_sm whose registered_delivery
    /// asks for one (bits 1–0 == 01), on the same bind (transceiver or
    /// receiver binds only).
    pub receipts: bool,
    /// Share (0.0–1.0) of submits answered ESME_RTHROTTLED, spread evenly
    /// (per connection, by error diffusion: exactly ⌊n·share⌋ of n).
    pub throttle_share: f64,
    /// MOs per second injected on each bound transceiver/receiver; 0 = none.
    /// The first one goes right after the bind.
    pub mo_rate: f64,
    /// Share (0.0–1.0) of MOs whose text is "STOP", spread evenly.
    pub mo_stop_share: f64,
    /// Texts of the other MOs, used in turn; empty: a few built-in ones.
    pub mo_texts: Vec<String>,
    /// First subscriber number MOs come from.
    pub mo_from: u64,
    /// How many subscriber numbers MOs cycle through (from mo_from up).
    pub mo_senders: u64,
    /// The number MOs are sent to (the platform's sender number).
    pub mo_to: String,
    /// Required (system_id, password); `None` accepts any.
    pub credentials: Option<(String, String)>,
    /// Control port for one-shot MOs (`optgate sim mo`); `None`: none.
    pub control: Option<SocketAddr>,
    /// Print every message submitted (sender, recipient, text) on stdout.
    pub print: bool,
    /// Listen over TLS with this server configuration; `None`: plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for CarrierOpts {
    fn default() -> CarrierOpts {
        CarrierOpts {
            listen: SocketAddr::from(([127, 0, 0, 1], 2776)),
            delay: Duration::ZERO,
            receipts: false,
            throttle_share: 0.0,
            mo_rate: 0.0,
            mo_stop_share: 0.05,
            mo_texts: Vec::new(),
            mo_from: 15_550_000_000,
            mo_senders: 1000,
            mo_to: "14155550100".to_owned(),
            credentials: None,
            control: None,
            print: false,
            tls: None,
        }
    }
}

/// A snapshot of the carrier's counters (all connections, all time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CarrierStats {
    /// Successful binds.
    pub binds: u64,
    /// submit_sm, data_sm and submit_multi received while bound.
    pub submits: u64,
    /// Of those, answered ESME_RTHROTTLED.
    pub throttled: u64,
    /// Delivery receipts sent.
    pub receipts_sent: u64,
    /// Delivery receipts acknowledged with deliver_sm_resp ESME_ROK.
    pub receipts_acked: u64,
    /// MOs sent.
    pub mos_sent: u64,
    /// Of those, with text "STOP".
    pub mo_stops: u64,
    /// MOs acknowledged with deliver_sm_resp ESME_ROK.
    pub mos_acked: u64,
    /// deliver_sm_resp with a status other than ESME_ROK.
    pub deliver_errors: u64,
}

/// Shared atomic counters; connections add to them once per read batch.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub binds: AtomicU64,
    pub submits: AtomicU64,
    pub throttled: AtomicU64,
    pub receipts_sent: AtomicU64,
    pub receipts_acked: AtomicU64,
    pub mos_sent: AtomicU64,
    pub mo_stops: AtomicU64,
    pub mos_acked: AtomicU64,
    pub deliver_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn add(&self, d: &CarrierStats) {
        let pairs = [
            (&self.binds, d.binds),
            (&self.submits, d.submits),
            (&self.throttled, d.throttled),
            (&self.receipts_sent, d.receipts_sent),
            (&self.receipts_acked, d.receipts_acked),
            (&self.mos_sent, d.mos_sent),
            (&self.mo_stops, d.mo_stops),
            (&self.mos_acked, d.mos_acked),
            (&self.deliver_errors, d.deliver_errors),
        ];
        for (c, v) in pairs {
            if v != 0 {
                c.fetch_add(v, Relaxed);
            }
        }
    }

    fn snapshot(&self) -> CarrierStats {
        CarrierStats {
            binds: self.binds.load(Relaxed),
            submits: self.submits.load(Relaxed),
            throttled: self.throttled.load(Relaxed),
            receipts_sent: self.receipts_sent.load(Relaxed),
            receipts_acked: self.receipts_acked.load(Relaxed),
            mos_sent: self.mos_sent.load(Relaxed),
            mo_stops: self.mo_stops.load(Relaxed),
            mos_acked: self.mos_acked.load(Relaxed),
            deliver_errors: self.deliver_errors.load(Relaxed),
        }
    }
}

/// A running simulated carrier. Dropping it without [`Carrier::shutdown`]
/// leaves it running until the runtime stops.
#[derive(Debug)]
pub struct Carrier {
    addr: SocketAddr,
    counters: Arc<Counters>,
    drops: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    listener: JoinHandle<()>,
    injector: Arc<inject::Injector>,
    control: Result<SocketAddr, String>,
}

impl Carrier {
    /// Binds the listener and starts accepting. Fails only if the address
    /// cannot be bound.
    pub async fn start(opts: CarrierOpts) -> std::io::Result<Carrier> {
        let listener = TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let (drops, drop_rx) = watch::channel(0u64);
        let (stop, stop_rx) = watch::channel(false);
        let injector = Arc::new(inject::Injector::default());
        // A control port that cannot be had is not fatal: the simulator
        // still carries traffic (two of them on one machine, say), only
        // `sim mo` cannot reach it; see `Carrier::control`.
        let control = match opts.control {
            Some(a) => match TcpListener::bind(a)
                .await
                .and_then(|l| Ok((l.local_addr()?, l)))
            {
                Ok((bound, l)) => {
                    tokio::spawn(inject::serve_control(l, injector.clone(), stop_rx.clone()));
                    Ok(bound)
                }
                Err(e) => Err(format!("control port {a}: {e}")),
            },
            None => Err("no control port".to_owned()),
        };
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::new(opts),
            counters.clone(),
            injector.clone(),
            drop_rx,
            stop_rx,
        ));
        Ok(Carrier {
            addr,
            counters,
            drops,
            stop,
            listener: task,
            injector,
            control,
        })
    }

    /// The address actually listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The control port actually listened on, or why there is none.
    pub fn control(&self) -> Result<SocketAddr, &str> {
        self.control.as_ref().copied().map_err(String::as_str)
    }

    /// Delivers one MO `from` a phone `to` a number on a receiving bind
    /// (waiting up to [`inject::MO_WAIT`] for one) and returns the
    /// deliver_sm_resp status.
    pub async fn inject_mo(&self, from: &str, to: &str, text: &str) -> Result<u32, String> {
        self.injector.mo(from, to, text).await
    }

    /// The counters now.
    pub fn stats(&self) -> CarrierStats {
        self.counters.snapshot()
    }

    /// Closes every open connection at once (no unbind), as a carrier
    /// outage would; new connections are still accepted.
    pub fn drop_connections(&self) {
        self.drops.send_modify(|g| *g += 1);
    }

    /// Stops accepting, closes every connection and waits for the listener.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.drop_connections();
        let _ = self.listener.await;
    }
}

/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

async fn accept_loop(
    listener: TcpListener,
    opts: Arc<CarrierOpts>,
    counters: Arc<Counters>,
    injector: Arc<inject::Injector>,
    drops: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn_id = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conn_id += 1;
                    let _ = stream.set_nodelay(true);
                    let mut drops = drops.clone();
                    drops.mark_unchanged();
                    let (opts, counters, injector) = (opts.clone(), counters.clone(), injector.clone());
                    match opts.tls.clone() {
                        None => {
                            tokio::spawn(conn::serve(stream.into(), opts, counters, injector, drops, conn_id));
                        }
                        // The handshake runs in the connection's task, so a
                        // slow client never holds up the accept loop.
                        Some(config) => {
                            tokio::spawn(async move {
                                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                                let hs = tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(stream)).await;
                                if let Ok(Ok(s)) = hs {
                                    conn::serve(s.into(), opts, counters, injector, drops, conn_id).await;
                                }
                            });
                        }
                    }
                }
                // Out of file descriptors and the like: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}
