//! The load generator: an ESME that opens N transceiver binds, keeps a
//! window of submit_sm in flight on each (optionally at a fixed total
//! rate), acknowledges every deliver_sm (receipts and MOs) and reports
//! throughput, latency percentiles and every non-OK answer by name.

mod conn;
mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) use conn::write_or_flush;
pub use template::{MixKind, MAX_RECIPIENTS};

use crate::sim::hist::Histogram;

/// What to send, where, and for how long.
#[derive(Debug, Clone)]
pub struct LoadOpts {
    /// The SMSC (or optgate) to bind to.
    pub target: SocketAddr,
    /// system_id of every bind.
    pub system_id: String,
    /// password of every bind.
    pub password: String,
    /// Number of transceiver binds.
    pub binds: usize,
    /// Most submits in flight per bind.
    pub window: usize,
    /// Without `rate`: refill a bind's window only once this many slots
    /// are free (or none is in flight); `None`: a quarter of the window.
    pub refill: Option<usize>,
    /// Total submits per second over all binds; 0 = as fast as the window allows.
    pub rate: f64,
    /// Stop after this many submit_sm in total (split evenly over binds).
    pub count: Option<u64>,
    /// Stop sending after this long. With neither count nor duration: 10 s.
    pub duration: Option<Duration>,
    /// Message kinds sent in turn (a multipart message is several submits).
    pub mix: Vec<MixKind>,
    /// Distinct recipient numbers cycled through.
    pub recipients: u64,
    /// source_addr of every submit.
    pub sender: String,
    /// Ask for a delivery receipt on every submit (registered_delivery 1).
    pub registered_delivery: bool,
    /// After sending stops, how long to wait for outstanding responses.
    pub drain: Duration,
    /// Connect and bind deadline.
    pub connect_timeout: Duration,
    /// Connect over TLS with this client configuration; `None`: plain TCP.
    pub tls: Option<crate::tls::ClientTls>,
}

impl Default for LoadOpts {
    fn default() -> LoadOpts {
        LoadOpts {
            target: SocketAddr::from(([127, 0, 0, 1], 2775)),
            system_id: "pbx".to_owned(),
            password: "secret".to_owned(),
            binds: 4,
            window: 100,
            refill: None,
            rate: 0.0,
            count: None,
            duration: None,
            mix: vec![MixKind::Gsm7],
            recipients: 1000,
            sender: "14155550100".to_owned(),
            registered_delivery: false,
            drain: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Transport error while connecting or binding.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A connect or bind did not finish in time.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The peer closed the connection during the bind.
    #[error("connection closed during bind")]
    Closed,
    /// The bind was answered with this status.
    #[error("bind refused: {0}")]
    BindRefused(&'static str),
    /// The message mix could not be encoded.
    #[error("bad message mix: {0}")]
    Mix(#[from] crate::text::split::SplitError),
}

/// The outcome of a run. Invariant on a clean run:
/// `sent == ok + errors_total() + lost` (less `unmatched` oddities).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Binds that were established.
    pub binds: usize,
    /// submit_sm sent.
    pub sent: u64,
    /// submit_sm_resp with ESME_ROK.
    pub ok: u64,
    /// Every other answer (submit_sm_resp or generic_nack), by status name.
    pub errors: BTreeMap<String, u64>,
    /// Responses matching no outstanding request.
    pub unmatched: u64,
    /// Requests still unanswered when the run ended (drain timeout or disconnect).
    pub lost: u64,
    /// Delivery receipts received (and acknowledged).
    pub receipts: u64,
    /// MOs received (and acknowledged).
    pub mos: u64,
    /// Of those, with the text STOP.
    pub mo_stops: u64,
    /// Binds that ended by the peer closing or unbinding, not by us.
    pub disconnects: usize,
    /// From the first send to the last response.
    pub elapsed: Duration,
    /// submit → response latency, nanoseconds.
    pub latency: Histogram,
}

impl Report {
    /// Sum of all non-OK answers.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Answers (OK or not) per second over `elapsed`.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.ok + self.errors_total()) as f64 / secs
        } else {
            0.0
        }
    }

    /// Latency at quantile `q` (0.0–1.0).
    pub fn latency_at(&self, q: f64) -> Duration {
        Duration::from_nanos(self.latency.quantile(q))
    }

    /// One `key=value` line for scripts (latencies in microseconds).
    pub fn summary_line(&self) -> String {
        let us = |q| self.latency.quantile(q) / 1000;
        format!(
            "RESULT sent={} ok={} errors={} lost={} unmatched={} throughput={:.0} \
             p50_us={} p99_us={} p999_us={} receipts={} mos={} mo_stops={} disconnects={}",
            self.sent,
            self.ok,
            self.errors_total(),
            self.lost,
            self.unmatched,
            self.throughput(),
            us(0.5),
            us(0.99),
            us(0.999),
            self.receipts,
            self.mos,
            self.mo_stops,
            self.disconnects
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "binds:       {}", self.binds)?;
        writeln!(
            f,
            "submits:     {} sent, {} ok, {} errors, {} lost",
            self.sent,
            self.ok,
            self.errors_total(),
            self.lost
        )?;
        for (name, n) in &self.errors {
            writeln!(f, "  {name}: {n}")?;
        }
        writeln!(f, "elapsed:     {:.3} s", self.elapsed.as_secs_f64())?;
        writeln!(f, "throughput:  {:.0} submit_sm_resp/s", self.throughput())?;
        writeln!(
            f,
            "latency:     p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
            self.latency_at(0.5),
            self.latency_at(0.99),
            self.latency_at(0.999),
            Duration::from_nanos(self.latency.max())
        )?;
        writeln!(f, "receipts:    {}", self.receipts)?;
        writeln!(f, "MOs:         {} ({} STOP)", self.mos, self.mo_stops)?;
        writeln!(f, "disconnects: {}", self.disconnects)?;
        if self.unmatched > 0 {
            writeln!(f, "unmatched:   {}", self.unmatched)?;
        }
        write!(f, "{}", self.summary_line())
    }
}

/// Runs one load: binds every connection first (failing if any bind
/// fails), then sends on all of them at once until the count or the
/// duration is reached, drains, unbinds, and reports. A connection the
/// peer drops ends that bind early and counts in `disconnects`.
pub async fn run(opts: &LoadOpts) -> Result<Report, LoadError> {
    let binds = opts.binds.max(1);
    let mut bound = Vec::with_capacity(binds);
    let connects = (0..binds).map(|_| {
        conn::connect(
            opts.target,
            opts.tls.as_ref(),
            &opts.system_id,
            &opts.password,
            opts.connect_timeout,
        )
    });
    for b in futures_util::future::join_all(connects).await {
        bound.push(b?);
    }
    let start = Instant::now();
    let duration = match (opts.count, opts.duration) {
        (None, None) => Some(Duration::from_secs(10)),
        (_, d) => d,
    };
    let mut tasks = Vec::with_capacity(binds);
    for (i, b) in bound.into_iter().enumerate() {
        let quota = opts
            .count
            .map(|n| n / binds as u64 + u64::from((i as u64) < n % binds as u64));
        let plan = conn::Plan {
            window: opts.window.max(1),
            refill: opts
                .refill
                .unwrap_or(opts.window / 4)
                .clamp(1, opts.window.max(1)),
            quota,
            rate: opts.rate / binds as f64,
            deadline: duration.map(|d| start + d),
            drain: opts.drain,
            templates: template::Templates::new(
                &opts.mix,
                &opts.sender,
                opts.recipients,
                opts.registered_delivery,
            )?,
        };
        tasks.push(tokio::spawn(conn::drive(b, plan)));
    }
    let mut report = Report {
        binds,
        ..Report::default()
    };
    let mut last = start;
    for t in tasks {
        // A panicked bind task (a bug) counts as a disconnect, not a hang.
        let Ok(r) = t.await else {
            report.disconnects += 1;
            continue;
        };
        merge(&mut report, r, &mut last);
    }
    report.elapsed = last - start;
    Ok(report)
}

fn merge(report: &mut Report, r: conn::BindResult, last: &mut Instant) {
    report.sent += r.sent;
    report.ok += r.ok;
    for (st, n) in r.errors {
        *report
            .errors
            .entry(crate::pdu::status_name(st).to_owned())
            .or_default() += n;
    }
    report.unmatched += r.unmatched;
    report.lost += r.lost;
    report.receipts += r.receipts;
    report.mos += r.mos;
    report.mo_stops += r.mo_stops;
    report.disconnects += usize::from(r.disconnected);
    report.latency.merge(&r.hist);
    if let Some(t) = r.last_resp {
        *last = (*last).max(t);
    }
}
